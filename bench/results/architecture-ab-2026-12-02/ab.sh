#!/bin/bash
# A/B: the base (before the architecture work) and the new binaries, alternating, one session.
F=/usr/share/datasets/fashion-mnist
out=/tmp/ab; mkdir -p $out
filter='limit/read$|logreg/B32/storage_order|logreg/B32/shuffled|server_fold/16Mi/out_of_place|mlp128/B32/shuffled|softmax/B32/shuffled'
for round in 1 2; do
  for side in base main; do
    root=/work/$side/build
    $root/tools/dude bench --train $F/train-images-idx3-ubyte.gz --model softmax --algo dude --workers 1,2 --seconds 3 > $out/bench-softmax-$side-$round.txt 2>&1
    $root/tools/dude bench --train $F/train-images-idx3-ubyte.gz --model mlp:128 --algo dude --workers 1,2 --seconds 3 > $out/bench-mlp-$side-$round.txt 2>&1
    $root/bench/dude_bench_roofline --benchmark_filter="$filter" --benchmark_repetitions=3 --benchmark_report_aggregates_only=true > $out/roofline-$side-$round.txt 2>&1
  done
done
echo done > $out/done
