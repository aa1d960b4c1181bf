#!/usr/bin/env python3
"""Converts the Fashion-MNIST IDX files in --data to LIBSVM text (train.svm, test.svm in --out),
for LIBLINEAR, which cannot read IDX. Pixels are written /255 to 4 significant digits (enough to
tell all 256 byte values apart) and zero pixels are left out; feature indices are 1-based.
"""
import argparse
import os
import time

import numpy as np

from common import load_raw


def write(path, images, labels):
    # Every "index:value" token precomputed: token[feature * 256 + byte].
    features = images.shape[1]
    values = [f"{v / 255:.4g}" for v in range(256)]
    token = [f"{j + 1}:{values[v]}" for j in range(features) for v in range(256)]
    base = np.arange(features, dtype=np.int64) * 256
    with open(path, "w", buffering=1 << 22) as out:
        for row, label in zip(images, labels):
            nonzero = np.flatnonzero(row)
            keys = (base[nonzero] + row[nonzero]).tolist()
            out.write(f"{int(label)} " + " ".join(map(token.__getitem__, keys)) + "\n")


def main():
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--data", required=True)
    p.add_argument("--out", required=True)
    args = p.parse_args()
    start = time.perf_counter()
    xtr, ytr, xte, yte = load_raw(args.data)
    os.makedirs(args.out, exist_ok=True)
    write(os.path.join(args.out, "train.svm"), xtr, ytr)
    write(os.path.join(args.out, "test.svm"), xte, yte)
    print(f"converted {len(xtr)} + {len(xte)} rows in {time.perf_counter() - start:.2f}s")


if __name__ == "__main__":
    main()
