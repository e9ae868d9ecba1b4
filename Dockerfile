# syntax=docker/dockerfile:1
#
# Image for the reverse image search service (ImageRetrieval.Host).
#
#   docker build -t image-retrieval .
#   docker build --build-arg MODEL_ID=onnx-community/dinov2-small -t image-retrieval:dinov2 .
#   docker build --build-arg MODEL_ID=org/private-model --secret id=hf_token,env=HF_TOKEN -t image-retrieval .
#
#   docker run --read-only --tmpfs /tmp -p 8080:8080 \
#     -v ir-data:/data -v ir-models:/models image-retrieval
#
# The runtime stage needs glibc (NetVips native libraries, ONNX Runtime): the plain
# aspnet image works, and so does the "-noble-chiseled-extra" variant (no shell, so no
# RUN instruction is used in the final stage). Pick with --build-arg RUNTIME_IMAGE=...

ARG SDK_IMAGE=mcr.microsoft.com/dotnet/sdk:10.0
ARG RUNTIME_IMAGE=mcr.microsoft.com/dotnet/aspnet:10.0

# ---------------------------------------------------------------------------
# Only the files that decide the restore: props, global.json, nuget.config, *.csproj.
# This stage re-runs on every source change, but its output only changes when one of
# those files does, so the restore layer below stays cached.
FROM ${SDK_IMAGE} AS restore-inputs
WORKDIR /src
COPY . .
RUN mkdir /restore \
    && find . -type f \( -name '*.csproj' -o -name 'Directory.*.props' -o -name 'Directory.*.targets' \
         -o -name 'global.json' -o -iname 'nuget.config' \) \
         -not -path './.tools/*' -not -path '*/bin/*' -not -path '*/obj/*' \
         -exec cp --parents {} /restore/ \;

# ---------------------------------------------------------------------------
FROM ${SDK_IMAGE} AS build
ARG CONFIGURATION=Release
ARG RID=linux-x64
WORKDIR /src
ENV DOTNET_CLI_TELEMETRY_OPTOUT=1 \
    DOTNET_NOLOGO=1
COPY --from=restore-inputs /restore/ ./
RUN --mount=type=cache,id=nuget,target=/root/.nuget/packages \
    dotnet restore src/Host/ImageRetrieval.Host/ImageRetrieval.Host.csproj -r ${RID}
COPY . .
RUN --mount=type=cache,id=nuget,target=/root/.nuget/packages \
    dotnet publish src/Host/ImageRetrieval.Host/ImageRetrieval.Host.csproj \
      -c ${CONFIGURATION} -r ${RID} --self-contained false --no-restore \
      -p:UseAppHost=false -o /app \
    && mkdir -p /volumes/data /volumes/models

# ---------------------------------------------------------------------------
# Optional: pre-pull the model into /models at build time (MODEL_ID empty = skip).
# A private model's token is passed as a build secret, never as a build arg.
FROM build AS model
ARG MODEL_ID=""
ARG MODEL_REVISION=main
ARG HF_ENDPOINT=""
RUN --mount=type=secret,id=hf_token,required=false \
    if [ -n "${MODEL_ID}" ]; then \
      if [ -f /run/secrets/hf_token ]; then export HF_TOKEN="$(cat /run/secrets/hf_token)"; fi; \
      if [ -n "${HF_ENDPOINT}" ]; then export HF_ENDPOINT; fi; \
      ImageRetrieval__DataPath=/tmp/model-build-data \
      ImageRetrieval__Embedding__Model="${MODEL_ID}" \
      ImageRetrieval__Embedding__Revision="${MODEL_REVISION}" \
      ImageRetrieval__Embedding__CacheDirectory=/volumes/models \
      dotnet /app/ImageRetrieval.Host.dll download-model; \
    else \
      echo "MODEL_ID not set: the model is downloaded at run time (init container or first start)"; \
    fi

# ---------------------------------------------------------------------------
FROM ${RUNTIME_IMAGE} AS runtime
ARG MODEL_ID=""
ARG MODEL_REVISION=main
LABEL org.opencontainers.image.title="image-retrieval" \
      org.opencontainers.image.description="Reverse image search service (ASP.NET Core, ONNX Runtime)" \
      org.opencontainers.image.licenses="MIT"

# 1654 is the UID/GID of the "app" user that the .NET 8+ images define ($APP_UID).
WORKDIR /app
COPY --from=build --chown=1654:1654 /volumes/data /data
COPY --from=model --chown=1654:1654 /volumes/models /models
COPY --from=build --chown=0:0 /app /app

ENV ASPNETCORE_URLS=http://+:8080 \
    DOTNET_RUNNING_IN_CONTAINER=true \
    DOTNET_CLI_TELEMETRY_OPTOUT=1 \
    TMPDIR=/tmp \
    ImageRetrieval__DataPath=/data \
    ImageRetrieval__Embedding__CacheDirectory=/models \
    ImageRetrieval__Embedding__Model=${MODEL_ID:-onnx-community/dinov2-small} \
    ImageRetrieval__Embedding__Revision=${MODEL_REVISION:-main} \
    ImageRetrieval__Logging__Format=ecs \
    OTEL_SERVICE_NAME=image-retrieval

# Writable paths when the root filesystem is read-only: /data, /models (volumes) and /tmp
# (the base image's world-writable /tmp; mount a tmpfs/emptyDir there with --read-only).
VOLUME ["/data", "/models"]
EXPOSE 8080
USER 1654:1654

# No HEALTHCHECK: the runtime image has no curl/wget; Kubernetes probes call
# /healthz/live and /healthz/ready. CLI verbs: download-model, ingest DIR, reindex, reconcile.
ENTRYPOINT ["dotnet", "/app/ImageRetrieval.Host.dll"]
