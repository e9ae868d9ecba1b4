#!/usr/bin/env bash
# kill -9 during a Local store compaction, at random moments, then check the next open: fills a store once
# (ROWS x DIM, half the rows deleted), and per round copies it, runs `Bench compact --phase compact` on the
# copy, kills it with SIGKILL after a random delay, and runs `--phase verify` (every live row with its own
# vector and metadata, no deleted row back, the row count right), printing which state the segment was
# left in (old: the uncompacted size, new: compacted, and whether a .compact file was left behind) and how
# the verifying open filled memory (snapshot: the vector file, renumbered by a committed compaction;
# rebuild: SQLite row by row).
# The delays are spread over how long one unkilled compact phase takes here (measured first), so kills land
# before, during and after the commit. Knobs: ROUNDS (40), ROWS (20000), DIM (768), MAX_DELAY_MS (measured),
# WORK (/tmp/ir-compact-kill).
set -euo pipefail

cd "$(dirname "$0")/.."
ROUNDS="${ROUNDS:-40}"
ROWS="${ROWS:-20000}"
DIM="${DIM:-768}"
WORK="${WORK:-/tmp/ir-compact-kill}"
BENCH=(dotnet "$WORK/bench/Bench.dll")
RESULTS="$WORK/results"

dotnet build bench/Bench -c Release -v quiet -nologo >/dev/null
rm -rf "$WORK" && mkdir -p "$WORK"
# A copy of the build, so a rebuild meanwhile does not change the binary under the rounds.
cp -r bench/Bench/bin/Release/net10.0 "$WORK/bench"
"${BENCH[@]}" compact --phase fill --rows "$ROWS" --dim "$DIM" --dir "$WORK/template" --results "$RESULTS" >/dev/null
old=$(stat -c %s "$WORK/template/vectors/bench.seg")
if [ -z "${MAX_DELAY_MS:-}" ]; then
  rm -rf "$WORK/run" && cp -r "$WORK/template" "$WORK/run"
  started=$(date +%s%N)
  "${BENCH[@]}" compact --phase compact --rows "$ROWS" --dim "$DIM" --dir "$WORK/run" --results "$RESULTS" >/dev/null
  MAX_DELAY_MS=$(( ($(date +%s%N) - started) / 1000000 ))
  echo "one unkilled compact phase: ${MAX_DELAY_MS} ms; kills are spread over it"
fi

declare -A seen=()
for round in $(seq 1 "$ROUNDS"); do
  rm -rf "$WORK/run" && cp -r "$WORK/template" "$WORK/run"
  delay=$((RANDOM % MAX_DELAY_MS))
  "${BENCH[@]}" compact --phase compact --rows "$ROWS" --dim "$DIM" --dir "$WORK/run" --results "$RESULTS" >/dev/null 2>&1 &
  pid=$!
  sleep "$(printf '%d.%03d' $((delay / 1000)) $((delay % 1000)))"
  kill -9 "$pid" 2>/dev/null || true
  wait "$pid" 2>/dev/null || true
  size=$(stat -c %s "$WORK/run/vectors/bench.seg")
  state=$([ "$size" -eq "$old" ] && echo old || echo new)
  [ -e "$WORK/run/vectors/bench.seg.compact" ] && state="$state+compact-file"
  if ! "${BENCH[@]}" compact --phase verify --rows "$ROWS" --dim "$DIM" --dir "$WORK/run" --results "$RESULTS" >"$WORK/verify.log" 2>&1; then
    echo "round $round: killed after ${delay} ms, segment $state: VERIFY FAILED"
    cat "$WORK/verify.log"
    exit 1
  fi
  loaded=$(sed -n 's/.*opened from \(.*\) in [0-9.]* s$/\1/p' "$WORK/verify.log")
  echo "round $round: killed after ${delay} ms, segment $state, verified, opened from $loaded"
  key="$state, opened from ${loaded%%:*}"
  seen[$key]=$((${seen[$key]:-0} + 1))
done

for key in "${!seen[@]}"; do echo "left $key: ${seen[$key]} rounds"; done
echo "all $ROUNDS rounds opened with every committed row"
