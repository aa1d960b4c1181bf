#!/bin/sh
# fasttext_run.sh TRAIN.ft TEST.ft MODEL DIM EPOCHS THREADS: one timed fastText attempt of
# bench/peers.sh --brown: `fasttext supervised` with -dim, -epoch and -thread set and every other
# setting at its default (it writes MODEL.bin and MODEL.vec), then `fasttext test MODEL.bin
# TEST.ft`, which prints N, P@1 (to 3 digits) and R@1.
set -e
[ $# -eq 6 ] || { echo "usage: fasttext_run.sh TRAIN.ft TEST.ft MODEL DIM EPOCHS THREADS" >&2; exit 2; }
fasttext supervised -input "$1" -output "$3" -dim "$4" -epoch "$5" -thread "$6"
fasttext test "$3.bin" "$2"
