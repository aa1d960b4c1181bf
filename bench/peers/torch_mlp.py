#!/usr/bin/env python3
"""PyTorch CPU MLP (one ReLU hidden layer of 128) on Fashion-MNIST, dude's SGD recipe (see
torch_sgd.py)."""
import torch_sgd

if __name__ == "__main__":
    torch_sgd.main([128], __doc__)
