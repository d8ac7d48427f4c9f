#!/usr/bin/env bash
# Multicore scaling on another x86-64 machine (the 16-core `device` machine here).
#
#   scripts/device_bench.sh pack     # here: static release binary + its .so files → device-carry/
#   scripts/device_bench.sh run OUT  # there, in the repository root: thread sweep 1..16 → OUT/
#
# `pack` builds `pararnn` with the Swift runtime linked statically (AVX2 code unless
# PARARNN_CPU= is set), strips it, copies the non-glibc shared libraries it needs (OpenBLAS,
# LAPACKE, FFTW, gfortran …, found with ldd) and xz-compresses everything into device-carry/
# (listed in .gitignore; about 25 MB). Carry that folder to the other machine, then `run`
# unpacks it and runs `pararnn bench --preset standard --threads 1,2,4,8,16`, writing
# device-16core.json / .md (the tables in README.md's "Measurements" come from such a run).
set -euo pipefail
cd "$(dirname "$0")/.."
case "${1:-}" in
pack)
    cpu="${PARARNN_CPU-haswell}"
    flags=(-c release --static-swift-stdlib --product pararnn --scratch-path .build-static)
    [ -n "$cpu" ] && flags+=(-Xswiftc -target-cpu -Xswiftc "$cpu" -Xswiftc -DPARARNN_FMA)
    swift build "${flags[@]}"
    rm -rf device-carry && mkdir -p device-carry/lib
    cp .build-static/release/pararnn device-carry/pararnn
    strip device-carry/pararnn
    ldd device-carry/pararnn | awk '/=> \// {print $3}' | while read -r lib; do
        case "$(basename "$lib")" in
        libc.so.*|libm.so.*|libpthread.so.*|libdl.so.*|librt.so.*|ld-linux*) ;;
        *) cp -L "$lib" device-carry/lib/ ;;
        esac
    done
    xz -T0 -6 device-carry/pararnn device-carry/lib/*
    du -sh device-carry
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
    sed -n '2,11p' "$0"
    exit 1
    ;;
esac
