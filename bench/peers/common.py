"""Shared plumbing for the peer runs of bench/peers.sh.

Every peer reads the same Fashion-MNIST IDX files that dude reads (gzip + numpy; no
torchvision, no fetching), scales the pixels to [0, 1] by /255, and ends by printing
    fit seconds: S        (training only, for comparison with fit-time-only figures)
    test accuracy: A      (same line format as `dude train`)
so that bench/peers.sh can parse every run the same way. The whole-run time (interpreter
start, imports and data loading included) is measured outside, by /usr/bin/time.
"""

import argparse
import gzip
import os
import struct
import sys
import time
import warnings

import numpy as np

TRAIN_IMAGES = "train-images-idx3-ubyte.gz"
TRAIN_LABELS = "train-labels-idx1-ubyte.gz"
TEST_IMAGES = "t10k-images-idx3-ubyte.gz"
TEST_LABELS = "t10k-labels-idx1-ubyte.gz"


def read_idx(path, limit=None):
    """An IDX file (unsigned bytes; gzip-compressed if the name ends in .gz) as a uint8 array."""
    opener = gzip.open if path.endswith(".gz") else open
    with opener(path, "rb") as f:
        raw = f.read()
    if len(raw) < 4 or raw[0] != 0 or raw[1] != 0:
        raise ValueError(f"{path}: not an IDX file")
    if raw[2] != 0x08:
        raise ValueError(f"{path}: IDX type 0x{raw[2]:02x}, expected unsigned bytes (0x08)")
    ndim = raw[3]
    dims = struct.unpack(">" + "I" * ndim, raw[4:4 + 4 * ndim])
    array = np.frombuffer(raw, dtype=np.uint8, offset=4 + 4 * ndim)
    if array.size != int(np.prod(dims)):
        raise ValueError(f"{path}: {array.size} values, header says {dims}")
    array = array.reshape(dims)
    return array[:limit] if limit else array


def write_idx(path, array):
    """Writes a uint8 array as a gzip-compressed IDX file (used for --quick subsets)."""
    array = np.ascontiguousarray(array, dtype=np.uint8)
    header = bytes([0, 0, 0x08, array.ndim]) + struct.pack(">" + "I" * array.ndim, *array.shape)
    with gzip.open(path, "wb", compresslevel=1) as f:
        f.write(header)
        f.write(array.tobytes())


def load_raw(data_dir):
    """(train images as N x 784 uint8, train labels, test images, test labels)."""
    def flat(a):
        return a.reshape(a.shape[0], -1)
    xtr = flat(read_idx(os.path.join(data_dir, TRAIN_IMAGES)))
    ytr = read_idx(os.path.join(data_dir, TRAIN_LABELS))
    xte = flat(read_idx(os.path.join(data_dir, TEST_IMAGES)))
    yte = read_idx(os.path.join(data_dir, TEST_LABELS))
    if len(xtr) != len(ytr) or len(xte) != len(yte):
        raise ValueError(f"{data_dir}: image and label counts differ")
    return xtr, ytr, xte, yte


def load(data_dir, dtype=np.float64):
    """Pixels scaled to [0, 1] in dtype; labels as int64."""
    xtr, ytr, xte, yte = load_raw(data_dir)
    scale = np.dtype(dtype).type(1.0 / 255.0)  # a scalar of dtype keeps the arrays in dtype
    return (xtr.astype(dtype) * scale, ytr.astype(np.int64),
            xte.astype(dtype) * scale, yte.astype(np.int64))


def parser(description, budget_help):
    p = argparse.ArgumentParser(description=description)
    p.add_argument("--data", required=True, help="directory holding the four Fashion-MNIST IDX .gz files")
    p.add_argument("--threads", type=int, default=1, help="threads the library may use")
    p.add_argument("--budget", type=int, required=True, help=budget_help)
    p.add_argument("--seed", type=int, default=1)
    return p


def report(fit_seconds, accuracy, **extra):
    for key, value in extra.items():
        print(f"{key}: {value}")
    print(f"fit seconds: {fit_seconds:.2f}")
    print(f"test accuracy: {accuracy:.4f}")
    sys.stdout.flush()


class Stopwatch:
    def __enter__(self):
        self.start = time.perf_counter()
        return self

    def __exit__(self, *exc):
        self.seconds = time.perf_counter() - self.start
        return False


def fit_sklearn(model, args, xtr, ytr, xte, yte):
    """Fits a scikit-learn model on `args.threads` BLAS threads, a capped iteration count's
    ConvergenceWarning silenced (the cap is the budget); returns (fit seconds, test accuracy)."""
    from sklearn.exceptions import ConvergenceWarning
    from threadpoolctl import threadpool_limits

    with threadpool_limits(limits=args.threads):
        with Stopwatch() as fit, warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            model.fit(xtr, ytr)
        accuracy = model.score(xte, yte)
    return fit.seconds, accuracy
