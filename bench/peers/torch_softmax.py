#!/usr/bin/env python3
"""PyTorch CPU softmax regression on Fashion-MNIST, dude's SGD recipe (see torch_sgd.py)."""
import torch_sgd

if __name__ == "__main__":
    torch_sgd.main([], __doc__)
