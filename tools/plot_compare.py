#!/usr/bin/env python3
"""Plots a `dude compare` output directory: test accuracy against time, against training
samples (epochs) and against server steps, one line per algorithm at its best learning rate
(the mean over seeds, with a band from the lowest to the highest seed), into OUTDIR/compare.png.

    python3 tools/plot_compare.py OUTDIR [--out FILE] [--dpi N]

Reads OUTDIR/settings.json (the setting, for the title and the time axis: virtual time in
deterministic runs, wall seconds with threads), OUTDIR/summary.csv (which learning rate is each
algorithm's best; recomputed from the run files, as the highest mean final test accuracy over
seeds, when summary.csv is missing) and OUTDIR/runs/<algo>_lr<lr>_seed<s>.jsonl.

Exit status: 0 done, 1 bad input, 3 matplotlib (or numpy) is not installed (`dude compare
--plot` then tries another interpreter, or reports it and keeps the data files).
"""
import argparse
import csv
import json
import math
import os
import re
import sys

try:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import numpy as np
except ImportError as error:  # pragma: no cover - depends on the machine
    if "--quiet-if-missing" not in sys.argv:  # dude compare --plot reports it itself
        print(f"plot_compare.py: {error}; install python3-matplotlib (Debian) to draw plots",
              file=sys.stderr)
    sys.exit(3)

COLOURS = {
    "dude": "tab:red",
    "asgd": "tab:blue",
    "hogwild": "tab:cyan",
    "sync": "tab:green",
    "fedbuff": "tab:orange",
}
SPARE = ["tab:purple", "tab:brown", "tab:pink", "tab:olive", "tab:gray"]
RUN_NAME = re.compile(r"^(?P<algo>.+)_lr(?P<lr>[^_]+)_seed(?P<seed>\d+)\.jsonl$")


def file_algo(algo):
    """The algorithm as it appears in run file names (fedbuff:4 -> fedbuff-4)."""
    return algo.replace(":", "-")


def read_run(path):
    """Evaluation points of one run (records with a test accuracy), and whether it diverged."""
    points, diverged = [], False
    with open(path, encoding="utf-8") as f:
        for line in f:
            line = line.strip()
            if not line:
                continue
            record = json.loads(line)
            if record.get("diverged"):
                diverged = True
            elif "test_accuracy" in record:
                points.append(record)
    return points, diverged


def best_from_summary(path):
    """{algorithm: lr text} from the rows of summary.csv marked best."""
    best = {}
    with open(path, newline="", encoding="utf-8") as f:
        for row in csv.DictReader(f):
            if row.get("best") == "1":
                best[row["algorithm"]] = row["lr"]
    return best


def best_from_runs(runs_dir, algos, lrs, seeds):
    """Recomputes each algorithm's best lr: highest mean final accuracy, no diverged seed."""
    best = {}
    for algo in algos:
        chosen, chosen_mean = None, -math.inf
        for lr in lrs:
            finals = []
            for seed in seeds:
                path = os.path.join(runs_dir, f"{file_algo(algo)}_lr{lr}_seed{seed}.jsonl")
                if not os.path.exists(path):
                    finals = None
                    break
                points, diverged = read_run(path)
                if diverged or not points:
                    finals = None
                    break
                finals.append(points[-1]["test_accuracy"])
            if finals and sum(finals) / len(finals) > chosen_mean:
                chosen, chosen_mean = lr, sum(finals) / len(finals)
        if chosen is not None:
            best[algo] = chosen
    return best


def settings_from_runs(runs_dir):
    """Algorithms, lrs and seeds named by the run files (when settings.json is missing)."""
    algos, lrs, seeds = [], [], []
    for name in sorted(os.listdir(runs_dir)):
        m = RUN_NAME.match(name)
        if not m:
            continue
        algo = m["algo"].replace("-", ":")
        for value, values in ((algo, algos), (m["lr"], lrs), (int(m["seed"]), seeds)):
            if value not in values:
                values.append(value)
    return {"algos": algos, "lrs": lrs, "seeds": seeds}


def band(curves, key):
    """Mean, min and max over seeds of accuracy against `key`, on a common grid of x where
    every seed has points (linear interpolation between evaluation points)."""
    xs = [np.array([p[key] for p in c], dtype=float) for c in curves]
    ys = [np.array([p["test_accuracy"] for p in c], dtype=float) for c in curves]
    lo = max(x[0] for x in xs)
    hi = min(x[-1] for x in xs)
    if len(curves) == 1 or not hi > lo:
        return xs[0], ys[0], ys[0], ys[0]
    grid = np.unique(np.concatenate([x[(x >= lo) & (x <= hi)] for x in xs] + [np.array([lo, hi])]))
    values = np.array([np.interp(grid, x, y) for x, y in zip(xs, ys)])
    return grid, values.mean(axis=0), values.min(axis=0), values.max(axis=0)


def shrink(path):
    """Rewrites the PNG with a 128-colour palette (a third of the size) when Pillow is there."""
    try:
        from PIL import Image
    except ImportError:
        return
    with Image.open(path) as image:
        small = image.convert("RGB").quantize(colors=128)
    small.save(path, format="PNG", optimize=True)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("outdir", help="a dude compare --out directory")
    parser.add_argument("--out", help="the PNG to write (default OUTDIR/compare.png)")
    parser.add_argument("--dpi", type=int, default=85)
    parser.add_argument("--quiet-if-missing", action="store_true",
                        help="exit 3 silently when matplotlib is missing")
    args = parser.parse_args()

    runs_dir = os.path.join(args.outdir, "runs")
    if not os.path.isdir(runs_dir):
        print(f"plot_compare.py: {runs_dir}: no such directory", file=sys.stderr)
        return 1
    settings_path = os.path.join(args.outdir, "settings.json")
    if os.path.exists(settings_path):
        with open(settings_path, encoding="utf-8") as f:
            settings = json.load(f)
    else:
        settings = settings_from_runs(runs_dir)
    summary_path = os.path.join(args.outdir, "summary.csv")
    if os.path.exists(summary_path):
        best = best_from_summary(summary_path)
    else:
        best = best_from_runs(runs_dir, settings["algos"], settings["lrs"], settings["seeds"])
    if not best:
        print("plot_compare.py: no algorithm has a learning rate without divergence", file=sys.stderr)
        return 1

    deterministic = settings.get("deterministic", False)
    time_label = ("virtual time (units of one unslowed gradient)" if deterministic
                  else "wall-clock time (s)")
    axes_spec = [("wall_s", time_label), ("epoch", "training samples (epochs, all workers)"),
                 ("step", "server steps (sync: rounds of n; fedbuff:K: flushes of K)")]
    fig, axes = plt.subplots(1, 3, figsize=(15, 4.6), sharey=True)
    spare = iter(SPARE)
    floor = 1.0
    for algo in settings["algos"]:
        if algo not in best:
            continue
        lr = best[algo]
        curves = []
        for seed in settings["seeds"]:
            path = os.path.join(runs_dir, f"{file_algo(algo)}_lr{lr}_seed{seed}.jsonl")
            if os.path.exists(path):
                points, diverged = read_run(path)
                if points and not diverged:
                    curves.append(points)
        if not curves:
            continue
        colour = COLOURS.get(algo.split(":")[0]) or next(spare, "black")
        label = f"{algo} (lr {lr})"
        for ax, (key, _) in zip(axes, axes_spec):
            x, mean, low, high = band(curves, key)
            # hogwild dashed: with --deterministic it replays asgd's rule and lies on asgd.
            style = "--" if algo == "hogwild" else "-"
            ax.plot(x, mean, style, color=colour, label=label, linewidth=1.6)
            if len(curves) > 1:
                ax.fill_between(x, low, high, color=colour, alpha=0.18, linewidth=0)
            floor = min(floor, float(np.min(low)))
    target = settings.get("target")
    for ax, (key, label) in zip(axes, axes_spec):
        if key != "epoch":
            # Sync's rounds wait for the slowest worker: its time (and the others' step counts)
            # can be ten times the asynchronous algorithms'; a log axis shows both.
            ax.set_xscale("log")
            label += ", log scale"
        ax.set_xlabel(label)
        ax.grid(True, alpha=0.3)
        if target:
            ax.axhline(target, color="gray", linestyle="--", linewidth=0.8)
    if target:
        axes[0].text(0.99, target, f" target {target:g}", color="gray", ha="right", va="bottom",
                     transform=axes[0].get_yaxis_transform(), fontsize=8)
    axes[0].set_ylabel("test accuracy")
    axes[0].set_ylim(max(0.0, math.floor(floor * 20) / 20 - 0.05), None)
    axes[0].legend(loc="lower right", fontsize=9)
    seeds = settings.get("seeds", [])
    title = settings.get("setting", os.path.basename(os.path.normpath(args.outdir)))
    fig.suptitle(f"{title}\neach algorithm at its best lr; mean of {len(seeds)} seeds, "
                 f"band: min–max over seeds", fontsize=10)
    fig.tight_layout()

    out = args.out or os.path.join(args.outdir, "compare.png")
    temporary = f"{out}.tmp.{os.getpid()}"
    try:
        fig.savefig(temporary, dpi=args.dpi, format="png")
        shrink(temporary)
        os.replace(temporary, out)
    finally:
        if os.path.exists(temporary):
            os.remove(temporary)
    return 0


if __name__ == "__main__":
    sys.exit(main())
