#!/bin/sh
# Audio fixtures for the libsndfile reader (issue 25), made by Debian's sox (no download).
# One 20 ms stereo source at 16 kHz (two sines, float32 WAV), converted without dither (-D) into
# the encodings a recorder writes. Tests decode each and compare it with the float32 source read
# by the hand-written WAV reader, within one step of the encoding's quantisation.
# Run from the repository root:  sh scripts/make_audio_fixtures.sh   (apt-get install sox)
set -eu
out=Tests/SequenceIOTests/Fixtures/audio
mkdir -p "$out"
sox -n -r 16000 -c 2 -e floating-point -b 32 "$out/source_f32.wav" synth 0.02 sine 440 sine 1000 vol 0.8
sox -D "$out/source_f32.wav" -e unsigned-integer -b 8 "$out/pcm8.wav"
sox -D "$out/source_f32.wav" -e signed-integer -b 16 "$out/pcm16.wav"
sox -D "$out/source_f32.wav" -e signed-integer -b 24 "$out/pcm24.wav"
sox -D "$out/source_f32.wav" -e signed-integer -b 32 "$out/pcm32.wav"
sox -D "$out/source_f32.wav" -e signed-integer -b 24 "$out/pcm24.flac"
sox -D "$out/source_f32.wav" -e signed-integer -b 16 "$out/pcm16.aiff"
sox -D "$out/source_f32.wav" -C 3 "$out/vorbis.ogg"
ls -l "$out"
