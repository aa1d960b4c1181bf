"""PyTorch (CPU) softmax regression / MLP trained with dude's own recipe, for torch_softmax.py
and torch_mlp.py.

The recipe is the one `dude train` uses by default, so that the comparison is of
implementations, not of algorithms: plain minibatch SGD (no momentum, no weight decay), batch
32, learning rate 0.2 on the batch-mean cross-entropy, cosine decay per step over the whole
budget to 0, a fresh shuffle each epoch, float32. Initialisation as dude's: softmax regression
starts at zero; an MLP has He-normal weights for the ReLU layers, LeCun-normal for the output
layer, zero biases. --budget is the number of epochs; the test set is evaluated once, at the end.
"""
import math

import numpy as np

from common import Stopwatch, load, parser, report

BATCH = 32
LR = 0.2


def build(torch, widths, features, classes):
    layers = []
    dims = [features, *widths, classes]
    for i in range(len(dims) - 1):
        linear = torch.nn.Linear(dims[i], dims[i + 1])
        with torch.no_grad():
            linear.bias.zero_()
            if len(dims) == 2:
                linear.weight.zero_()
            else:
                gain = 2.0 if i + 2 < len(dims) else 1.0
                linear.weight.normal_(0.0, math.sqrt(gain / dims[i]))
        layers.append(linear)
        if i + 2 < len(dims):
            layers.append(torch.nn.ReLU())
    return torch.nn.Sequential(*layers)


def main(widths, description):
    args = parser(description, "epochs").parse_args()
    import torch

    torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)
    xtr, ytr, xte, yte = load(args.data, dtype=np.float32)
    xtr, ytr = torch.from_numpy(xtr), torch.from_numpy(ytr)
    xte, yte = torch.from_numpy(xte), torch.from_numpy(yte)
    classes = int(max(ytr.max(), yte.max())) + 1
    model = build(torch, widths, xtr.shape[1], classes)
    optimiser = torch.optim.SGD(model.parameters(), lr=LR)
    loss_fn = torch.nn.CrossEntropyLoss()

    n = xtr.shape[0]
    steps_per_epoch = (n + BATCH - 1) // BATCH
    total = steps_per_epoch * args.budget
    step = 0
    with Stopwatch() as fit:
        for _ in range(args.budget):
            order = torch.randperm(n)
            for start in range(0, n, BATCH):
                rows = order[start:start + BATCH]
                lr = LR * 0.5 * (1.0 + math.cos(math.pi * step / total))
                for group in optimiser.param_groups:
                    group["lr"] = lr
                optimiser.zero_grad(set_to_none=True)
                loss = loss_fn(model(xtr[rows]), ytr[rows])
                loss.backward()
                optimiser.step()
                step += 1
    with torch.inference_mode():
        accuracy = (model(xte).argmax(dim=1) == yte).double().mean().item()
    report(fit.seconds, accuracy, epochs=args.budget, steps=step)
