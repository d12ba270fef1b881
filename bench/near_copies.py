"""Near-copies pair by pair: of the same-class pairs among a conditional generator's samples, the
share closer than the birthday test's threshold (ganrun/metrics/memorisation.py), against the same
share among the real training images of each class (issue 26: is AC-GAN's dup_rate above the data's?).

    python bench/near_copies.py                          # the real digits only
    python bench/near_copies.py RUN [RUN ...] --n 1000   # and each conditional run: n samples per class,
                                                         # as `ganrun-sample RUN --class K --n 1000` draws them

dup_rate counts batches holding any close pair, so over 25 batches it is 0 or not partly by luck;
this rate uses every same-class pair (1 000 samples per class: 4.995 million pairs).
"""

from __future__ import annotations

import argparse

import torch
from torch import Tensor

from ganrun.data.images import digits
from ganrun.errors import GanrunError, entry_point
from ganrun.metrics.memorisation import Memorisation


def same_class_near_copy_rate(x: Tensor, y: Tensor, tau: float) -> tuple[int, int]:
    """(pairs closer than tau, all pairs) among the pairs of images of the same class."""
    close = total = 0
    for k in y.unique().tolist():
        members = x[y == k].flatten(1).float()
        d = torch.cdist(members, members)
        close += int(torch.triu(d < tau, diagonal=1).sum())
        total += len(members) * (len(members) - 1) // 2
    return close, total


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("runs", nargs="*", help="conditional run folders trained on the digits")
    p.add_argument("--n", type=int, default=1000, help="samples per class (default 1000)")
    args = p.parse_args(argv)
    # a missing or unreadable run, or one without classes: one line, as ganrun's own commands say it
    return entry_point("near_copies.py", lambda: count(args))


def count(args: argparse.Namespace) -> None:
    from ganrun.trained import load_trained

    torch.set_num_threads(1)
    runs = [(run, load_trained(run, "cpu")) for run in args.runs]    # a bad folder stops before the work
    for run, trained in runs:
        if not trained.exp.game.takes_classes:      # its samples would ignore the class asked for
            raise GanrunError(f"{run}: this generator is not conditional (train with game=conditional); "
                              f"near-copies are counted within each class")
    real = digits("digits", 32, "train", "cpu").reference(None)
    tau = Memorisation(real.x, None, "digits").tau
    close, total = same_class_near_copy_rate(real.x, real.y, tau)
    print(f"threshold {tau:.4g} (the 1st percentile of training nearest-neighbour distances)")
    print(f"real digits: {close} of {total} same-class pairs, {close / total:.3g}")
    for run, trained in runs:
        classes = len(trained.data.class_names)
        x = torch.cat([trained.generate(args.n, seed=0, label=k).x for k in range(classes)])
        y = torch.arange(classes).repeat_interleave(args.n)
        close, total = same_class_near_copy_rate(x, y, tau)
        print(f"{run}: {close} of {total} same-class pairs, {close / total:.3g}")


if __name__ == "__main__":
    raise SystemExit(main())
