#!/usr/bin/env bash
# Offline checks of the deployment files (Dockerfile, Helm chart values, workflows,
# Terraform formatting, observability files). Called by .ci/run; runs anywhere with
# node + npm (tools go to .tools/deploy/, installed once, pinned).
#
#   (a) every chart values file (values.yaml; values-*.yaml merged over it the way Helm does)
#       validates against values.schema.json with ajv-cli (JSON Schema draft-07)
#   (b) every YAML file under deploy/ and .github/ parses (chart templates/ excluded)
#   (c) every GitHub workflow passes @action-validator/cli (schema + expressions)
#   (d) every JSON file under deploy/ parses; the Grafana dashboard queries every service metric
#   (e) env var names in the chart templates and Dockerfile are documented configuration keys
#   (f) terraform fmt -check (only when terraform is on PATH; validate needs providers: CI does it)
#
# What needs GitHub or a cluster (see deploy/README.md): docker build, helm lint/template +
# kubeconform, terraform init/validate, promtool.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
# A prefix of its own, so other npm installs under .tools/ never prune these packages.
TOOLS="${CHECK_DEPLOY_TOOLS:-$ROOT/.tools/deploy}"
OUT="$TOOLS/out"
TOOL_SPECS="ajv-cli@5.0.0 ajv-formats@2.1.1 js-yaml@4.3.2 @action-validator/cli@0.6.0"
SCHEMA="$ROOT/deploy/helm/image-retrieval/values.schema.json"
cd "$ROOT"

command -v node >/dev/null || { echo "check-deploy: node is required" >&2; exit 1; }

# Install the pinned tools once; re-install only when the pins change or a tool is missing.
BIN="$TOOLS/node_modules/.bin"
if [[ "$(cat "$TOOLS/.installed" 2>/dev/null || true)" != "$TOOL_SPECS" \
      || ! -x "$BIN/ajv" || ! -x "$BIN/action-validator" || ! -d "$TOOLS/node_modules/js-yaml" ]]; then
  echo "check-deploy: installing $TOOL_SPECS into ${TOOLS#"$ROOT"/}"
  mkdir -p "$TOOLS"
  # shellcheck disable=SC2086
  npm install --prefix "$TOOLS" --no-audit --no-fund --loglevel=error $TOOL_SPECS >/dev/null
  echo "$TOOL_SPECS" > "$TOOLS/.installed"
fi

failed=0
rm -rf "$OUT"
node "$ROOT/scripts/check-deploy.mjs" "$ROOT" "$TOOLS" "$OUT" || failed=1

echo "Chart values against values.schema.json (ajv, draft-07):"
for json in "$OUT"/values*.json; do
  [[ -e "$json" ]] || { echo "  FAIL  no merged values files"; failed=1; break; }
  name="$(basename "$json" .json)"
  if msg="$("$BIN/ajv" validate --spec=draft7 --strict=false --all-errors --errors=text \
        -c ajv-formats -s "$SCHEMA" -d "$json" 2>&1)"; then
    echo "  ok    $name"
  else
    echo "  FAIL  $name"; echo "$msg" | sed 's/^/          /'; failed=1
  fi
done
# The schema must also reject bad values, or it checks nothing.
bad="$OUT/negative.json"
node -e '
  const v = require(process.argv[1]);
  v.securityContext.readOnlyRootFilesystem = false;
  v.config.vectorStore.provider = "Milvus";
  v.unknownKey = 1;
  require("fs").writeFileSync(process.argv[2], JSON.stringify(v));' "$OUT/values.json" "$bad"
if "$BIN/ajv" validate --spec=draft7 --strict=false -c ajv-formats -s "$SCHEMA" -d "$bad" >/dev/null 2>&1; then
  echo "  FAIL  schema accepted invalid values (writable root fs, unknown provider, unknown key)"; failed=1
else
  echo "  ok    schema rejects invalid values (negative test)"
fi

echo "GitHub workflows (@action-validator/cli):"
while IFS= read -r wf; do
  [[ -n "$wf" ]] || continue
  if msg="$("$BIN/action-validator" "$wf" 2>&1)"; then
    echo "  ok    ${wf#"$ROOT"/}"
  else
    echo "  FAIL  ${wf#"$ROOT"/}"; echo "$msg" | sed 's/^/          /'; failed=1
  fi
done < "$OUT/workflows.txt"

echo "Terraform formatting:"
if command -v terraform >/dev/null 2>&1; then
  if msg="$(terraform fmt -check -recursive -diff deploy/terraform 2>&1)"; then
    echo "  ok    terraform fmt -check -recursive deploy/terraform"
  else
    echo "  FAIL  terraform fmt (run: terraform fmt -recursive deploy/terraform)"; echo "$msg" | sed 's/^/          /'; failed=1
  fi
else
  echo "  skip  terraform not on PATH (CI's lint job runs fmt + validate)"
fi

if (( failed )); then
  echo "check-deploy: FAILED"
  exit 1
fi
echo "check-deploy: all deployment checks OK"
