#!/usr/bin/env bash
# Multicore scaling on another x86-64 machine (the 16-core `device` machine here).
#
#   scripts/device_bench.sh pack     # here: static release binary + its .so files → device-carry/
#   scripts/device_bench.sh run OUT  # there, in the repository root: thread sweep 1..16 → OUT/
#   scripts/device_bench.sh run-newton OUT  # there: the newton group 1..16 threads with per-phase,
#                                         # per-worker timings and Float16 Jacobians → OUT/
#   scripts/device_bench.sh pack-mpi # here: pack, plus Open MPI (mpirun, orted, libs, plugins)
#   scripts/device_bench.sh run-mpi OUT  # there: ParaGRU d=4 T=10^7, 1×16 vs 4×4 vs 16×1 ranks×threads
#   scripts/device_bench.sh local-mpi OUT  # here: the same case, 1 × R threads vs R ranks × 1 thread
#
# `pack` builds `pararnn` with the Swift runtime linked statically (AVX2 code unless
# PARARNN_CPU= is set), strips it, copies the non-glibc shared libraries it needs (OpenBLAS,
# LAPACKE, FFTW, gfortran …, found with ldd) and xz-compresses everything into device-carry/
# (listed in .gitignore; about 25 MB). Carry that folder to the other machine, then `run`
# unpacks it and runs `pararnn bench --preset standard --threads 1,2,4,8,16`, writing
# device-16core.json / .md (the tables in README.md's "Measurements" come from such a run).
set -euo pipefail
cd "$(dirname "$0")/.."
root="$PWD"

# The run-mpi case: a ParaGRU d = 4, m = 1 model (OUT/gru.safetensors) and a Float input of
# STEPS steps (OUT/x.npy), made with the Python standard library only.
make_gru_input() {
    python3 "$root/scripts/make_paragru_input.py" "$1" "$2" 1
}

# The largest |Δ| between the first float32 .npy and each other one.
max_difference() {
    python3 - "$@" <<'PY'
import array, os, struct, sys
def load(path):
    raw = open(path, "rb").read()
    n = struct.unpack("<H", raw[8:10])[0]
    return array.array("f", raw[10 + n:])
first = load(sys.argv[1])
for other in sys.argv[2:]:
    b = load(other)
    print("max |%s - %s| = %.3g over %d values" % (os.path.basename(sys.argv[1]), os.path.basename(other),
          max(abs(x - y) for x, y in zip(first, b)), len(b)))
PY
}

case "${1:-}" in
pack)
    cpu="${PARARNN_CPU-haswell}"
    flags=(-c release --static-swift-stdlib --product pararnn --scratch-path .build-static)
    [ -n "$cpu" ] && flags+=(-Xswiftc -target-cpu -Xswiftc "$cpu" -Xswiftc -DPARARNN_FMA)
    swift build "${flags[@]}"
    rm -rf device-carry && mkdir -p device-carry/lib
    cp .build-static/release/pararnn device-carry/pararnn
    strip device-carry/pararnn
    # OpenBLAS and LAPACKE are opened with dlopen (not in ldd's list): carry them and what they need.
    blas=$(ldconfig -p | awk '/libopenblas.so.0 .*x86-64/ {print $NF; exit}')
    lapacke=$(ldconfig -p | awk '/liblapacke.so.3 .*x86-64/ {print $NF; exit}')
    { ldd device-carry/pararnn; echo "x => $blas"; echo "x => $lapacke"; ldd "$blas" "$lapacke"; } |
        awk '/=> \// {print $3}' | sort -u | while read -r lib; do
        case "$(basename "$lib")" in
        libc.so.*|libm.so.*|libpthread.so.*|libdl.so.*|librt.so.*|ld-linux*) ;;
        *) cp -L "$lib" device-carry/lib/ ;;
        esac
    done
    xz -T0 -6 device-carry/pararnn device-carry/lib/*
    du -sh device-carry
    ;;
pack-mpi)
    # Open MPI relocated under device-carry/mpi (OPAL_PREFIX): mpirun/orterun/orted, every
    # shared library they, libmpi and the MCA components need (glibc excepted), the components
    # (lib/…/openmpi3), the help texts (share/openmpi), and PMIx with its plugins (pmix2/,
    # PMIX_PREFIX). pararnn itself does not link libmpi: it opens it with dlopen when
    # --distributed is given, found through LD_LIBRARY_PATH.
    "$0" pack
    m=device-carry/mpi
    ompi=/usr/lib/x86_64-linux-gnu/openmpi/lib
    libdir=$m/lib/x86_64-linux-gnu/openmpi/lib
    mkdir -p $m/bin "$libdir/openmpi3" $m/share
    cp -L /usr/bin/orterun $m/bin/orterun
    cp -L /usr/bin/orterun $m/bin/mpirun
    cp -L /usr/bin/orted $m/bin/orted
    cp -L $ompi/openmpi3/*.so "$libdir/openmpi3/"
    cp -rL /usr/share/openmpi $m/share/openmpi
    cp -rL /usr/lib/x86_64-linux-gnu/pmix2 $m/pmix2
    rm -rf $m/pmix2/include $m/pmix2/lib/libpmix.a
    cp -L /usr/lib/x86_64-linux-gnu/libmpi.so.40 "$libdir/"
    for f in /usr/bin/orterun /usr/bin/orted "$libdir/libmpi.so.40" $ompi/openmpi3/*.so $m/pmix2/lib/pmix/*.so; do
        ldd "$f" | awk '/=> \// {print $3}'
    done | sort -u | while read -r lib; do
        case "$(basename "$lib")" in
        libc.so.*|libm.so.*|libpthread.so.*|libdl.so.*|librt.so.*|ld-linux*) ;;
        *) cp -L "$lib" "$libdir/" ;;
        esac
    done
    tar -C device-carry -cJf device-carry/mpi.tar.xz mpi && rm -rf $m
    du -sh device-carry
    ;;
run-mpi)
    # ParaGRU B=1 d=4 m=1 T=10^7 (float32): one process × 16 threads (streamed in cache-sized
    # segments, the default, and in one segment), 4 ranks × 4 threads (and without huge pages,
    # PARARNN_HUGE_PAGES=0), 16 ranks × 1
    # thread; PARARNN_MPI_REPS (5) runs each, 3 of the
    # in-memory ones (summary.txt: every "solve"/"time" line, the ranks' phases, each command's
    # wall and CPU time), and the outputs compared.
    out="${2:?usage: scripts/device_bench.sh run-mpi OUTDIR}"
    steps="${PARARNN_MPI_STEPS:-10000000}"
    mkdir -p "$out"
    out="$(cd "$out" && pwd)"
    cd device-carry
    [ -f pararnn.xz ] && xz -d -f pararnn.xz lib/*.xz
    chmod +x pararnn
    [ -d mpi ] || tar -xJf mpi.tar.xz
    export OPAL_PREFIX="$PWD/mpi" PMIX_PREFIX="$PWD/mpi/pmix2"
    export PMIX_MCA_mca_base_component_path="$PWD/mpi/pmix2/lib/pmix"
    export PATH="$PWD/mpi/bin:$PATH"
    export LD_LIBRARY_PATH="$PWD/lib:$PWD/mpi/lib/x86_64-linux-gnu/openmpi/lib"
    export OMPI_MCA_pml=ob1 OMPI_MCA_btl=self,vader OMPI_MCA_osc=pt2pt
    export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 OPENBLAS_NUM_THREADS=1
    make_gru_input "$out" "$steps"
    nproc > "$out/machine.txt"
    grep -m1 "model name" /proc/cpuinfo >> "$out/machine.txt" || true
    echo "THP $(cat /sys/kernel/mm/transparent_hugepage/enabled 2>/dev/null), defrag $(cat /sys/kernel/mm/transparent_hugepage/defrag 2>/dev/null)" >> "$out/machine.txt"
    common=(solve --model "$out/gru.safetensors" --input "$out/x.npy" --method newton)
    # Each run's output, then the wall time of the whole command (for mpirun: its launch and
    # teardown too), user and sys CPU of it and its children (bash's `time`).
    TIMEFORMAT='command wall %3R s, user %3U s, sys %3S s'
    timed() {
        local name=$1
        shift
        { time "$@" > "$out/$name.txt" 2>&1; } 2>> "$out/$name.txt" || echo "exit $?" >> "$out/$name.txt"
    }
    reps="${PARARNN_MPI_REPS:-5}"
    for rep in $(seq 1 "$reps"); do
        timed "1x16.$rep" ./pararnn "${common[@]}" --threads 16 --output "$out/h_1x16.npy"
        timed "4x4.$rep" mpirun -np 4 --bind-to none ./pararnn "${common[@]}" --distributed --threads 4 \
            --output "$out/h_4x4.npy"
        timed "4x4-no-huge-pages.$rep" mpirun -np 4 --bind-to none -x PARARNN_HUGE_PAGES=0 ./pararnn \
            "${common[@]}" --distributed --threads 4 --output "$out/h_4x4n.npy"
        timed "16x1.$rep" mpirun -np 16 --bind-to "${PARARNN_MPI_BIND16:-core}" ./pararnn "${common[@]}" \
            --distributed --threads 1 --output "$out/h_16x1.npy"
        # Newton iterations over each rank's whole slice (fused passes, two collectives per
        # iteration), and one process in one segment, in the first 3 rounds only.
        if [ "$rep" -le 3 ]; then
            timed "1x16-in-memory.$rep" ./pararnn "${common[@]}" --threads 16 --in-memory --output "$out/h_1x16m.npy"
            timed "4x4-in-memory.$rep" mpirun -np 4 --bind-to none ./pararnn "${common[@]}" --distributed \
                --threads 4 --in-memory --output "$out/h_4x4m.npy"
        fi
    done
    for f in "$out"/*.*.txt; do
        echo "$(basename "$f"): $(grep -E '^(time|solve|command|exit) ' "$f" | tr '\n' ' ')"
        grep -E '^(phases|  across)' "$f" | sed 's/^/    /' || true
    done > "$out/summary.txt"
    # The certified solutions differ by rounding and the tolerance's slack only.
    max_difference "$out/h_1x16.npy" "$out/h_4x4.npy" "$out/h_4x4n.npy" "$out/h_4x4m.npy" \
        "$out/h_16x1.npy" \
        >> "$out/summary.txt"
    cat "$out/summary.txt"
    ;;
local-mpi)
    # This machine (the 2-core VM), the release build and the system mpirun: the run-mpi case
    # with T = PARARNN_MPI_STEPS (default 10^6); one process × R threads (streamed, the default,
    # and --in-memory) against R = PARARNN_MPI_RANKS (default 2) ranks × 1 thread, alternating,
    # PARARNN_MPI_REPS (5) runs each, the load
    # average before each run, each command's wall and CPU time, the ranks' phases, and the
    # largest |Δh| between the outputs.
    out="${2:?usage: scripts/device_bench.sh local-mpi OUTDIR}"
    steps="${PARARNN_MPI_STEPS:-1000000}"
    ranks="${PARARNN_MPI_RANKS:-2}"
    bin="${PARARNN_BIN:-.build/x86_64-unknown-linux-gnu/release/pararnn}"
    [[ "$bin" == /* ]] || bin="$PWD/$bin"
    mkdir -p "$out"
    out="$(cd "$out" && pwd)"
    make_gru_input "$out" "$steps"
    export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 OPENBLAS_NUM_THREADS=1
    common=(solve --model "$out/gru.safetensors" --input "$out/x.npy" --method newton)
    one="1x$ranks" many="${ranks}x1"
    TIMEFORMAT='command wall %3R s, user %3U s, sys %3S s'
    : > "$out/summary.txt"
    for rep in $(seq 1 "${PARARNN_MPI_REPS:-5}"); do
        for config in "$one" "$one-in-memory" "$many"; do
            echo "$config.$rep: $(uptime | sed 's/.*load/load/')" >> "$out/summary.txt"
            {
                time case "$config" in
                "$one") "$bin" "${common[@]}" --threads "$ranks" --output "$out/h_$one.npy" ;;
                "$one-in-memory") "$bin" "${common[@]}" --threads "$ranks" --in-memory --output "$out/h_$one-in-memory.npy" ;;
                *) mpirun --oversubscribe --mca pml ob1 --mca btl self,vader -np "$ranks" "$bin" "${common[@]}" --distributed \
                    --threads 1 --output "$out/h_$many.npy" ;;
                esac > "$out/$config.$rep.txt" 2>&1
            } 2>> "$out/$config.$rep.txt"
            echo "    $(grep -E '^(time|solve|command) |iteration' "$out/$config.$rep.txt" | tr '\n' ' ')" >> "$out/summary.txt"
            grep -E '^phases' "$out/$config.$rep.txt" | sed 's/^/    /' >> "$out/summary.txt" || true
        done
    done
    max_difference "$out/h_$one.npy" "$out/h_$one-in-memory.npy" "$out/h_$many.npy" \
        >> "$out/summary.txt"
    cat "$out/summary.txt"
    ;;
run-newton)
    # Where Newton's scaling is lost: every fused pass timed phase by phase in each worker
    # (project/solve/linearise/reduce/check, first-pass wall, carry, busy per worker, B/step/pass,
    # GB/s), and the solve with Float16 Jacobians beside it. The phase lines go to newton-phases.txt.
    out="${2:?usage: scripts/device_bench.sh run-newton OUTDIR}"
    mkdir -p "$out"
    out="$(cd "$out" && pwd)"
    cd device-carry
    [ -f pararnn.xz ] && xz -d -f pararnn.xz lib/*.xz
    chmod +x pararnn
    export LD_LIBRARY_PATH="$PWD/lib"
    ./pararnn bench --preset standard --groups newton --threads 1,2,4,8,16 --repetitions 3 --phases \
        --f16-jacobians --json "$out/newton-phases.json" --markdown "$out/newton-phases.md" 2> "$out/newton-phases.txt"
    cat "$out/newton-phases.txt"
    ;;
run)
    out="${2:?usage: scripts/device_bench.sh run OUTDIR}"
    mkdir -p "$out"
    cd device-carry
    xz -d -f pararnn.xz lib/*.xz
    chmod +x pararnn
    export LD_LIBRARY_PATH="$PWD/lib"
    nproc > "$out/machine.txt"
    grep -m1 "model name" /proc/cpuinfo >> "$out/machine.txt" || true
    ./pararnn bench --preset standard --threads 1,2,4,8,16 --repetitions 3 \
        --json "$out/device-16core.json" --markdown "$out/device-16core.md"
    ;;
*)
    sed -n '2,15p' "$0"
    exit 1
    ;;
esac
