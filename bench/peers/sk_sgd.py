#!/usr/bin/env python3
"""scikit-learn SGDClassifier(loss="log_loss") on Fashion-MNIST; --budget is epochs (max_iter).

Fixed settings (library defaults otherwise): alpha=1e-4, learning_rate="optimal", tol=None (so
exactly --budget epochs run), shuffle=True, float64. Multiclass is one-vs-rest: the ten binary
problems are spread over n_jobs=--threads threads.
"""
import warnings

from common import Stopwatch, load, parser, report


def main():
    args = parser(__doc__, "epochs (max_iter, with tol=None)").parse_args()
    from sklearn.exceptions import ConvergenceWarning
    from sklearn.linear_model import SGDClassifier
    from threadpoolctl import threadpool_limits

    xtr, ytr, xte, yte = load(args.data)
    with threadpool_limits(limits=args.threads):
        model = SGDClassifier(loss="log_loss", alpha=1e-4, max_iter=args.budget, tol=None,
                              n_jobs=args.threads, random_state=args.seed)
        with Stopwatch() as fit, warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            model.fit(xtr, ytr)
        accuracy = model.score(xte, yte)
    report(fit.seconds, accuracy, epochs=int(model.n_iter_))


if __name__ == "__main__":
    main()
