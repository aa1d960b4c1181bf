#!/usr/bin/env python3
"""Writes the first --train-rows / --test-rows of the Fashion-MNIST IDX files in --data as IDX
files in --out (same names), for bench/peers.sh --quick: every run then reads the same subset."""
import argparse
import os

from common import (TEST_IMAGES, TEST_LABELS, TRAIN_IMAGES, TRAIN_LABELS, read_idx,
                    write_idx)


def main():
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--data", required=True)
    p.add_argument("--out", required=True)
    p.add_argument("--train-rows", type=int, required=True)
    p.add_argument("--test-rows", type=int, required=True)
    args = p.parse_args()
    os.makedirs(args.out, exist_ok=True)
    for name, rows in ((TRAIN_IMAGES, args.train_rows), (TRAIN_LABELS, args.train_rows),
                       (TEST_IMAGES, args.test_rows), (TEST_LABELS, args.test_rows)):
        write_idx(os.path.join(args.out, name), read_idx(os.path.join(args.data, name), rows))


if __name__ == "__main__":
    main()
