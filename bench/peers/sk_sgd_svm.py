#!/usr/bin/env python3
"""scikit-learn SGDClassifier(loss="log_loss") on LIBSVM files (bench/peers.sh --brown: the
Brown corpus's train.svm / test.svm, hashed by `dude convert`); --budget is epochs (max_iter).

Both files are read by sklearn.datasets.load_svmlight_file with n_features=--features (the
test file may use fewer features than the training file), as float64 CSR, which is what
SGDClassifier works on. Fixed settings (library defaults otherwise): learning_rate="optimal",
tol=None (so exactly --budget epochs run), shuffle=True; --alpha (default 1e-4, the library's)
is the L2 penalty, which also sets the "optimal" step size. Multiclass is one-vs-rest: the
binary problems are spread over n_jobs=--threads threads. Prints the load, fit and total
seconds and the test accuracy in the format of bench/peers/common.py.
"""
import argparse

from common import Stopwatch, fit_sklearn, report


def main():
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--train", required=True)
    p.add_argument("--test", required=True)
    p.add_argument("--features", type=int, default=1 << 20)
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--budget", type=int, required=True, help="epochs (max_iter, with tol=None)")
    p.add_argument("--alpha", type=float, default=1e-4)
    p.add_argument("--seed", type=int, default=1)
    args = p.parse_args()
    from sklearn.datasets import load_svmlight_file
    from sklearn.linear_model import SGDClassifier

    with Stopwatch() as load:
        xtr, ytr = load_svmlight_file(args.train, n_features=args.features)
        xte, yte = load_svmlight_file(args.test, n_features=args.features)
    model = SGDClassifier(loss="log_loss", alpha=args.alpha, max_iter=args.budget, tol=None,
                          n_jobs=args.threads, random_state=args.seed)
    seconds, accuracy = fit_sklearn(model, args, xtr, ytr, xte, yte)
    report(seconds, accuracy, epochs=int(model.n_iter_), alpha=args.alpha,
           **{"load seconds": f"{load.seconds:.2f}",
              "rows": f"{xtr.shape[0]} training, {xte.shape[0]} test"})


if __name__ == "__main__":
    main()
