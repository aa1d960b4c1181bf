#!/bin/sh
# fasttext_accuracy.sh MODEL.bin TEST.ft: the exact test accuracy of a fastText model (`fasttext
# test` rounds P@1 to 3 digits, too coarse for a 97.0 % target): `fasttext predict` on the file,
# each prediction compared with the line's __label__ token. Prints
#     test accuracy: A
#     test rows: CORRECT/ROWS
# Not timed by bench/peers.sh (its timed run is fasttext_run.sh).
set -e
[ $# -eq 2 ] || { echo "usage: fasttext_accuracy.sh MODEL.bin TEST.ft" >&2; exit 2; }
predictions=$(mktemp "${TMPDIR:-/tmp}/fasttext-predict.XXXXXX")
trap 'rm -f "$predictions"' EXIT
fasttext predict "$1" "$2" >"$predictions"
# fastText skips no line that has a label, and prints one line (maybe empty) per input line.
awk 'NR == FNR { predicted[FNR] = $1; lines = FNR; next }
     { for (i = 1; i <= NF; i++) if ($i ~ /^__label__/) { rows++; if ($i == predicted[FNR]) correct++; break } }
     END { if (rows == 0 || lines != FNR) { print "fasttext_accuracy.sh: " lines " predictions for " FNR " lines" > "/dev/stderr"; exit 1 }
           printf "test accuracy: %.4f\ntest rows: %d/%d\n", correct / rows, correct, rows }' \
    "$predictions" "$2"
