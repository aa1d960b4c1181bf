#!/usr/bin/env python3
"""scikit-learn LogisticRegression (lbfgs, multinomial) on Fashion-MNIST; --budget is max_iter.

Fixed settings (library defaults except multi_class, which is spelled out): C=1.0, tol=1e-4,
fit_intercept=True, float64 (lbfgs converts to float64 anyway). lbfgs's multinomial loss and
gradient are numpy/BLAS matrix products, so --threads reaches it only through BLAS.
"""
import warnings

from common import Stopwatch, load, parser, report


def main():
    args = parser(__doc__, "lbfgs iterations (max_iter)").parse_args()
    from sklearn.exceptions import ConvergenceWarning
    from sklearn.linear_model import LogisticRegression
    from threadpoolctl import threadpool_limits

    xtr, ytr, xte, yte = load(args.data)
    with threadpool_limits(limits=args.threads):
        model = LogisticRegression(solver="lbfgs", multi_class="multinomial", C=1.0, tol=1e-4,
                                   max_iter=args.budget, random_state=args.seed)
        with Stopwatch() as fit, warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)  # a capped max_iter is the point
            model.fit(xtr, ytr)
        accuracy = model.score(xte, yte)
    report(fit.seconds, accuracy, iterations=int(model.n_iter_[0]))


if __name__ == "__main__":
    main()
