# shellcheck shell=bash
# bench/peers/brown.sh: the Brown POS tagging comparison of `bench/peers.sh --brown`. Sourced by
# bench/peers.sh after its options, package checks and shared functions (measure, run_env,
# accuracy_in, fit_in, percent, reached, note, write_report, blas_header); not run on its own.
#
# Data: the output folder of bench/data/brown.sh ($data): train.ft / test.ft (fastText text, one
# row per token, 12 universal tags) for fastText and dude; train.svm / test.svm (the same rows
# with the features dude hashes, 2^20 of them, written by `dude convert`) for LIBLINEAR and
# scikit-learn. Target: 97.0 % test accuracy.
#
# Method. Every attempt is one process (a shell for the two-command peers) under /usr/bin/time
# -f '%e %M': wall seconds from exec to exit, reading the files and the test evaluation included,
# and peak RSS (of the largest process). Every run has a small grid of settings, all of which
# are run; its row shows the fastest attempt that reached the target, or its most accurate one
# when none did ("missed"), and the best accuracy over the grid (LIBLINEAR's grids stop at the
# first success, see below). All attempts are listed under the table. The grids:
#   fastText (Debian 0.9.2), bench/peers/fasttext_run.sh: `fasttext supervised -input train.ft
#     -output M -dim D -epoch E -thread N` then `fasttext test M.bin test.ft`, D in 10 50 100, E in
#     1 2 3 5, every other setting fastText's default. The training command also writes M.vec
#     (the word vectors as text); that is part of fastText's run. `fasttext test` prints P@1 to 3
#     digits only, so after the timed run, untimed, bench/peers/fasttext_accuracy.sh compares
#     `fasttext predict M.bin test.ft` with the test labels: that exact accuracy decides the
#     target (P@1 is listed with each attempt).
#   LIBLINEAR (Debian 2.3.0), bench/peers/liblinear_run.sh: `liblinear-train -s S [-e E] -q
#     train.svm M` then `liblinear-predict test.svm M P`, -s 0 (L2-regularised logistic
#     regression, primal trust-region Newton) and -s 7 (the same loss, dual coordinate descent),
#     C = 1 (default). The one grid that stops at its first success: a 10x looser tolerance than
#     the default first (-s 0: -e 0.1, -s 7: -e 1), the default (-s 0: 0.01, -s 7: 0.1) only if
#     that misses the target. A tighter tolerance only costs more time, and each LIBLINEAR attempt
#     takes minutes here (trial runs on the 2-core machine, under other load: -s 0 -e 0.1 101 s
#     and 97.36 %, -s 0 at the default 175 s and 97.47 %; -s 7 -e 1 134 s, -s 7 at the default
#     153 s, both 97.47 %): all four would make the comparison last about 15 minutes instead of
#     10. Single-threaded; one-vs-rest over the 12 classes.
#   scikit-learn SGDClassifier(loss="log_loss"), bench/peers/sk_sgd_svm.py: load_svmlight_file on
#     both .svm files (n_features 2^20), n_jobs=N (the one-vs-rest classes over N threads),
#     learning_rate "optimal", tol=None; alpha (the L2 penalty, which also sets the step size)
#     1e-5 with 1 and 2 epochs, 1e-6 with 1 2 3 5 (in trial runs the default 1e-4 reached 93.8 %
#     after one epoch, and 1e-7 96.6 % after three, both below 1e-6).
#   dude: `dude train --train train.ft --test test.ft --model softmax --batch 8 --lr 2 --epochs E
#     --threads N --quiet` with `--algo sgd` (one training thread; the N threads parse and
#     evaluate) and with `--algo hogwild --workers N`, E in 1 2; then the same with `--cache DIR`:
#     a first run (timed, not counted) writes DIR/train.ft.dudecache and DIR/test.ft.dudecache,
#     the counted runs map them (the script checks that they leave the cache files unchanged).

brown_ids=(dude-sgd dude-hogwild dude-sgd-cache dude-hogwild-cache fasttext liblinear-s0
           liblinear-s7 sk-sgd)
target=0.970
declare -A label ladder
label[dude-sgd]="dude softmax --algo sgd"
label[dude-hogwild]="dude softmax --algo hogwild --workers $threads"
label[dude-sgd-cache]="dude softmax --algo sgd --cache"
label[dude-hogwild-cache]="dude softmax --algo hogwild --workers $threads --cache"
label[fasttext]="fastText supervised -thread $threads"
label[liblinear-s0]="LIBLINEAR -s 0 (primal Newton)"
label[liblinear-s7]="LIBLINEAR -s 7 (dual CD)"
label[sk-sgd]="sklearn SGDClassifier (log_loss)"
for id in dude-sgd dude-hogwild dude-sgd-cache dude-hogwild-cache; do ladder[$id]="1 2"; done
ladder[fasttext]=$(for d in 10 50 100; do for e in 1 2 3 5; do printf '%s/%s ' "$d" "$e"; done; done)
ladder[liblinear-s0]="0.1 default"
ladder[liblinear-s7]="1 default"
declare -A stop_at_target=([liblinear-s0]=1 [liblinear-s7]=1)  # the rest run their whole grid
ladder[sk-sgd]="1e-5/1 1e-5/2 1e-6/1 1e-6/2 1e-6/3 1e-6/5"

setting() {  # setting ID BUDGET: the attempt's setting as its command line spells it
  case $1 in
    dude-*) echo "--epochs $2" ;;
    fasttext) echo "-dim ${2%/*} -epoch ${2#*/}" ;;
    liblinear-s0) [[ $2 == default ]] && echo "-e 0.01 (default)" || echo "-e $2" ;;
    liblinear-s7) [[ $2 == default ]] && echo "-e 0.1 (default)" || echo "-e $2" ;;
    sk-sgd) echo "alpha ${2%/*}, epochs ${2#*/}" ;;
  esac
}
threads_of() {  # the threads an attempt trains with
  case $1 in
    dude-sgd|dude-sgd-cache) echo "1 ($threads loading)" ;;
    liblinear-*) echo 1 ;;
    *) echo "$threads" ;;
  esac
}

has_cache=0
[[ $("$dude" train --help 2>&1) == *--cache* ]] && has_cache=1
skip_reason() {  # why run $1 cannot run, or nothing
  case $1 in
    fasttext) (( have_fasttext )) || echo "needs fasttext" ;;
    liblinear-*) (( have_liblinear )) || echo "needs liblinear-tools" ;;
    sk-sgd) (( have_sklearn )) || echo "needs python3-sklearn and python3-numpy" ;;
    *-cache) (( has_cache )) || echo "$dude_src has no --cache option (a build older than the cache)" ;;
  esac
}

select_runs label "${brown_ids[@]}"

# ---------------------------------------------------------------------------------------------
# Data
for f in train.ft test.ft train.svm test.svm; do
  [[ -r $data/$f ]] || die "$data/$f not found (bash bench/data/brown.sh writes it; --data DIR)"
done
if [[ -r $data/train.labels && -r $data/test.labels ]] && ! cmp -s "$data/train.labels" "$data/test.labels"; then
  die "$data: train.svm and test.svm number the classes differently (train.labels, test.labels)"
fi
split=$data
if (( quick )); then
  split=$work/subset
  mkdir -p "$split"
  for f in train.ft train.svm; do head -n 200000 "$data/$f" >"$split/$f"; done
  for f in test.ft test.svm; do head -n 30000 "$data/$f" >"$split/$f"; done
  note "quick: first 200000 training rows, 30000 test rows, in $split"
fi
train_rows=$(wc -l <"$split/train.ft")
test_rows=$(wc -l <"$split/test.ft")
mkdir -p "$work/models" "$work/cache"

command_for() {  # command_for ID BUDGET MODEL: sets cmd (an array)
  local id=$1 b=$2 model=$3
  local dude_cmd=("$dude" train --train "$split/train.ft" --test "$split/test.ft" --model softmax
                  --batch 8 --lr 2 --epochs "$b" --threads "$threads" --quiet)
  case $id in
    dude-sgd) cmd=("${dude_cmd[@]}" --algo sgd) ;;
    dude-hogwild) cmd=("${dude_cmd[@]}" --algo hogwild --workers "$threads") ;;
    dude-sgd-cache) cmd=("${dude_cmd[@]}" --algo sgd --cache "$work/cache") ;;
    dude-hogwild-cache) cmd=("${dude_cmd[@]}" --algo hogwild --workers "$threads" --cache "$work/cache") ;;
    fasttext) cmd=(sh "$peers_dir/fasttext_run.sh" "$split/train.ft" "$split/test.ft" "$model"
                   "${b%/*}" "${b#*/}" "$threads") ;;
    liblinear-s*)
      local e=(); [[ $b == default ]] || e=(-e "$b")
      cmd=(sh "$peers_dir/liblinear_run.sh" "$split/train.svm" "$split/test.svm" "$model"
           -s "${id#liblinear-s}" "${e[@]}") ;;
    sk-sgd) cmd=("$python" "$peers_dir/sk_sgd_svm.py" --train "$split/train.svm" --test "$split/test.svm"
                 --threads "$threads" --alpha "${b%/*}" --budget "${b#*/}") ;;
  esac
}
cache_state() { (cd "$work/cache" && stat -c '%n %s %Y' -- *.dudecache 2>/dev/null) || true; }

# ---------------------------------------------------------------------------------------------
# The runs
declare -A r_b r_acc r_wall r_rss r_fit r_hit r_top_b r_top_acc
attempts=()   # "id<TAB>budget<TAB>acc<TAB>wall<TAB>fit<TAB>rss<TAB>status<TAB>remark"
skipped=()
cache_notes=()
for id in "${selected[@]}"; do
  reason=$(skip_reason "$id")
  if [[ -n $reason ]]; then
    note "skipping ${label[$id]}: $reason"
    skipped+=("${label[$id]}: $reason")
    continue
  fi
  budgets=${ladder[$id]}
  (( quick )) && budgets=${budgets%% *}
  if [[ $id == *-cache ]]; then
    # The cache-building run: the first budget with an emptied cache folder.
    rm -f "$work/cache"/*.dudecache
    b=${budgets%% *}
    command_for "$id" "$b" ""
    measure "$work/logs/$id.build" "$threads" "${cmd[@]}"
    (( m_rc == 0 )) || { tail -n 20 "$work/logs/$id.build" >&2; die "${label[$id]}: the cache-building run failed"; }
    built=$(cache_state)
    [[ -n $built ]] || die "${label[$id]}: no .dudecache file in $work/cache after the first run"
    cache_notes+=("${label[$id]}: the cache-building run (--epochs $b) took $m_wall s, peak RSS $m_rss_mb MB, test accuracy $(percent "$(accuracy_in "$work/logs/$id.build")"); cache files: $(cd "$work/cache" && du -ch -- *.dudecache | awk '{ printf "%s%s %s", sep, $2, $1; sep = ", " }')")
    note "${label[$id]}: cache built in $m_wall s"
  fi
  for b in $budgets; do
    tag=${b//\//_}
    log=$work/logs/$id.$tag
    model=$work/models/$id.$tag
    command_for "$id" "$b" "$model"
    measure "$log" "$threads" "${cmd[@]}"
    remark=""
    if [[ $id == fasttext ]]; then
      remark="P@1 $(awk '$1 == "P@1" { print $2 }' "$log")"
      if (( m_rc == 0 )); then
        sh "$peers_dir/fasttext_accuracy.sh" "$model.bin" "$split/test.ft" >>"$log" 2>&1 || m_rc=$?
      fi
    fi
    if [[ $id == *-cache ]] && [[ $(cache_state) != "$built" ]]; then
      remark="the cache was rewritten by this run"
      built=$(cache_state)
    fi
    rm -f "$model" "$model".*
    acc=$(accuracy_in "$log")
    fit=$(fit_in "$log")
    if (( m_rc != 0 )) || [[ -z $acc ]]; then
      note "${label[$id]} $(setting "$id" "$b") FAILED (exit $m_rc); its output:"
      tail -n 20 "$log" >&2
      attempts+=("$id	$b	-	$m_wall	${fit:--}	$m_rss_mb	failed (exit $m_rc)	$remark")
      continue
    fi
    hit=no
    reached "$acc" "$target" && hit=yes
    note "$(printf '%-46s %-26s acc %s  %7.2f s  %5s MB  %s' "${label[$id]}" "$(setting "$id" "$b")" "$acc" "$m_wall" "$m_rss_mb" "$([[ $hit == yes ]] && echo 'target reached' || echo 'below target')")${remark:+  ($remark)}"
    attempts+=("$id	$b	$acc	$m_wall	${fit:--}	$m_rss_mb	$([[ $hit == yes ]] && echo reached || echo below)	$remark")
    # The counted attempt: the fastest that reached the target, else the most accurate.
    if [[ -z ${r_b[$id]+x} ]] ||
       { [[ $hit == yes ]] && { [[ ${r_hit[$id]} == no ]] || awk -v a="$m_wall" -v b="${r_wall[$id]}" 'BEGIN { exit !(a < b) }'; }; } ||
       { [[ $hit == no && ${r_hit[$id]} == no ]] && awk -v a="$acc" -v b="${r_acc[$id]}" 'BEGIN { exit !(a > b) }'; }; then
      r_b[$id]=$b; r_acc[$id]=$acc; r_wall[$id]=$m_wall; r_rss[$id]=$m_rss_mb; r_fit[$id]=${fit:--}
      r_hit[$id]=$hit
    fi
    if [[ -z ${r_top_b[$id]+x} ]] || awk -v a="$acc" -v b="${r_top_acc[$id]}" 'BEGIN { exit !(a > b) }'; then
      r_top_b[$id]=$b; r_top_acc[$id]=$acc
    fi
    [[ $hit == yes && -n ${stop_at_target[$id]-} ]] && break
  done
done
uptime_end=$(uptime)

# ---------------------------------------------------------------------------------------------
# Report
ft_wall=""
[[ ${r_hit[fasttext]-} == yes ]] && ft_wall=${r_wall[fasttext]}
over_fasttext() {  # fastText's whole-run s to the target over run $1's
  if [[ -z $ft_wall ]]; then echo "- (fastText missed)"; return; fi
  [[ ${r_hit[$1]} == yes ]] || { echo "-"; return; }
  awk -v a="$ft_wall" -v b="${r_wall[$1]}" 'BEGIN { if (b > 0) printf "%.2f", a / b; else print "-" }'
}

rows=("run	threads	counted setting	test accuracy	reached 97.0 %?	whole-run s	fit s	peak RSS MB	fastText s / this s	best accuracy (setting)")
for id in "${selected[@]}"; do
  [[ -n ${r_b[$id]+x} ]] || continue
  rows+=("${label[$id]}	$(threads_of "$id")	$(setting "$id" "${r_b[$id]}")	$(percent "${r_acc[$id]}")	$([[ ${r_hit[$id]} == yes ]] && echo yes || echo missed)	${r_wall[$id]}	${r_fit[$id]}	${r_rss[$id]}	$(over_fasttext "$id")	$(percent "${r_top_acc[$id]}") ($(setting "$id" "${r_top_b[$id]}"))")
done

quick_tag=""
(( quick )) && quick_tag=", QUICK (200,000/30,000-row subset, first rung only; accuracies mean nothing)"
header=(
  "dude peer comparison on Brown POS tagging, $started, $(nproc) cores ($cpu), $threads threads per run$quick_tag"
  "data: $split: train.ft / test.ft (fastText text) for fastText and dude, train.svm / test.svm (2^20 hashed features, dude convert) for LIBLINEAR and scikit-learn; $train_rows training and $test_rows test rows, 12 tags; target: 97.0% test accuracy"
  "dude: $dude_src (built $dude_built, tree at commit $commit, sha256 $dude_sha); peers: fasttext $(version fasttext), liblinear-tools $(version liblinear-tools), python3-sklearn $(version python3-sklearn), python3-scipy $(version python3-scipy), python3-numpy $(version python3-numpy), libopenblas0-pthread $(version libopenblas0-pthread); python $python_version ($python)"
  "${blas_header[@]}"
  "load at start: ${uptime_start#*load average: }; at end: ${uptime_end#*load average: }"
)
notes=(
  "whole-run s: /usr/bin/time %e of the whole command (fastText: \`supervised\` then \`test\`; LIBLINEAR: \`liblinear-train\` then \`liblinear-predict\`; scikit-learn: interpreter start, imports, load_svmlight_file of both files, fit, score; dude: parsing or mapping both files, training, test evaluation); fit s: training only, as the program reports it (dude, scikit-learn); peak RSS: /usr/bin/time %M, the largest process."
  "counted setting: the fastest attempt of the run's grid that reached 97.0%, or its most accurate attempt when none did ('missed'); every setting of every grid was run (LIBLINEAR's: until one reached the target), all are listed below. fastText s / this s: the counted fastText whole-run time over the row's, for rows that reached the target."
  "threads: dude --algo sgd trains on one thread (--threads $threads parses and evaluates); hogwild runs $threads workers on one shared model; fastText -thread $threads; SGDClassifier n_jobs=$threads (its one-vs-rest classes; the BLAS does little on sparse input); LIBLINEAR 2.3 is single-threaded."
  "fastText accuracy: \`fasttext test\` prints P@1 to 3 digits (in the attempts' remarks); the accuracy shown and judged is exact, from \`fasttext predict\` on test.ft against its labels (bench/peers/fasttext_accuracy.sh, after the timed run, not timed). fastText's \`supervised\` also writes the .vec text file of all word vectors, which is part of its time. fastText trains with -thread $threads lock-free, so its accuracy varies a little between runs."
  "LIBLINEAR: C=1 (default); bounded: each solver first with a 10x looser tolerance than its default (-s 0: -e 0.1, default 0.01; -s 7: -e 1, default 0.1), at the default only when that missed the target (a tighter tolerance costs more time: in trial runs before this one, under other load, -s 0 took 101 s at -e 0.1 (97.36%) and 175 s at the default (97.47%), -s 7 134 s at -e 1 and 153 s at the default (both 97.47%)); one-vs-rest, single-threaded."
  "scikit-learn SGDClassifier: loss log_loss, learning_rate 'optimal', tol=None (exactly the epochs given), alpha 1e-5 (1, 2 epochs) and 1e-6 (1, 2, 3, 5 epochs); in trial runs before this one the library's default alpha 1e-4 reached 93.8% after one epoch and 1e-7 96.6% after three, both below 1e-6, so neither is in the grid."
)
for c in "${cache_notes[@]}"; do notes+=("--cache: $c"); done
for s in "${skipped[@]}"; do notes+=("skipped: $s"); done

attempt_rows=("run	setting	test accuracy	whole-run s	fit s	peak RSS MB	result	remark")
for a in "${attempts[@]}"; do
  IFS=$'\t' read -r id b acc wall fit rss status remark <<<"$a"
  attempt_rows+=("${label[$id]}	$(setting "$id" "$b")	$( [[ $acc == - ]] && echo - || percent "$acc")	$wall	$fit	$rss	$status	${remark:--}")
done

write_report "dude against fastText, LIBLINEAR and scikit-learn on Brown POS tagging: time to 97.0 % test accuracy" "$invocation"
