#!/usr/bin/env bash
# The service at the model's speed, in one run (issue 11's table): builds the bench and the Host
# (Release), runs the PyTorch eager anchor, then `Bench service`: per precision (fp32, int8) raw ONNX
# Runtime on the same graph and threads, the real Host over HTTP (4 ingest clients on camera-sized
# JPEGs, then lone searches), raw again; then the mixed load (3 ingesting + 3 searching, vit-tiny).
# Results: bench/results/service/latest.md and latest.jsonl (truncated first).
#
# Needs the bench models:  /usr/bin/python3 scripts/models/export_bench_models.py bench/models
#                          /usr/bin/python3 scripts/models/quantize_dynamic.py bench/models/vit-b16
# The PyTorch anchor runs on Debian's torch, which calls whatever libblas.so.3 points to: install
# libopenblas0-pthread first (with the reference BLAS it is ~20x slower and the anchor ratio means nothing).
# Knobs: BENCH_ARTIFACTS (/tmp/art-bench), BENCH_THREADS (2), BENCH_SECONDS (30 s of measured ingest),
#        BENCH_WARMUP (10 s), BENCH_SEARCHES (40 lone searches), BENCH_RESULTS (bench/results/service),
#        BENCH_SKIP_ANCHOR=1, BENCH_ANCHOR_DIR (/tmp/anchor), BENCH_SET ("Key=Value;..." extra Host settings).
# A smoke run that only checks the plumbing (figures meaningless):
#   BENCH_SECONDS=3 BENCH_WARMUP=1 BENCH_SEARCHES=5 BENCH_SKIP_ANCHOR=1 BENCH_RESULTS=/tmp/bench-smoke scripts/bench-service.sh
set -euo pipefail

cd "$(dirname "$0")/.."
ARTIFACTS="${BENCH_ARTIFACTS:-/tmp/art-bench}"
THREADS="${BENCH_THREADS:-2}"
SECONDS_PER="${BENCH_SECONDS:-30}"
ANCHOR_DIR="${BENCH_ANCHOR_DIR:-/tmp/anchor}"
ANCHOR=../shared/anchors/torch_vit_anchor.py
WARMUP="${BENCH_WARMUP:-10}"
SEARCHES="${BENCH_SEARCHES:-40}"
RESULTS="${BENCH_RESULTS:-bench/results/service}"
BENCH="$ARTIFACTS/bin/Bench/release/Bench"

for f in bench/models/vit-b16/model.onnx bench/models/vit-b16/onnx/model_quantized.onnx; do
  [ -f "$f" ] || { echo "$f is missing; see the header of $0" >&2; exit 1; }
done

echo "== build (Release, artifacts $ARTIFACTS; the bench references the Host)"
dotnet build bench/Bench --artifacts-path "$ARTIFACTS" -c Release -nologo -v q

mkdir -p "$RESULTS"
: > "$RESULTS/latest.jsonl"
{
  echo "# The service end to end beside the model alone (one run)"
  echo
  echo "- command: \`scripts/bench-service.sh\` (BENCH_THREADS=$THREADS BENCH_SECONDS=$SECONDS_PER BENCH_WARMUP=$WARMUP BENCH_SEARCHES=$SEARCHES${BENCH_SET:+ BENCH_SET=\"$BENCH_SET\"})"
  echo "- date: $(date -u '+%Y-%m-%d %H:%M:%S') UTC; commit $(git rev-parse --short HEAD)$(git diff --quiet HEAD -- src bench 2>/dev/null || echo ' (uncommitted changes)')"
  echo "- CPU: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | xargs) (family $(grep -m1 'cpu family' /proc/cpuinfo | cut -d: -f2 | xargs)), $(nproc) logical cores"
  echo "- load average at the start: $(cut -d' ' -f1-3 /proc/loadavg) (above ~2.5 other tenants share the cores: the ratios still compare like with like, the absolute figures do not)"
  echo
} > "$RESULTS/latest.md"

ANCHOR_TXT="$RESULTS/anchor.txt"
if [ -z "${BENCH_SKIP_ANCHOR:-}" ]; then
  echo "== PyTorch eager anchor ($ANCHOR, $THREADS threads)"
  /usr/bin/python3 "$ANCHOR" "$ANCHOR_DIR" "$THREADS" | tee "$ANCHOR_TXT"
  { echo "## PyTorch eager anchor"; echo; echo '```'; cat "$ANCHOR_TXT"; echo '```'; echo; } >> "$RESULTS/latest.md"
else
  : > "$ANCHOR_TXT"
fi

echo "== service"
"$BENCH" service --model bench/models/vit-b16 --precision fp32,int8 --threads "$THREADS" --clients 4 --files 2 \
  --seconds "$SECONDS_PER" --warmup "$WARMUP" --searches "$SEARCHES" --mixed-model tests/fixtures/models/vit-tiny --mixed-seconds "$SECONDS_PER" \
  --anchor "$ANCHOR_TXT" ${BENCH_SET:+--set "$BENCH_SET"} --results "$RESULTS"
echo "== preprocess (camera-sized JPEGs, exact vs shrink-on-load)"
"$BENCH" preprocess --camera 1 --shrink 0,1,0,1 --seconds 4 --results "$RESULTS"
echo "load average at the end: $(cut -d' ' -f1-3 /proc/loadavg)" >> "$RESULTS/latest.md"
echo "== done: $RESULTS/latest.md"
