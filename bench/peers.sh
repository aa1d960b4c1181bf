#!/usr/bin/env bash
# Peer comparison: whole-run time to a target test accuracy, dude against other trainers
# (Debian packages), with the same thread count for all. Two benchmarks:
#
#   Fashion-MNIST (the default): dude against LIBLINEAR, scikit-learn and PyTorch, a linear
#     model and an MLP, on the IDX files (method below).
#   Brown POS tagging (--brown): dude against fastText, LIBLINEAR and scikit-learn's
#     SGDClassifier on the fastText / hashed LIBSVM files of bench/data/brown.sh, to 97.0 %
#     test accuracy; its runs and method are in bench/peers/brown.sh.
#
#   bench/peers.sh [--install] [--brown] [--threads N] [--dude PATH] [--data DIR] [--out FILE]
#                  [--quick] [--only ID,ID,...] [--work DIR]
#
#   --install   apt-get install liblinear-tools python3-sklearn python3-scipy
#               python3-threadpoolctl python3-torch python3-numpy fasttext libopenblas0-pthread
#               (needs root; installs only what is missing), then selects the pthread OpenBLAS
#               as the libblas.so.3 and liblapack.so.3 alternatives (update-alternatives --set),
#               which numpy and scipy load on Debian 12. Without it, a peer whose package is
#               missing is skipped with a message.
#   --brown     the Brown POS tagging comparison instead of Fashion-MNIST
#   --threads N threads for every run (default: nproc): OMP/MKL/OPENBLAS_NUM_THREADS=N for all,
#               torch.set_num_threads(N), sklearn n_jobs=N where it has one, fastText -thread N,
#               and dude --algo dude|hogwild --workers N --threads N. dude also gets a one-thread
#               row (Fashion-MNIST: --algo sgd --threads 1; Brown: --algo sgd --threads N, the
#               N threads only loading and evaluating).
#   --dude PATH the dude binary (default: build/tools/dude)
#   --data DIR  the Fashion-MNIST IDX .gz files (default: /usr/share/datasets/fashion-mnist); with
#               --brown the output folder of bench/data/brown.sh (default:
#               ${XDG_CACHE_HOME:-$HOME/.cache}/dude/brown)
#   --out FILE  also write the report as Markdown to FILE
#   --quick     plumbing check: the first 5000 training rows and 2000 test rows (Brown: 200,000
#               and 30,000), one short run each (one epoch, or the ladder's first rung); its
#               accuracies mean nothing
#   --only IDS  only these runs (comma-separated). Fashion-MNIST: dude-softmax dude1-softmax
#               liblinear sk-logreg sk-sgd torch-softmax dude-mlp dude1-mlp sk-mlp torch-mlp.
#               Brown: dude-sgd dude-hogwild dude-sgd-cache dude-hogwild-cache fasttext
#               liblinear-s0 liblinear-s7 sk-sgd
#   --work DIR  scratch folder (LIBSVM files, models, logs) kept afterwards; default: a temporary
#               one, removed at exit
#
# Method (Fashion-MNIST). Each run is one process (for LIBLINEAR: liblinear-train then
# liblinear-predict in one shell) under /usr/bin/time -f '%e %M': wall seconds from exec to exit,
# so interpreter start, imports, reading and decoding the IDX .gz files and the final test
# evaluation are included, and peak RSS. Time to target: every run has a ladder of budgets
# (epochs, iterations, or LIBLINEAR's stopping tolerance), tried in increasing order until a run
# reaches the target test accuracy (84.0% for the linear models, 87.5% for the MLP); the table
# shows that run, or the last rung when none reaches it. Every attempt is listed under the
# table. The rungs roughly double, so the search costs at most about twice the reported run;
# the budget is the only thing picked by looking at test accuracy. Everything else is fixed in
# advance (bench/peers/*.py say what). The ratio column is the run's time over the time of
# dude's N-thread row (--algo dude) of the same model class (linear: dude softmax; MLP: dude
# mlp:128).
#
# LIBLINEAR cannot read IDX, so bench/peers/to_libsvm.py converts the split to LIBSVM text once,
# before the runs; that conversion is timed separately and reported under the table, not in the
# LIBLINEAR row (its row does include liblinear-train parsing the LIBSVM text).
#
# OpenMP: OMP_WAIT_POLICY=PASSIVE is set for every run (it only concerns OpenMP programs, i.e.
# PyTorch here). With libgomp's default busy-waiting, PyTorch with 2 threads on a 2-core machine
# that other processes also use ran 25x slower per step than with 1 thread; PASSIVE removed that.
#
# BLAS: the header names the BLAS numpy loads, as threadpoolctl reports it (bench/peers/
# blas_info.py: internal_api, version, architecture, file). OPENBLAS_CORETYPE and
# OPENBLAS_L2_SIZE, where the environment sets them, are removed from every timed command only
# (env -u), so that OpenBLAS picks its kernel for this CPU itself; the header gives both values
# as found and the kernel ("architecture") OpenBLAS picked for the runs, and with them as found.
#
# Not part of the default test run: nothing registers this script with ctest.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
root=$(dirname "$here")
peers_dir=$here/peers
python=${PYTHON:-/usr/bin/python3}  # the Debian interpreter, which sees the Debian packages

threads=$(nproc)
dude=$root/build/tools/dude
data=""
out=""
install=0
brown=0
quick=0
only=""
work=""

usage() { sed -n '2,/^set -euo/p' "${BASH_SOURCE[0]}" | sed '$d' | sed 's/^# \{0,1\}//'; }
die() { echo "peers.sh: $*" >&2; exit 2; }

while [[ $# -gt 0 ]]; do
  case $1 in
    --install) install=1 ;;
    --brown) brown=1 ;;
    --threads) threads=${2:?--threads needs a value}; shift ;;
    --threads=*) threads=${1#*=} ;;
    --dude) dude=${2:?--dude needs a path}; shift ;;
    --dude=*) dude=${1#*=} ;;
    --data) data=${2:?--data needs a folder}; shift ;;
    --data=*) data=${1#*=} ;;
    --out) out=${2:?--out needs a file}; shift ;;
    --out=*) out=${1#*=} ;;
    --only) only=${2:?--only needs run ids}; shift ;;
    --only=*) only=${1#*=} ;;
    --work) work=${2:?--work needs a folder}; shift ;;
    --work=*) work=${1#*=} ;;
    --quick) quick=1 ;;
    -h|--help) usage; exit 0 ;;
    *) die "unknown argument '$1' (see --help)" ;;
  esac
  shift
done
[[ $threads =~ ^[1-9][0-9]*$ ]] || die "--threads: expected a positive integer, got '$threads'"
# The command line as the report shows it (without --install, --out and --work).
invocation="bench/peers.sh"
(( brown )) && invocation+=" --brown"
invocation+=" --threads $threads"
[[ $dude != "$root/build/tools/dude" ]] && invocation+=" --dude $dude"
[[ -n $data ]] && invocation+=" --data $data"
(( quick )) && invocation+=" --quick"
[[ -n $only ]] && invocation+=" --only $only"
if [[ -z $data ]]; then
  if (( brown )); then data=${XDG_CACHE_HOME:-$HOME/.cache}/dude/brown
  else data=/usr/share/datasets/fashion-mnist; fi
fi

# ---------------------------------------------------------------------------------------------
# Packages
packages=(liblinear-tools python3-sklearn python3-scipy python3-threadpoolctl python3-torch
          python3-numpy fasttext libopenblas0-pthread)
installed() { [[ $(dpkg-query -W -f='${Status}' "$1" 2>/dev/null) == "install ok installed" ]]; }
version() { dpkg-query -W -f='${Version}' "$1" 2>/dev/null || echo "not installed"; }

# select_openblas: makes the pthread OpenBLAS the libblas.so.3 and liblapack.so.3 alternative
# (libopenblas0-pthread registers itself with a higher priority than libblas3, so in auto mode
# it already is; a manual choice of another one is overridden here).
select_openblas() {
  local name path current
  while read -r name _ current; do
    [[ $name == libblas.so.3-* || $name == liblapack.so.3-* ]] || continue
    path=$(update-alternatives --list "$name" | grep -m1 '/openblas-pthread/' || true)
    [[ -n $path ]] || die "libopenblas0-pthread has registered no $name alternative"
    if [[ $current != "$path" ]]; then
      echo "peers.sh: update-alternatives --set $name $path (was $current)" >&2
      update-alternatives --set "$name" "$path" >&2
    fi
    echo "peers.sh: $name -> $(update-alternatives --query "$name" | awk '/^Value:/ { print $2 }')" >&2
  done < <(update-alternatives --get-selections)
}

if (( install )); then
  missing=()
  for p in "${packages[@]}"; do installed "$p" || missing+=("$p"); done
  if (( ${#missing[@]} == 0 )); then
    echo "peers.sh: ${packages[*]} already installed" >&2
  else
    [[ $(id -u) -eq 0 ]] || die "--install needs root (apt-get install ${missing[*]})"
    echo "peers.sh: installing ${missing[*]}" >&2
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -q >&2
    # No recommends: python3-torch's pull in Qt, GStreamer and the like, none of which it needs
    # here; the BLAS it depends on (libblas3 | libblas.so.3) is installed either way.
    apt-get install -y -q --no-install-recommends "${missing[@]}" >&2
  fi
  [[ $(id -u) -eq 0 ]] || die "--install needs root (update-alternatives --set, for OpenBLAS)"
  select_openblas
fi

[[ -x $dude ]] || die "dude binary not found at '$dude' (cmake --build build --target dude, or --dude PATH)"

have_numpy=0; have_sklearn=0; have_torch=0; have_liblinear=0; have_fasttext=0; have_tpc=0
if installed python3-numpy && "$python" -c 'import numpy' 2>/dev/null; then have_numpy=1; fi
if (( have_numpy )) && installed python3-sklearn && "$python" -c 'import sklearn' 2>/dev/null; then
  have_sklearn=1
fi
if (( have_numpy )) && installed python3-torch && "$python" -c 'import torch' 2>/dev/null; then
  have_torch=1
fi
if installed liblinear-tools && command -v liblinear-train >/dev/null &&
   command -v liblinear-predict >/dev/null; then
  have_liblinear=1
fi
if installed fasttext && command -v fasttext >/dev/null; then have_fasttext=1; fi
if (( have_numpy )) && "$python" -c 'import threadpoolctl' 2>/dev/null; then have_tpc=1; fi

# ---------------------------------------------------------------------------------------------
# Shared plumbing: scratch folder, dude's copy, timing, parsing, report writing.
if [[ -n $work ]]; then
  mkdir -p "$work"; work=$(cd "$work" && pwd)
else
  work=$(mktemp -d "${TMPDIR:-/tmp}/dude-peers.XXXXXX")
  trap 'rm -rf "$work"' EXIT
fi
mkdir -p "$work/logs"
# Run a copy of dude, so that a rebuild of the build tree during the run cannot change or remove
# the binary between rungs (it links only system libraries).
dude_src=$dude
dude_sha=$(sha256sum "$dude_src" | cut -c1-12)
cp "$dude_src" "$work/dude"; dude=$work/dude

note() { echo "[peers] $*" >&2; }
uptime_start=$(uptime)
started=$(date -u +%Y-%m-%dT%H:%M:%SZ)

# The same thread settings for every run (see the header for OMP_WAIT_POLICY and OpenBLAS).
run_env() {  # run_env THREADS COMMAND...
  local n=$1; shift
  env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE \
      OMP_NUM_THREADS="$n" MKL_NUM_THREADS="$n" OPENBLAS_NUM_THREADS="$n" \
      OMP_WAIT_POLICY=PASSIVE PYTHONDONTWRITEBYTECODE=1 "$@"
}

# measure LOG THREADS COMMAND...: runs it under /usr/bin/time; sets m_rc m_wall m_rss_mb.
measure() {
  local log=$1 n=$2; shift 2
  set +e
  run_env "$n" /usr/bin/time -f '%e %M' -o "$log.time" "$@" >"$log" 2>&1
  m_rc=$?
  set -e
  # time -o puts "Command exited with non-zero status N" before the format line on failure.
  local wall rss
  read -r wall rss < <(tail -n 1 "$log.time")
  m_wall=$wall
  m_rss_mb=$(awk -v k="$rss" 'BEGIN { printf "%.0f", k / 1024 }')
}

accuracy_in() {  # the test accuracy a run printed, as a fraction, or nothing
  awk '/^test accuracy:/ { a = $3 }
       /^Accuracy = / { if (match($0, /\(([0-9]+)\/([0-9]+)\)/)) {
                          split(substr($0, RSTART + 1, RLENGTH - 2), c, "/");
                          a = sprintf("%.4f", c[1] / c[2]) } }
       END { if (a != "") print a }' "$1"
}
fit_in() { awk '/^(fit seconds:|train rows:)/ { for (i = 1; i <= NF; i++) if ($i ~ /^time:/) { v = $(i+1) }
                                                 if ($1 == "fit") v = $3 }
                END { sub(/s$/, "", v); print v }' "$1"; }
percent() { [[ $1 == failed ]] && echo failed || awk -v a="$1" 'BEGIN { printf "%.2f%%", 100 * a }'; }
reached() { awk -v a="$1" -v t="$2" 'BEGIN { exit !(a >= t) }'; }  # reached ACC TARGET

# The BLAS numpy loads, as threadpoolctl reports it: in the runs' environment, and as found
# where OPENBLAS_CORETYPE or OPENBLAS_L2_SIZE is set (they can change the kernel OpenBLAS picks).
blas=$(readlink -f /usr/lib/x86_64-linux-gnu/libblas.so.3 2>/dev/null || echo "?")
blas_info() {
  (( have_tpc )) || { echo "unknown (needs python3-numpy and python3-threadpoolctl)"; return; }
  "$@" "$python" "$peers_dir/blas_info.py" 2>&1 | paste -sd ';' | sed 's/;/; /g'
}
blas_runs=$(blas_info run_env "$threads")
blas_found=""
if [[ -n ${OPENBLAS_CORETYPE+x} || -n ${OPENBLAS_L2_SIZE+x} ]]; then
  blas_found=$(blas_info env OPENBLAS_NUM_THREADS="$threads")
fi
blas_header=(
  "BLAS (threadpoolctl, in the runs' environment): $blas_runs; libblas.so.3 -> $blas, liblapack.so.3 -> $(readlink -f /usr/lib/x86_64-linux-gnu/liblapack.so.3 2>/dev/null || echo '?')"
  "env: OMP/MKL/OPENBLAS_NUM_THREADS=N per run, OMP_WAIT_POLICY=PASSIVE; found OPENBLAS_CORETYPE=${OPENBLAS_CORETYPE-unset}, OPENBLAS_L2_SIZE=${OPENBLAS_L2_SIZE-unset}, both unset for every timed run (env -u)${blas_found:+; OpenBLAS with them as found: $blas_found}"
)
note "BLAS: $blas_runs"

plain() { printf '%s\n' "$@" | column -t -s $'\t'; }
markdown() {
  printf '%s\n' "$@" | awk -F'\t' '{ line = "|"; for (i = 1; i <= NF; i++) line = line " " $i " |"; print line
                                      if (NR == 1) { line = "|"; for (i = 1; i <= NF; i++) line = line " --- |"; print line } }'
}
# write_report TITLE COMMAND: prints the report (arrays header, rows, notes, attempt_rows: rows of
# tab-separated cells, the first one the column names) on stdout, and as Markdown to --out.
write_report() {
  local title=$1 command=$2
  {
    printf '# %s\n' "${header[@]}"
    echo
    plain "${rows[@]}"
    echo
    printf -- '- %s\n' "${notes[@]}"
    echo
    echo "attempts:"
    plain "${attempt_rows[@]}"
  }
  if [[ -n $out ]]; then
    mkdir -p "$(dirname "$out")"
    {
      echo "## $title"
      echo
      printf -- '- %s\n' "${header[@]}"
      echo "- command: \`$command\`"
      echo
      markdown "${rows[@]}"
      echo
      printf -- '- %s\n' "${notes[@]}"
      echo
      echo "Attempts:"
      echo
      markdown "${attempt_rows[@]}"
    } >"$out"
    note "wrote $out"
  fi
}
# The runs to do: every id given, or those of --only (each must be a key of the associative
# array named by $1), in the order of the ids; into `selected`.
select_runs() {
  local -n known=$1
  shift
  selected=()
  if [[ -z $only ]]; then
    selected=("$@")
    return
  fi
  local -a wanted
  IFS=',' read -r -a wanted <<<"$only"
  local w id
  for w in "${wanted[@]}"; do
    [[ -n ${known[$w]+x} ]] || die "--only: unknown run '$w' (known: $*)"
  done
  for id in "$@"; do
    for w in "${wanted[@]}"; do
      if [[ $w == "$id" ]]; then selected+=("$id"); fi
    done
  done
}

cpu=$(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs || true)
# The binary's tree (its commit, which a binary built before the last commits may predate) and
# its build time.
commit=$(git -C "$(dirname "$dude_src")" rev-parse --short HEAD 2>/dev/null || echo "?")
dude_built=$(date -u -r "$dude_src" +%Y-%m-%dT%H:%M:%SZ)
python_version=$("$python" -c 'import platform; print(platform.python_version())' 2>/dev/null || echo '?')

if (( brown )); then
  source "$peers_dir/brown.sh"
  exit 0
fi

# ---------------------------------------------------------------------------------------------
# Fashion-MNIST
for f in train-images-idx3-ubyte.gz train-labels-idx1-ubyte.gz t10k-images-idx3-ubyte.gz \
         t10k-labels-idx1-ubyte.gz; do
  [[ -r $data/$f ]] || die "$data/$f not found (--data DIR)"
done
skip_reason() {  # why the peer of run $1 cannot run, or nothing
  case $1 in
    liblinear) (( have_liblinear && have_numpy )) || echo "needs liblinear-tools and python3-numpy (for the IDX to LIBSVM conversion)" ;;
    sk-*) (( have_sklearn )) || echo "needs python3-sklearn and python3-numpy" ;;
    torch-*) (( have_torch )) || echo "needs python3-torch and python3-numpy" ;;
  esac
}

# Runs: id, model class, label, budget ladder (full; --quick uses the one budget after '|').
all_ids=(dude-softmax dude1-softmax liblinear sk-logreg sk-sgd torch-softmax
         dude-mlp dude1-mlp sk-mlp torch-mlp)
declare -A class label ladder quick_budget unit run_threads
for id in "${all_ids[@]}"; do
  case $id in *mlp) class[$id]=mlp ;; *) class[$id]=linear ;; esac
  run_threads[$id]=$threads
done
run_threads[dude1-softmax]=1; run_threads[dude1-mlp]=1
label[dude-softmax]="dude softmax (--algo dude, $threads workers)"
label[dude1-softmax]="dude softmax (--algo sgd, 1 thread)"
label[liblinear]="LIBLINEAR -s 0 (liblinear-train)"
label[sk-logreg]="sklearn LogisticRegression (lbfgs)"
label[sk-sgd]="sklearn SGDClassifier (log_loss)"
label[torch-softmax]="PyTorch softmax (SGD)"
label[dude-mlp]="dude mlp:128 (--algo dude, $threads workers)"
label[dude1-mlp]="dude mlp:128 (--algo sgd, 1 thread)"
label[sk-mlp]="sklearn MLPClassifier (128, adam)"
label[torch-mlp]="PyTorch MLP 128 (SGD)"
# dude's defaults (lr 0.2 cosine, batch 32) with fewer epochs; the PyTorch runs use the same
# recipe (bench/peers/torch_sgd.py), hence the same ladder.
for id in dude-softmax dude1-softmax torch-softmax dude-mlp dude1-mlp torch-mlp; do
  ladder[$id]="1 2 3 5 10"; quick_budget[$id]=1; unit[$id]=epochs
done
ladder[liblinear]="0.1 0.01"; quick_budget[liblinear]=0.1; unit[liblinear]="-e"  # 0.01: default
ladder[sk-logreg]="50 100 200"; quick_budget[sk-logreg]=25; unit[sk-logreg]=max_iter
ladder[sk-sgd]="5 10 20"; quick_budget[sk-sgd]=1; unit[sk-sgd]=epochs
ladder[sk-mlp]="4 8 16"; quick_budget[sk-mlp]=1; unit[sk-mlp]=epochs

target_of() { [[ ${class[$1]} == mlp ]] && echo 0.875 || echo 0.840; }

select_runs class "${all_ids[@]}"

# ---------------------------------------------------------------------------------------------
# Data split
split=$data
if (( quick )); then
  (( have_numpy )) || die "--quick needs python3-numpy (to write the subset)"
  split=$work/subset
  "$python" "$peers_dir/make_subset.py" --data "$data" --out "$split" --train-rows 5000 --test-rows 2000
  note "quick: first 5000 training rows, 2000 test rows, in $split"
fi

command_for() {  # command_for ID BUDGET: sets cmd (an array)
  local id=$1 b=$2 n=${run_threads[$1]}
  local idx=(--train "$split/train-images-idx3-ubyte.gz" --test "$split/t10k-images-idx3-ubyte.gz")
  case $id in
    dude-softmax) cmd=("$dude" train "${idx[@]}" --model softmax --epochs "$b" --algo dude --workers "$n" --threads "$n" --quiet) ;;
    dude1-softmax) cmd=("$dude" train "${idx[@]}" --model softmax --epochs "$b" --algo sgd --threads 1 --quiet) ;;
    dude-mlp) cmd=("$dude" train "${idx[@]}" --model mlp:128 --epochs "$b" --algo dude --workers "$n" --threads "$n" --quiet) ;;
    dude1-mlp) cmd=("$dude" train "${idx[@]}" --model mlp:128 --epochs "$b" --algo sgd --threads 1 --quiet) ;;
    liblinear)
      # One shell, so the wall time and (largest) peak RSS cover training and prediction.
      cmd=(sh -c 'liblinear-train -s 0 -e "$1" -q "$2/train.svm" "$3.model" &&
                  liblinear-predict "$2/test.svm" "$3.model" "$3.predictions"'
           liblinear "$b" "$work/libsvm" "$work/logs/liblinear.$b") ;;
    sk-logreg) cmd=("$python" "$peers_dir/sk_logreg.py" --data "$split" --threads "$n" --budget "$b") ;;
    sk-sgd) cmd=("$python" "$peers_dir/sk_sgd.py" --data "$split" --threads "$n" --budget "$b") ;;
    sk-mlp) cmd=("$python" "$peers_dir/sk_mlp.py" --data "$split" --threads "$n" --budget "$b") ;;
    torch-softmax) cmd=("$python" "$peers_dir/torch_softmax.py" --data "$split" --threads "$n" --budget "$b") ;;
    torch-mlp) cmd=("$python" "$peers_dir/torch_mlp.py" --data "$split" --threads "$n" --budget "$b") ;;
  esac
}

# ---------------------------------------------------------------------------------------------
# LIBLINEAR input, converted once and timed on its own.
conversion=""
if [[ " ${selected[*]} " == *" liblinear "* ]] && [[ -z $(skip_reason liblinear) ]]; then
  note "converting the split to LIBSVM text for LIBLINEAR (timed separately)"
  measure "$work/logs/to_libsvm" "$threads" "$python" "$peers_dir/to_libsvm.py" --data "$split" --out "$work/libsvm"
  (( m_rc == 0 )) || { cat "$work/logs/to_libsvm" >&2; die "IDX to LIBSVM conversion failed"; }
  conversion="$m_wall $m_rss_mb"
fi

# ---------------------------------------------------------------------------------------------
# The runs
declare -A r_acc r_wall r_rss r_hit r_budget r_fit
attempts=()   # "id<TAB>budget<TAB>acc<TAB>wall<TAB>fit<TAB>rss<TAB>status"
skipped=()
for id in "${selected[@]}"; do
  reason=$(skip_reason "$id")
  if [[ -n $reason ]]; then
    note "skipping ${label[$id]}: $reason (bench/peers.sh --install installs it)"
    skipped+=("${label[$id]}: $reason")
    continue
  fi
  target=$(target_of "$id")
  if (( quick )); then budgets=${quick_budget[$id]}; else budgets=${ladder[$id]}; fi
  for b in $budgets; do
    log=$work/logs/$id.$b
    command_for "$id" "$b"
    measure "$log" "${run_threads[$id]}" "${cmd[@]}"
    acc=$(accuracy_in "$log")
    fit=$(fit_in "$log")
    if (( m_rc != 0 )) || [[ -z $acc ]]; then
      note "${label[$id]} ${unit[$id]} $b FAILED (exit $m_rc); its output:"
      tail -n 20 "$log" >&2
      attempts+=("$id	$b	-	$m_wall	${fit:--}	$m_rss_mb	failed (exit $m_rc)")
      r_acc[$id]=failed; r_wall[$id]=$m_wall; r_rss[$id]=$m_rss_mb; r_hit[$id]=no
      r_budget[$id]="${unit[$id]} $b"; r_fit[$id]=${fit:--}
      break
    fi
    hit=no
    awk -v a="$acc" -v t="$target" 'BEGIN { exit !(a >= t) }' && hit=yes
    note "$(printf '%-46s %-9s %-5s acc %s  %7.2f s  %5s MB  %s' "${label[$id]}" "${unit[$id]}" "$b" "$acc" "$m_wall" "$m_rss_mb" "$([[ $hit == yes ]] && echo 'target reached' || echo 'below target')")"
    attempts+=("$id	$b	$acc	$m_wall	${fit:--}	$m_rss_mb	$([[ $hit == yes ]] && echo reached || echo below)")
    r_acc[$id]=$acc; r_wall[$id]=$m_wall; r_rss[$id]=$m_rss_mb; r_hit[$id]=$hit
    r_budget[$id]="${unit[$id]} $b"; r_fit[$id]=${fit:--}
    [[ $hit == yes ]] && break
  done
done
uptime_end=$(uptime)

# ---------------------------------------------------------------------------------------------
# Report
ratio() {  # ratio ID: its whole-run time over dude's N-thread row of the same class
  local ref=dude-softmax
  [[ ${class[$1]} == mlp ]] && ref=dude-mlp
  if [[ -z ${r_wall[$ref]+x} || ${r_acc[$ref]} == failed ]]; then echo "-"; return; fi
  awk -v a="${r_wall[$1]}" -v b="${r_wall[$ref]}" -v m="$([[ ${r_hit[$ref]} == yes ]] || echo '*')" \
    'BEGIN { if (b > 0) printf "%.2f%s", a / b, m; else print "-" }'
}
threads_cell() {  # the thread count a run was given, and what it can use where that is less
  local n=${run_threads[$1]}
  case $1 in
    liblinear) (( n > 1 )) && n="$n (1 used)" ;;
    sk-logreg|sk-mlp) [[ $blas == *openblas* || $blas == *mkl* || $blas == *blis* ]] || { (( n > 1 )) && n="$n (1 used)"; } ;;
  esac
  echo "$n"
}

rows=()  # tab-separated cells
rows+=("run	threads	test accuracy	target	reached?	budget	whole-run s	fit s	time / dude	peak RSS MB")
for id in "${selected[@]}"; do
  [[ -n ${r_wall[$id]+x} ]] || continue
  rows+=("${label[$id]}	$(threads_cell "$id")	$(percent "${r_acc[$id]}")	$(awk -v t="$(target_of "$id")" 'BEGIN { printf "%.1f%%", 100 * t }')	${r_hit[$id]}	${r_budget[$id]}	${r_wall[$id]}	${r_fit[$id]}	$(ratio "$id")	${r_rss[$id]}")
done

quick_tag=""
(( quick )) && quick_tag=", QUICK (5000/2000-row subset; accuracies mean nothing)"
header=(
  "dude peer comparison, $started, $(nproc) cores ($cpu), $threads threads per run$quick_tag"
  "data: $split (train / t10k), pixels /255; targets: 84.0% test accuracy for linear models, 87.5% for the MLP"
  "dude: $dude_src (built $dude_built, tree at commit $commit, sha256 $dude_sha); peers: liblinear-tools $(version liblinear-tools), python3-sklearn $(version python3-sklearn), python3-torch $(version python3-torch), python3-numpy $(version python3-numpy), libopenblas0-pthread $(version libopenblas0-pthread); python $python_version ($python)"
  "${blas_header[@]}"
  "load at start: ${uptime_start#*load average: }; at end: ${uptime_end#*load average: }"
)
notes=(
  "whole-run s: /usr/bin/time %e of the whole process (interpreter start, imports, IDX .gz load, training, test evaluation); fit s: training only, as the program reports it; peak RSS: /usr/bin/time %M."
  "threads: what a run was given; dude's --algo dude rows run N workers plus its server thread, its --algo sgd rows one thread (--threads 1 for loading and evaluation too)."
  "time / dude: whole-run s over dude's --algo dude row of the same class (linear: dude softmax, MLP: dude mlp:128); '*' marks a dude row that missed the target."
  "budget: the first rung of the run's ladder that reached the target (or the last rung); all attempts are below. Ladders: dude and PyTorch epochs ${ladder[dude-softmax]}; LIBLINEAR -e ${ladder[liblinear]}; LogisticRegression max_iter ${ladder[sk-logreg]}; SGDClassifier epochs ${ladder[sk-sgd]}; MLPClassifier epochs ${ladder[sk-mlp]}."
  "LIBLINEAR 2.3 (Debian) is single-threaded; LogisticRegression(lbfgs) and MLPClassifier compute through numpy's BLAS, here $blas, so with a single-threaded BLAS (such as Debian's reference libblas3) they use one core whatever N is ('N (1 used)'); SGDClassifier spreads its one-vs-rest classes over n_jobs=N threads; PyTorch uses N intra-op threads."
)
if [[ -n $conversion ]]; then
  read -r cw cr <<<"$conversion"
  with=""
  if [[ -n ${r_wall[liblinear]+x} ]]; then
    total=$(awk -v a="$cw" -v b="${r_wall[liblinear]}" 'BEGIN { printf "%.2f", a + b }')
    with="; LIBLINEAR with it: $total s"
    if [[ -n ${r_wall[dude-softmax]+x} && ${r_acc[dude-softmax]} != failed ]]; then
      with+=" ($(awk -v a="$total" -v b="${r_wall[dude-softmax]}" 'BEGIN { printf "%.2f", a / b }') x dude)"
    fi
  fi
  notes+=("LIBLINEAR input: IDX to LIBSVM text by bench/peers/to_libsvm.py, run once beforehand: $cw s, peak RSS $cr MB, not in LIBLINEAR's row$with.")
fi
for s in "${skipped[@]}"; do notes+=("skipped: $s"); done

attempt_rows=("run	budget	test accuracy	whole-run s	fit s	peak RSS MB	result")
for a in "${attempts[@]}"; do
  IFS=$'\t' read -r id b acc wall fit rss status <<<"$a"
  attempt_rows+=("${label[$id]}	${unit[$id]} $b	$( [[ $acc == - ]] && echo - || percent "$acc")	$wall	$fit	$rss	$status")
done

write_report "dude against LIBLINEAR, scikit-learn and PyTorch: time to target accuracy" "$invocation"
