#!/usr/bin/env bash
# Issue 21's whole-process lines: a streamed `pararnn solve` of ParaGRU d = 4, m = 2,
# T = 10^7 against the warm kernel of the same method (`pararnn bench`, T = 10^6, × 10).
#
#   scripts/stream_whole_process.sh ./pararnn OUTDIR [THREADS...]     (default threads: 2 16)
#
# Writes OUTDIR/summary.txt: the bench's Newton/rollout times, then per run the CLI's own
# 'time' line and /usr/bin/time's wall, user, sys (s), peak RSS (KiB) and minor faults.
# Runs alternate the default (no fsync) with --sync (fsync before the rename), each
# overwriting its previous output as a user's repeated runs would. About 2 minutes.
# PARARNN_STREAM_STEPS sets T (default 10^7). A binary without --sync (before issue 21's
# whole-process work) prints its usage error on the --sync lines; its default runs fsync.
set -euo pipefail
bin="${1:?usage: scripts/stream_whole_process.sh PARARNN OUTDIR [THREADS...]}"
out="${2:?usage: scripts/stream_whole_process.sh PARARNN OUTDIR [THREADS...]}"
shift 2
if [ $# -gt 0 ]; then threads=("$@"); else threads=(2 16); fi
mkdir -p "$out"
steps="${PARARNN_STREAM_STEPS:-10000000}"
python3 "$(dirname "$0")/make_paragru_input.py" "$out" "$steps" 2
{
    echo "machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2)"
    tlist=$(IFS=,; echo "${threads[*]}")
    "$bin" bench --preset standard --groups newton --newton-case "paragru B=1 d=4 T=1000000" \
        --threads "$tlist" --repetitions 10 2>&1 | grep -E '^newton paragru'
    for rep in 1 2 3; do
        for t in "${threads[@]}"; do
            for method in sequential newton; do
                for sync in "" --sync; do
                    /usr/bin/time -f "| wall %e user %U sys %S rss %M minflt %R" -o "$out/time.txt" \
                        "$bin" solve --model "$out/gru.safetensors" --input "$out/x.npy" --method "$method" \
                        --threads "$t" --output "$out/h-$method.npy" $sync > "$out/run.txt" 2>&1 || true
                    echo "rep $rep t $t $method ${sync:-default}: $(grep -E '^time ' "$out/run.txt" | sed 's/^time *//') $(cat "$out/time.txt")"
                done
            done
        done
    done
} | tee "$out/summary.txt"
rm -f "$out"/h-*.npy "$out/x.npy"
