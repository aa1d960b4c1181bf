#!/usr/bin/env python3
"""scikit-learn LogisticRegression (lbfgs, multinomial) on Fashion-MNIST; --budget is max_iter.

Fixed settings (library defaults except multi_class, which is spelled out): C=1.0, tol=1e-4,
fit_intercept=True, float64 (lbfgs converts to float64 anyway). lbfgs's multinomial loss and
gradient are numpy/BLAS matrix products, so --threads reaches it only through BLAS.
"""
from common import fit_sklearn, load, parser, report


def main():
    args = parser(__doc__, "lbfgs iterations (max_iter)").parse_args()
    from sklearn.linear_model import LogisticRegression

    xtr, ytr, xte, yte = load(args.data)
    model = LogisticRegression(solver="lbfgs", multi_class="multinomial", C=1.0, tol=1e-4,
                               max_iter=args.budget, random_state=args.seed)
    seconds, accuracy = fit_sklearn(model, args, xtr, ytr, xte, yte)
    report(seconds, accuracy, iterations=int(model.n_iter_[0]))


if __name__ == "__main__":
    main()
