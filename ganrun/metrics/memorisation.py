"""Memorisation checks (GAN_NOTES §6): does G copy its training images, and how big is its support?

Distances are Euclidean, in pixel space ([-1, 1]), so they need no feature network and
apply to any image set.
- mem_gen_nn / mem_real_nn / mem_ratio: the median distance from generated samples to their
  nearest training image, against the same for real held-out images. A ratio well below 1
  means G's samples sit closer to training images than new real images do: copies.
- dup_rate / dup_rate_real / support: the birthday-paradox test (Arora & Zhang 2017). In
  batches of `batch` samples, a pair closer than tau is a near-duplicate, tau being the 1st
  percentile of the distances between training images and their nearest other training
  image. If a batch of s samples holds a duplicate with probability P, the support holds
  about s(s-1) / (2 ln(1 / (1 - P))) distinct samples. Real data holds near-copies too (the
  digits: about 3% of batches), so dup_rate is read against dup_rate_real, not against 0.
"""

from __future__ import annotations

import math
from typing import Optional

import torch
from torch import Tensor

REAL_BATCHES = 200    # at least this many batches of real images for dup_rate_real


def nearest_distances(queries: Tensor, refs: Tensor, exclude_self: bool = False, chunk: int = 512) -> Tensor:
    """For each query, the distance to its nearest reference (optionally not itself: same index)."""
    q, r = queries.flatten(1).float(), refs.flatten(1).float()
    out = []
    for start in range(0, len(q), chunk):
        d = torch.cdist(q[start:start + chunk], r)
        if exclude_self:
            rows = torch.arange(len(d), device=d.device)
            d[rows, rows + start] = float("inf")
        out.append(d.min(dim=1).values)
    return torch.cat(out)


def duplicate_rate(samples: Tensor, batch: int, tau: float) -> Optional[float]:
    """Share of consecutive batches of `batch` samples that contain a pair closer than tau;
    None when there are fewer than `batch` samples."""
    x = samples.flatten(1).float()
    n_batches = len(x) // batch
    if n_batches == 0:
        return None
    hits = 0
    for b in range(n_batches):
        d = torch.cdist(x[b * batch:(b + 1) * batch], x[b * batch:(b + 1) * batch])
        d.fill_diagonal_(float("inf"))
        hits += bool(d.min() < tau)
    return hits / n_batches


def support_estimate(p_dup: Optional[float], batch: int) -> Optional[float]:
    """Birthday-paradox support size for a duplicate probability p_dup in batches of `batch`."""
    if p_dup is None or not 0 < p_dup < 1:
        return None
    return batch * (batch - 1) / (2 * math.log(1 / (1 - p_dup)))


class Memorisation:
    def __init__(self, train: Tensor, heldout: Optional[Tensor], name: str, batch: int = 100,
                 max_ref: int = 10_000):
        g = torch.Generator().manual_seed(0)
        keep = torch.randperm(len(train), generator=g)[:max_ref].to(train.device)
        self.ref = train[keep]
        self.name, self.batch = name, batch
        probe = self.ref[:1000]
        self.tau = float(torch.quantile(nearest_distances(probe, self.ref, exclude_self=True), 0.01))
        self.real_nn = None
        if heldout is not None and len(heldout):
            self.real_nn = float(nearest_distances(heldout[:1000], self.ref).median())
        self.dup_real = self.real_duplicate_rate(g)

    def real_duplicate_rate(self, g: torch.Generator, min_batches: int = REAL_BATCHES) -> Optional[float]:
        """dup_rate of the real training images: the reference a sample's rate is read against.
        One shuffle of a small set gives few batches (the 1 438 digits: 14, whose rate reads 0 or
        0.07 by chance), so the set is reshuffled until at least min_batches batches are drawn
        (the digits' rate is then about 0.03: near-copy pairs are part of real data)."""
        per_shuffle = len(self.ref) // self.batch
        if per_shuffle == 0:
            return None
        shuffles = -(-min_batches // per_shuffle)
        rates = [duplicate_rate(self.ref[torch.randperm(len(self.ref), generator=g).to(self.ref.device)],
                                self.batch, self.tau) for _ in range(shuffles)]
        return sum(rates) / shuffles

    def __call__(self, fake: Tensor) -> tuple[dict, dict]:
        gen_nn = float(nearest_distances(fake[:1000], self.ref).median())
        dup = duplicate_rate(fake, self.batch, self.tau)
        values = {"mem_gen_nn": gen_nn, "dup_rate": dup, "dup_rate_real": self.dup_real,
                  "support": support_estimate(dup, self.batch)}
        if self.real_nn is not None:
            values["mem_real_nn"] = self.real_nn
            values["mem_ratio"] = gen_nn / self.real_nn if self.real_nn > 0 else None
        n_gen, n_ref, s = min(1000, len(fake)), len(self.ref), self.batch
        protocol = {
            "mem_gen_nn": f"median pixel-space L2 distance from {n_gen} samples to their nearest of {n_ref} "
                          f"{self.name} training images",
            "mem_real_nn": f"the same for up to 1000 real held-out {self.name} images",
            "mem_ratio": "mem_gen_nn / mem_real_nn: about 1 is healthy, well below 1 means copies of "
                         "training images",
            "dup_rate": f"share of {len(fake) // s} batches of {s} samples holding a near-duplicate pair "
                        f"(L2 < {self.tau:.4g}, the 1st percentile of training nearest-neighbour distances)",
            "dup_rate_real": f"the same for at least {REAL_BATCHES} batches of {s} real training images (reshuffled "
                             f"as needed); null when there are fewer than {s} of them (lower eval.dup_batch)",
            "support": f"birthday-paradox support size s(s-1)/(2 ln(1/(1-dup_rate))), s={s}; "
                       f"null when no batch (or every batch) held a duplicate",
        }
        return values, {k: v for k, v in protocol.items() if k in values}
