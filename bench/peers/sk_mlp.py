#!/usr/bin/env python3
"""scikit-learn MLPClassifier(hidden_layer_sizes=(128,)) on Fashion-MNIST; --budget is epochs.

Fixed settings (library defaults otherwise): ReLU, adam with learning_rate_init=1e-3,
batch_size=200 (the default "auto" on this data), alpha=1e-4, float32 input (the MLP keeps
float32), early_stopping=False, and n_iter_no_change above the budget so that exactly --budget
epochs run. The layers are numpy/BLAS matrix products, so --threads reaches it only through BLAS.
"""
import numpy as np

from common import fit_sklearn, load, parser, report


def main():
    args = parser(__doc__, "epochs (max_iter)").parse_args()
    from sklearn.neural_network import MLPClassifier

    xtr, ytr, xte, yte = load(args.data, dtype=np.float32)
    model = MLPClassifier(hidden_layer_sizes=(128,), activation="relu", solver="adam",
                          learning_rate_init=1e-3, batch_size=200, alpha=1e-4,
                          max_iter=args.budget, n_iter_no_change=args.budget + 1,
                          early_stopping=False, shuffle=True, random_state=args.seed)
    seconds, accuracy = fit_sklearn(model, args, xtr, ytr, xte, yte)
    report(seconds, accuracy, epochs=int(model.n_iter_))


if __name__ == "__main__":
    main()
