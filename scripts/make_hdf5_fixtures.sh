#!/bin/sh
# Writes the HDF5 test fixtures with HDF5's own command-line tool h5import (Debian hdf5-tools),
# independently of pararnn's writer: Tests/SequenceIOTests/Fixtures/hdf5/tools.h5 holding
#   /x                  float64 [6, 3]     contiguous, little-endian
#   /group/counts       int16   [6, 3]     big-endian (converted by the library)
#   /group/deep/batch   float32 [2, 4, 3]  chunked (1, 2, 3) and gzip-compressed
#   /group/bytes        uint8   [6, 3]
# The values are x[t, i] = (t * 3 + i) / 4 - 2 (float), t * 3 + i - 9 (int16), t * 3 + i (uint8),
# batch[b, t, i] = b * 100 + t * 3 + i - 0.5; the tests check them exactly.
# Usage: sh scripts/make_hdf5_fixtures.sh   (from the repository root; needs h5import)
set -eu
out=Tests/SequenceIOTests/Fixtures/hdf5
mkdir -p "$out"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
awk 'BEGIN { for (t = 0; t < 6; t++) { for (i = 0; i < 3; i++) printf "%.17g ", (t * 3 + i) / 4 - 2; print "" } }' > "$tmp/x.txt"
awk 'BEGIN { for (t = 0; t < 6; t++) { for (i = 0; i < 3; i++) printf "%d ", t * 3 + i - 9; print "" } }' > "$tmp/counts.txt"
awk 'BEGIN { for (t = 0; t < 6; t++) { for (i = 0; i < 3; i++) printf "%d ", t * 3 + i; print "" } }' > "$tmp/bytes.txt"
awk 'BEGIN { for (b = 0; b < 2; b++) for (t = 0; t < 4; t++) { for (i = 0; i < 3; i++) printf "%.9g ", b * 100 + t * 3 + i - 0.5; print "" } }' > "$tmp/batch.txt"
cat > "$tmp/x.cfg" <<'CFG'
PATH /x
INPUT-CLASS TEXTFP
RANK 2
DIMENSION-SIZES 6 3
OUTPUT-CLASS FP
OUTPUT-SIZE 64
OUTPUT-ARCHITECTURE IEEE
OUTPUT-BYTE-ORDER LE
CFG
cat > "$tmp/counts.cfg" <<'CFG'
PATH /group/counts
INPUT-CLASS TEXTIN
RANK 2
DIMENSION-SIZES 6 3
OUTPUT-CLASS IN
OUTPUT-SIZE 16
OUTPUT-ARCHITECTURE STD
OUTPUT-BYTE-ORDER BE
CFG
cat > "$tmp/bytes.cfg" <<'CFG'
PATH /group/bytes
INPUT-CLASS TEXTUIN
RANK 2
DIMENSION-SIZES 6 3
OUTPUT-CLASS UIN
OUTPUT-SIZE 8
OUTPUT-ARCHITECTURE STD
CFG
cat > "$tmp/batch.cfg" <<'CFG'
PATH /group/deep/batch
INPUT-CLASS TEXTFP
RANK 3
DIMENSION-SIZES 2 4 3
OUTPUT-CLASS FP
OUTPUT-SIZE 32
OUTPUT-ARCHITECTURE IEEE
OUTPUT-BYTE-ORDER LE
CHUNKED-DIMENSION-SIZES 1 2 3
COMPRESSION-TYPE GZIP
COMPRESSION-PARAM 6
CFG
rm -f "$out/tools.h5"
h5import "$tmp/x.txt" -c "$tmp/x.cfg" "$tmp/counts.txt" -c "$tmp/counts.cfg" \
  "$tmp/bytes.txt" -c "$tmp/bytes.cfg" "$tmp/batch.txt" -c "$tmp/batch.cfg" -o "$out/tools.h5"
h5dump -H "$out/tools.h5"
