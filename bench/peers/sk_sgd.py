#!/usr/bin/env python3
"""scikit-learn SGDClassifier(loss="log_loss") on Fashion-MNIST; --budget is epochs (max_iter).

Fixed settings (library defaults otherwise): alpha=1e-4, learning_rate="optimal", tol=None (so
exactly --budget epochs run), shuffle=True, float64. Multiclass is one-vs-rest: the ten binary
problems are spread over n_jobs=--threads threads.
"""
from common import fit_sklearn, load, parser, report


def main():
    args = parser(__doc__, "epochs (max_iter, with tol=None)").parse_args()
    from sklearn.linear_model import SGDClassifier

    xtr, ytr, xte, yte = load(args.data)
    model = SGDClassifier(loss="log_loss", alpha=1e-4, max_iter=args.budget, tol=None,
                          n_jobs=args.threads, random_state=args.seed)
    seconds, accuracy = fit_sklearn(model, args, xtr, ytr, xte, yte)
    report(seconds, accuracy, epochs=int(model.n_iter_))


if __name__ == "__main__":
    main()
