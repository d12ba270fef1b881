"""Logged terms: what each update of a game hands to the logs.

A term is a scalar tensor (a loss; the logs detach it) or a `Later`: a statistic of some detached
tensors (D's scores on a batch, say) that the logs compute at log time, for all the updates of the
logging window at once. The update then pays for a detach, not for the few small tensor operations
of each statistic: on a small model those cost as much as a tenth of the step
(`bench/step_speed.py --pieces`).

Each statistic takes its inputs stacked over updates, [n, ...], and gives one value per update, [n].
"""

from __future__ import annotations

from typing import Callable, NamedTuple, Union

import torch
from torch import Tensor


class Later(NamedTuple):
    statistic: Callable[..., Tensor]     # stacked inputs [n, ...] -> one value per update [n]
    inputs: tuple[Tensor, ...]           # detached


Term = Union[Tensor, Later]
Terms = dict[str, Term]


def later(statistic: Callable[..., Tensor], *inputs: Tensor) -> Later:
    """`statistic` of these tensors, computed when the term is logged. Pass them detached (a kept
    graph would live until then); they are not detached here, as one tensor often feeds several terms."""
    return Later(statistic, inputs)


def now(term: Term) -> Tensor:
    """A term's value at once (for the few parts that steer by it: BEGAN's k, ADA's p, MIX+GAN's mix)."""
    if isinstance(term, Later):
        return term.statistic(*(x.unsqueeze(0) for x in term.inputs))[0]
    return term


def values(items: list[Term]) -> Tensor:
    """One value per update, [n], for a window's items of one term (float32, on their device)."""
    first = items[0]
    if isinstance(first, Later):
        same = all(isinstance(t, Later) and t.statistic is first.statistic
                   and [x.shape for x in t.inputs] == [x.shape for x in first.inputs] for t in items)
        if same:                          # the usual case: one vectorised statistic for the window
            return first.statistic(*(torch.stack(xs) for xs in zip(*(t.inputs for t in items)))).float()
    elif all(isinstance(t, Tensor) and t.shape == first.shape for t in items):
        return mean(torch.stack(items))
    return torch.stack([now(t).float().reshape(()) for t in items])


# -- statistics ---------------------------------------------------------------
def rows(x: Tensor) -> Tensor:
    return x.float().reshape(len(x), -1)


def mean(x: Tensor) -> Tensor:
    """The mean of each update's tensor (a scalar is its own mean)."""
    return rows(x).mean(1)


def share_positive(scores: Tensor) -> Tensor:
    """The share of scores above 0 (D calls those samples real)."""
    return (rows(scores) > 0).float().mean(1)


def share_negative(scores: Tensor) -> Tensor:
    """The share of scores below 0 (D calls those samples fake)."""
    return (rows(scores) < 0).float().mean(1)


def mean_sign(scores: Tensor) -> Tensor:
    """E[sign D(x)]: ADA's overfitting heuristic r_t on real samples."""
    return rows(scores).sign().mean(1)


def mean_difference(a: Tensor, b: Tensor) -> Tensor:
    """E[a] - E[b] per update (the critic's Wasserstein estimate from its scores)."""
    return mean(a) - mean(b)
