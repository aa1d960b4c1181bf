#!/bin/sh
# liblinear_run.sh TRAIN.svm TEST.svm MODEL OPTION...: one timed LIBLINEAR attempt of
# bench/peers.sh --brown: `liblinear-train OPTION... -q TRAIN.svm MODEL` (the options: -s S and
# maybe -e E), then `liblinear-predict TEST.svm MODEL MODEL.predictions`, which prints
# "Accuracy = A% (CORRECT/ROWS)".
set -e
[ $# -ge 3 ] || { echo "usage: liblinear_run.sh TRAIN.svm TEST.svm MODEL OPTION..." >&2; exit 2; }
train=$1 test=$2 model=$3
shift 3
liblinear-train "$@" -q "$train" "$model"
liblinear-predict "$test" "$model" "$model.predictions"
