#!/usr/bin/env bash
# Builds the benchmark harness (Release) and runs, in one session so ratios are honest:
#   1. the old system's PyTorch eager anchor (../shared/anchors/torch_vit_anchor.py),
#   2. the C# benches: preprocess, embed (vit-s16, vit-b16, and the anchor's own ONNX export), e2e, search,
#   3. the ratio ONNX Runtime / PyTorch per model and batch, appended to bench/results/latest.md.
# Results: bench/results/latest.jsonl (one JSON object per measured row) and bench/results/latest.md.
#
# Environment knobs:
#   BENCH_ARTIFACTS=/tmp/art-bench   dotnet --artifacts-path
#   BENCH_SECONDS=8                  time budget per embed setting (warm-up BENCH_WARMUP=2 s before each)
#   BENCH_SKIP_BIG=1                 skip the 1,000,000 x 384 search (fill takes minutes)
#   BENCH_SKIP_ANCHOR=1              skip PyTorch (no ratios then)
#   BENCH_ANCHOR_DIR=/tmp/anchor     where the anchor writes its ONNX exports
#   BENCH_THREADS=2                  PyTorch threads and ONNX Runtime intra-op threads
set -euo pipefail

cd "$(dirname "$0")/.."
ARTIFACTS="${BENCH_ARTIFACTS:-/tmp/art-bench}"
SECONDS_PER="${BENCH_SECONDS:-8}"
WARMUP="${BENCH_WARMUP:-2}"
THREADS="${BENCH_THREADS:-2}"
ANCHOR_DIR="${BENCH_ANCHOR_DIR:-/tmp/anchor}"
ANCHOR=../shared/anchors/torch_vit_anchor.py
PY=/usr/bin/python3
RESULTS=bench/results
MD="$RESULTS/latest.md"
JSONL="$RESULTS/latest.jsonl"
BENCH="$ARTIFACTS/bin/Bench/release/Bench"

for m in vit-s16 vit-b16; do
  if [ ! -f "bench/models/$m/model.onnx" ]; then
    echo "bench/models/$m is missing: $PY scripts/models/export_bench_models.py bench/models" >&2
    exit 1
  fi
done

activity() {
  # The machine is shared: record who else was using the CPU (command names only).
  echo '```'
  echo "load average: $(cut -d' ' -f1-3 /proc/loadavg)"
  ps -eo pcpu=,comm= --sort=-pcpu | awk '$1 > 5 && $2 != "ps" {printf "%5s%%  %s\n", $1, $2}' | head -8
  echo '```'
}

echo "== build (Release, artifacts $ARTIFACTS)"
dotnet build bench/Bench --artifacts-path "$ARTIFACTS" -c Release -nologo -v q

mkdir -p "$RESULTS"
: > "$JSONL"
{
  echo "# Benchmark results"
  echo
  echo "- command: \`scripts/bench.sh\` (BENCH_SECONDS=$SECONDS_PER BENCH_WARMUP=$WARMUP BENCH_THREADS=$THREADS${BENCH_SKIP_BIG:+ BENCH_SKIP_BIG=1})"
  echo "- date: $(date -u '+%Y-%m-%d %H:%M:%S') UTC"
  echo "- CPU: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | xargs) (family $(grep -m1 'cpu family' /proc/cpuinfo | cut -d: -f2 | xargs), model $(grep -m1 -E '^model\s' /proc/cpuinfo | cut -d: -f2 | xargs)), $(nproc) logical cores, $(free -g | awk '/Mem:/ {print $2}') GiB RAM"
  echo "- commit: $(git rev-parse --short HEAD 2>/dev/null || echo n/a)$(git diff --quiet HEAD -- src 2>/dev/null || echo ' (src has uncommitted changes)')"
  echo "- .NET $(dotnet --version), ONNX Runtime $(grep -o 'Microsoft.ML.OnnxRuntime" Version="[^"]*' Directory.Packages.props | cut -d'"' -f3)"
  echo
  echo "Other processes at the start (the machine is shared; figures are noisy):"
  echo
  activity
  echo
} > "$MD"

ANCHOR_TXT="$RESULTS/anchor.tmp"
: > "$ANCHOR_TXT"
if [ -z "${BENCH_SKIP_ANCHOR:-}" ]; then
  echo "== PyTorch eager anchor ($ANCHOR, $THREADS threads)"
  LOAD_BEFORE="$(cut -d' ' -f1-3 /proc/loadavg)"
  "$PY" "$ANCHOR" "$ANCHOR_DIR" "$THREADS" | tee "$ANCHOR_TXT"
  {
    echo "## PyTorch eager anchor"
    echo
    echo "- command: \`$PY $ANCHOR $ANCHOR_DIR $THREADS\` (torchvision ViT, CLS output, 1 warm-up run, then 8 s per setting)"
    echo "- load average before / after: $LOAD_BEFORE / $(cut -d' ' -f1-3 /proc/loadavg)"
    echo
    echo '```'
    cat "$ANCHOR_TXT"
    echo '```'
    echo
  } >> "$MD"
fi

echo "== preprocess"
"$BENCH" preprocess --seconds 3
echo "== embed"
"$BENCH" embed --model bench/models/vit-s16 --batch 1,4,8 --threads "$THREADS" --seconds "$SECONDS_PER" --warmup "$WARMUP"
"$BENCH" embed --model bench/models/vit-b16 --batch 1,4,8 --threads "$THREADS" --seconds "$SECONDS_PER" --warmup "$WARMUP"
if [ -f "$ANCHOR_DIR/vit_b16.onnx" ] && [ -f "$ANCHOR_DIR/vit_s16.onnx" ]; then
  # The anchor's own export: the identical graph PyTorch ran, through the same C# path.
  "$BENCH" embed --model "$ANCHOR_DIR/vit_s16.onnx,$ANCHOR_DIR/vit_b16.onnx" --batch 1,8 --threads "$THREADS" --seconds "$SECONDS_PER" --warmup "$WARMUP"
fi
echo "== e2e"
"$BENCH" e2e --model bench/models/vit-b16 --batch 8 --threads "$THREADS" --seconds "$SECONDS_PER" --warmup "$WARMUP"
echo "== ratios"
"$PY" - "$ANCHOR_TXT" "$JSONL" >> "$MD" <<'PY'
import json, re, sys
anchor_txt, jsonl = sys.argv[1], sys.argv[2]
torch = {}
for line in open(anchor_txt):
    m = re.match(r"torch-eager (\w+) batch=(\d+) threads=\d+: ([\d.]+) img/s", line)
    if m:
        torch[(m.group(1), int(m.group(2)))] = float(m.group(3))
rows = [json.loads(l) for l in open(jsonl) if l.strip()]
embed = {(r["model"], r["batch"]): r["images_per_s"] for r in rows if r["bench"] == "embed"}
cpu = {(r["model"], r["batch"]): r.get("cpu_of_threads") for r in rows if r["bench"] == "embed"}
e2e = {(r["model"], r["batch"]): r["images_per_s"] for r in rows if r["bench"] == "e2e"}
print("## ONNX Runtime / PyTorch eager (same run, same machine)")
print()
if not torch:
    print("PyTorch anchor not run: no ratios.")
    sys.exit(0)
print("| model | batch | PyTorch eager img/s | ORT img/s (bench/models HF export) | ratio | ORT img/s (anchor's own ONNX) | ratio | e2e img/s (decode+preprocess+ORT) | e2e ratio | ORT CPU share |")
print("| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |")
fmt = lambda v: "n/a" if v is None else f"{v:.2f}"
ratio = lambda a, b: "n/a" if a is None or not b else f"{a / b:.2f}x"
for (name, batch), t in sorted(torch.items()):
    hf = embed.get((name.replace("_", "-"), batch))
    own = embed.get((name, batch))
    ee = e2e.get((name.replace("_", "-"), batch))
    c = cpu.get((name.replace("_", "-"), batch))
    share = "n/a" if c is None else f"{c:.0%}"
    print(f"| {name} | {batch} | {t:.2f} | {fmt(hf)} | {ratio(hf, t)} | {fmt(own)} | {ratio(own, t)} | {fmt(ee)} | {ratio(ee, t)} | {share} |")
print()
print("- PyTorch: torchvision ViT eager, `torch.inference_mode`, OpenBLAS, 2 threads, pre-made random tensors (no preprocessing).")
print("- ORT: C# `LoadedModel.RunBatch`, fp32, 2 intra-op threads, pre-made tensors; the HF export returns last_hidden_state [batch,197,dim] (CLS taken in C#), the anchor's export returns the CLS vector. Same FLOPs.")
print("- ORT CPU share: the bench process's CPU time / (wall x intra-op threads) for the HF-export row; well below 100% means other processes held the cores during that setting. PyTorch's share is not measured.")
print("- e2e includes libvips decode and Pillow-exact resize on one thread before each batch, which PyTorch's figure does not; its ratio understates the inference speed-up.")
print()
PY
echo "== search"
"$BENCH" search --rows 100000 --dim 768
if [ -z "${BENCH_SKIP_BIG:-}" ]; then
  "$BENCH" search --rows 1000000 --dim 384
fi

{
  echo
  echo "Other processes at the end:"
  echo
  activity
} >> "$MD"
rm -f "$ANCHOR_TXT"
echo "== done: $MD, $JSONL"
