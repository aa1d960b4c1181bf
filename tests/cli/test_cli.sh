#!/usr/bin/env bash
# End-to-end checks of the dude command: every class of malformed input exits 1 with
# FILE:LINE (or FILE: byte N) and the reason, and leaves no model file; usage errors exit 2;
# train -> eval -> predict works. Usage: test_cli.sh path/to/dude
source "$(dirname "$0")/harness.sh" "$1"

# The dude command, under an address-space limit of $memory_kb KB where that is set. A
# sanitizer build (DUDE_TEST_SANITIZED, set by CMake) reserves terabytes of shadow address
# space, so there the limit is left to the plain build's run of this script.
run_dude() {
  if [ -n "${memory_kb:-}" ] && [ -z "${DUDE_TEST_SANITIZED:-}" ]; then (ulimit -v "$memory_kb" && exec "$dude" "$@"); else "$dude" "$@"; fi
}

# expect CODE PATTERN -- dude args...: exit code and a fixed string on stderr; no model left.
expect() {
  local code=$1 pattern=$2
  shift 3
  rm -f model.dude
  run_dude "$@" >out.txt 2>err.txt
  local got=$?
  if [ "$got" -ne "$code" ]; then
    fail "dude $* exited $got, expected $code; stderr: $(cat err.txt)"
  elif ! grep -qF -- "$pattern" err.txt; then
    fail "dude $* stderr lacks '$pattern': $(cat err.txt)"
  elif [ -e model.dude ] || ls model.dude.tmp* >/dev/null 2>&1; then
    fail "dude $* left a model file behind"
  else
    ok
  fi
}

good_lines='1 1:0.5 3:1
0 2:1 3:0.25
1 1:1
0 2:0.5'
printf '%s\n' "$good_lines" > good.svm

bad() {  # bad NAME CONTENT: the good lines, then CONTENT as line 5
  printf '%s\n%s\n' "$good_lines" "$2" > "$1"
}
bad token.svm '1 2:1 x3:1'
bad index0.svm '1 0:1'
bad order.svm '1 3:1 2:1'
bad nan.svm '1 2:nan'
bad inf.svm '0 2:inf'
bad value.svm '1 2:1.2.3'
bad label.svm '1.5 2:1'
: > empty.svm
gzip -c good.svm | head -c 20 > truncated.svm.gz

train() { expect "$1" "$2" -- train --train "$3" --epochs 1 --quiet --holdout 0 --out model.dude "${@:4}"; }
train 1 "token.svm:5:" token.svm
train 1 "index0.svm:5:" index0.svm
train 1 "order.svm:5:" order.svm
train 1 "nan.svm:5:" nan.svm
train 1 "inf.svm:5:" inf.svm
train 1 "value.svm:5:" value.svm
train 1 "label.svm:5:" label.svm
train 1 "empty.svm: empty" empty.svm
train 1 "truncated.svm.gz" truncated.svm.gz
train 1 "truncated gzip stream" truncated.svm.gz

# Train/test mismatch: a test feature or label the training data does not have.
printf '1 4:1\n' > wide.svm
train 1 "wide.svm:1:" good.svm --test wide.svm
printf '7 1:1\n' > label7.svm
train 1 "label7.svm:1:" good.svm --test label7.svm
printf '1,2,3\n0,1,1\n' > a.csv
printf '1,2\n' > b.csv
train 1 "b.csv: has 1 features" a.csv --test b.csv
printf '1,2,3\n0,1\n' > ragged.csv
train 1 "ragged.csv:2:" ragged.csv

# IDX: 2 images of 2x2 pixels, labels for 2 (or 3) images.
printf '\x00\x00\x08\x03\x00\x00\x00\x02\x00\x00\x00\x02\x00\x00\x00\x02\x00\x10\x20\x30\x40\x50\x60\x70' > ok-images-idx3-ubyte
printf '\x00\x00\x08\x01\x00\x00\x00\x02\x00\x01' > ok-labels-idx1-ubyte
printf '\x00\x00\x08\x04\x00\x00\x00\x02\x00\x00\x00\x02\x00\x00\x00\x02\x00\x10\x20\x30\x40\x50\x60\x70' > magic-images-idx3-ubyte
cp ok-labels-idx1-ubyte magic-labels-idx1-ubyte
printf '\x00\x00\x08\x03\x00\x00\x00\x03\x00\x00\x00\x02\x00\x00\x00\x02\x00\x10\x20\x30\x40\x50\x60\x70' > short-images-idx3-ubyte
printf '\x00\x00\x08\x01\x00\x00\x00\x03\x00\x01\x01' > short-labels-idx1-ubyte
cp ok-images-idx3-ubyte count-images-idx3-ubyte
cp short-labels-idx1-ubyte count-labels-idx1-ubyte
train 1 "magic-images-idx3-ubyte: byte 0:" magic-images-idx3-ubyte
train 1 "short-images-idx3-ubyte: byte" short-images-idx3-ubyte
train 1 "count-labels-idx1-ubyte" count-images-idx3-ubyte
train 1 "cannot open" missing-images-idx3-ubyte

# Usage errors exit 2.
expect 2 "model spec" -- train --train good.svm --model mlp:0 --out model.dude
expect 2 "--lr" -- train --train good.svm --lr -1 --out model.dude
expect 2 "excludes" -- train --train good.svm --epochs 1 --steps 3 --out model.dude
expect 2 "--bogus" -- train --bogus
expect 2 "logreg" -- train --train digits --model logreg --out model.dude
expect 2 "--model" -- eval --data good.svm

# Help exits 0 on each subcommand and lists the subcommand's own options.
for case in "train --keep-last-good" "eval --no-confusion" "predict --proba" "convert --labels-out"; do
  read -r sub flag <<<"$case"
  if "$dude" "$sub" --help >out.txt 2>&1 && grep -q -- "$flag" out.txt; then ok; else fail "$sub --help lacks $flag"; fi
done

# A run that fails after training started (it diverges) leaves no model either.
expect 3 "training diverged at step" -- train --train digits --model mlp:64 --algo dude --workers 4 \
  --lr 50 --deterministic --quiet --out model.dude

# The happy path: train on the built-in digits, evaluate, predict.
if "$dude" train --train digits --epochs 3 --quiet --out trained.dude --metrics m.jsonl >out.txt 2>err.txt \
  && grep -q "^test accuracy: 0\.[89]" out.txt && [ -s trained.dude ] && [ "$(wc -l < m.jsonl)" -eq 3 ] \
  && grep -q '"test_accuracy"' m.jsonl; then ok; else fail "train on digits: $(cat out.txt err.txt)"; fi
if "$dude" eval --model trained.dude --data digits >out.txt 2>err.txt && grep -q "^accuracy: 0\.9" out.txt \
  && grep -q "^loss: " out.txt && grep -q "^confusion matrix" out.txt; then ok; else fail "eval: $(cat out.txt err.txt)"; fi
if "$dude" predict --model trained.dude --data digits >out.txt 2>err.txt && [ "$(wc -l < out.txt)" -eq 1797 ] \
  && ! grep -qv '^[0-9]$' out.txt; then ok; else fail "predict: $(head -3 out.txt) $(cat err.txt)"; fi
if "$dude" predict --model trained.dude --data digits --proba --out p.txt 2>err.txt && [ "$(wc -l < p.txt)" -eq 1797 ] \
  && [ "$(head -1 p.txt | wc -w)" -eq 10 ]; then ok; else fail "predict --proba: $(cat err.txt)"; fi
# A model does not accept data of another width.
expect 1 "a.csv" -- eval --model trained.dude --data a.csv
# A corrupt model file is refused.
cp trained.dude corrupt.dude
printf 'garbage' | dd of=corrupt.dude bs=1 seek=100 conv=notrunc 2>/dev/null
expect 1 "checksum" -- eval --model corrupt.dude --data digits

# Deterministic replay: two runs with the same flags write byte-identical metrics.
det=(train --train digits --algo dude --workers 4 --partition label:2 --slowdown 1,10 --deterministic
     --steps 300 --eval-every 50 --quiet)
if "$dude" "${det[@]}" --metrics d1.jsonl >/dev/null 2>err.txt && "$dude" "${det[@]}" --metrics d2.jsonl >/dev/null 2>>err.txt \
  && [ "$(wc -l < d1.jsonl)" -eq 6 ] && cmp -s d1.jsonl d2.jsonl; then ok; else fail "deterministic replay: $(cat err.txt)"; fi
# Asynchronous training reports staleness and arrivals.
if "$dude" train --train digits --algo asgd --workers 2 --epochs 2 --quiet --metrics a.jsonl >/dev/null 2>err.txt \
  && grep -q '"arrivals":\[' a.jsonl && grep -q '"staleness_max"' a.jsonl; then ok; else fail "async metrics: $(cat err.txt)"; fi
expect 2 "partition" -- train --train digits --algo dude --partition label:x --out model.dude
expect 2 "slowdown" -- train --train digits --algo dude --slowdown 0.5 --out model.dude
expect 2 "algorithm" -- train --train digits --algo fedbuff:0 --out model.dude
# Asynchronous runs without --lr use the rule of their algorithm (asgd 0.2 / sqrt(workers),
# dude 0.2 / workers) and say so; --lr is taken as given.
if "$dude" train --train digits --algo asgd --workers 4 --epochs 1 >/dev/null 2>err.txt \
  && grep -q 'learning rate 0.1 (0.2 / sqrt(4 workers)' err.txt; then ok; else fail "async default lr: $(cat err.txt)"; fi
if "$dude" train --train digits --algo dude --workers 4 --epochs 1 >/dev/null 2>err.txt \
  && grep -q 'learning rate 0.05 (0.2 / 4 workers' err.txt; then ok; else fail "dude default lr: $(cat err.txt)"; fi
if "$dude" train --train digits --algo asgd --workers 4 --epochs 1 --lr 0.2 --schedule constant --metrics lr.jsonl >/dev/null 2>err.txt \
  && ! grep -q 'learning rate' err.txt && grep -q '"lr":0.2' lr.jsonl; then ok; else fail "async --lr: $(cat err.txt)"; fi
# A fold split over server threads gives the same model: one hand-off worker reproduces SGD
# (exactly; with two workers the result would depend on the scheduling). mlp:256 has 19,210
# parameters: several fold chunks for the 3 threads. Zero threads is refused.
if "$dude" train --train digits --model mlp:256 --algo dude --workers 1 --server-threads 3 --epochs 3 --quiet >out.txt 2>err.txt \
  && "$dude" train --train digits --model mlp:256 --epochs 3 --quiet >sgd.txt 2>>err.txt \
  && [ "$(grep '^test' out.txt)" = "$(grep '^test' sgd.txt)" ] && grep -q 'test accuracy: 0\.[89]' out.txt; then ok
else fail "--server-threads 3: $(cat out.txt sgd.txt err.txt)"; fi
expect 2 "server-threads" -- train --train digits --algo dude --server-threads 0 --out model.dude
# Threads per worker are an MPI worker rank's: with threads every worker is one already.
expect 2 "--threads-per-worker 2: only with --backend mpi" -- train --train digits --algo dude \
  --threads-per-worker 2 --out model.dude
# Contiguous minibatches train as usual; an unknown order is refused.
if "$dude" train --train digits --batch-order contiguous --epochs 5 --quiet >out.txt 2>err.txt \
  && grep -q 'test accuracy: 0\.[89]' out.txt; then ok; else fail "--batch-order contiguous: $(cat out.txt err.txt)"; fi
expect 2 "batch-order" -- train --train digits --batch-order sorted --out model.dude

# fastText text: names for classes, hashed words, strict lines, the model carrying the hashing.
ft_lines='__label__pos good great fun
__label__neg bad awful boring
__label__pos great movie

__label__neg boring bad plot'
printf '%s\n' "$ft_lines" > good.ft
printf '%s\n%s\n' "$ft_lines" 'no label here' > nolabel.ft
printf '%s\n%s\n' "$ft_lines" '__label__pos a __label__neg' > twolabels.ft
printf '__label__pos great\n__label__meh so so\n' > unseen.ft
train 1 "nolabel.ft:6: no label" nolabel.ft
train 1 "twolabels.ft:6: a second label" twolabels.ft
train 1 "unseen.ft:2: label 'meh' is not among" good.ft --test unseen.ft
expect 2 "--hash-bits" -- train --train good.ft --hash-bits 31 --out model.dude
if "$dude" train --train good.ft --hash-bits 10 --ngrams 2 --epochs 30 --holdout 0 --quiet --out ft.dude \
  >out.txt 2>err.txt && grep -q "features: 1024  classes: 2" out.txt; then ok; else fail "train fasttext: $(cat out.txt err.txt)"; fi
# predict hashes raw text as training did (the model holds the hashing) and prints the names.
if "$dude" predict --model ft.dude --data good.ft >out.txt 2>err.txt && [ "$(wc -l < out.txt)" -eq 4 ] \
  && ! grep -qvE '^(pos|neg)$' out.txt; then ok; else fail "predict fasttext: $(cat out.txt err.txt)"; fi
if "$dude" eval --model ft.dude --data good.ft >out.txt 2>err.txt && grep -q "^rows: 4" out.txt; then ok
else fail "eval fasttext: $(cat out.txt err.txt)"; fi
expect 1 "unseen.ft:2:" -- eval --model ft.dude --data unseen.ft
# convert writes the hashed features as LIBSVM (and the names), which train and eval read.
if "$dude" convert --data good.ft --hash-bits 10 --ngrams 2 --out good.svm2 --labels-out names.txt \
  >out.txt 2>err.txt && [ "$(wc -l < good.svm2)" -eq 4 ] && [ "$(printf 'neg\npos\n')" = "$(cat names.txt)" ] \
  && head -1 good.svm2 | grep -qE '^1( [0-9]+:[0-9]+)+$'; then ok; else fail "convert: $(cat out.txt err.txt)"; fi
if "$dude" train --train good.svm2 --format libsvm --epochs 1 --holdout 0 --quiet >out.txt 2>err.txt \
  && grep -q "train rows: 4" out.txt; then ok; else fail "train on converted: $(cat out.txt err.txt)"; fi
if "$dude" eval --model ft.dude --data good.svm2 --format libsvm >out.txt 2>err.txt && grep -q "^rows: 4" out.txt; then ok
else fail "eval converted with the fasttext model: $(cat out.txt err.txt)"; fi
expect 2 "--labels-out" -- convert --data good.svm --out x.svm --labels-out x.txt
if [ ! -e x.svm ] && [ ! -e x.txt ]; then ok; else fail "convert --labels-out on numeric data left files"; fi

# Hostile inputs are refused, naming the file and what is wrong, without reading (or
# allocating) much: each runs under a 300 MB address-space limit (ulimit -v, in KB), far
# below what the file claims or inflates to.
limited() { expect "$1" "$2" -- train --train "$3" --epochs 1 --quiet --holdout 0 --threads 1 "${@:4}"; }
bounded() { memory_kb=300000 limited "$@"; }
# A gzip bomb: 100 MB of NUL bytes, refused at its first byte (fastText, where NUL separates
# words, at the 32 MiB line limit).
head -c 100000000 /dev/zero | gzip -1 > bomb.svm.gz
cp bomb.svm.gz bomb.csv.gz
cp bomb.svm.gz bomb.ft.gz
bounded 1 "bomb.svm.gz:1: a NUL byte" bomb.svm.gz
bounded 1 "bomb.csv.gz:1: a NUL byte" bomb.csv.gz
bounded 1 "bomb.ft.gz:1: a line longer than 32.0 MiB" bomb.ft.gz
# A gzip file cut in half, its last bytes read as a trailer claiming 4 GiB.
seq 1 300000 | awk '{ print $1 % 2 " 1:" $1 " 7:" ($1 * 7) % 1000 }' | gzip > whole.svm.gz
head -c $(($(wc -c < whole.svm.gz) / 2)) whole.svm.gz > cut.svm.gz
printf '\xff\xff\xff\xff' >> cut.svm.gz
bounded 1 "cut.svm.gz: byte" cut.svm.gz
# A 10 MB token is quoted in 40 bytes.
{ head -c 10000000 /dev/zero | tr '\0' x; printf ',1\n'; } > longfield.csv
bounded 1 "cannot parse label 'xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx...'" longfield.csv
if [ "$(wc -c < err.txt)" -lt 200 ]; then ok; else fail "a 10 MB token made a $(wc -c < err.txt)-byte message"; fi
# One huge feature index would size a huge model; an IDX header claims 4 TiB of images.
printf '0 1:1\n1 1000000000:1\n' > bigindex.svm
printf '1 4294967295:1\n0 1:1\n' > maxindex.svm
bounded 1 "bigindex.svm:2: feature index 1000000000: a model of 1000000000 features x 2 classes" bigindex.svm --max-memory 8G
bounded 1 "needs 14.9 GiB, over the memory limit of 8.0 GiB; raise it with --max-memory" bigindex.svm --max-memory 8G
bounded 1 "maxindex.svm:1: feature index 4294967295" maxindex.svm --max-memory 32G
printf '\x00\x00\x08\x03\x00\x10\x00\x00\x00\x00\x04\x00\x00\x00\x04\x00\x00\x10' > huge-images-idx3-ubyte
cp ok-labels-idx1-ubyte huge-labels-idx1-ubyte
bounded 1 "huge-images-idx3-ubyte: byte 4: the header's 1048576 x 1024 x 1024 images: 4.0 TiB" huge-images-idx3-ubyte
bounded 1 "good.svm: the file needs 39 bytes, over the memory limit of 16 bytes" good.svm --max-memory 16
expect 2 "--max-memory: expected a size" -- train --train good.svm --max-memory 12x
for sub in eval predict convert bench compare; do
  if "$dude" "$sub" --help 2>&1 | grep -q -- "--max-memory"; then ok; else fail "$sub lacks --max-memory"; fi
done
# A CSV header without --csv-header says what to do; with it, the file trains.
printf 'label,f1,f2\n0,1,2\n1,3,4\n' > header.csv
limited 1 "header.csv:1: no field is a number: 'label,f1,f2' looks like a header; skip it with --csv-header" header.csv
trains() {  # trains FILE ARGS...: exit 0 and the rows reported
  if run_dude train --train "$1" --epochs 1 --holdout 0 --threads 1 "${@:2}" >out.txt 2>err.txt \
    && grep -q "train rows: 2" out.txt; then ok; else fail "train $*: $(cat out.txt err.txt)"; fi
}
trains header.csv --csv-header
# A UTF-8 byte order mark and CRLF line ends, in every text format, plain and compressed.
printf '\xef\xbb\xbf1 1:0.5\r\n0 2:1\r\n' > bom.svm
printf '\xef\xbb\xbf1,0.5\r\n0,2\r\n' > bom.csv
printf '\xef\xbb\xbf__label__a hello world\r\n__label__b bye\r\n' > bom.ft
for f in bom.svm bom.csv bom.ft; do
  gzip -c "$f" > "$f.gz"
  trains "$f"
  trains "$f.gz"
done

echo "cli: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
