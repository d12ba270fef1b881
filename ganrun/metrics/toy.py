"""Exact metrics for the toy distributions (GAN_NOTES §4), in the data's own units.

Each function takes generated samples and returns (values, protocol): stable metric
names with numbers, and for each name one line saying how it was measured.
"""

from __future__ import annotations

import math

import numpy as np
import torch
from torch import Tensor


def mixture_metrics(samples: Tensor, centers: Tensor, std: float, name: str) -> tuple[dict, dict]:
    """The PacGAN protocol (Lin et al. 2018) for Gaussian mixtures (ring, grid).

    A sample is high quality if it lies within 3 std of its nearest mode; a mode is covered
    if it is the nearest mode of at least one high-quality sample; reverse KL is
    KL(p_hist || uniform) over the modes of the high-quality samples.
    """
    x = samples.double().cpu()
    c = centers.double().cpu()
    dist = torch.cdist(x, c)
    nearest_dist, nearest = dist.min(dim=1)
    hq = nearest_dist <= 3 * std
    counts = torch.bincount(nearest[hq], minlength=len(c)).double()
    n_hq = int(hq.sum())
    if n_hq:
        p = counts / n_hq
        rkl = float((p[p > 0] * (p[p > 0] * len(c)).log()).sum())
    else:
        rkl = None        # no high-quality sample: the histogram is undefined
    values = {"modes": int((counts > 0).sum()), "hq": n_hq / len(x), "rkl": rkl}
    n = len(x)
    protocol = {
        "modes": f"{name}: modes (of {len(c)}) nearest to at least one high-quality sample, {n} samples "
                 f"(PacGAN protocol)",
        "hq": f"{name}: share of {n} samples within 3 std ({3 * std:g}) of their nearest mode",
        "rkl": f"{name}: KL(mode histogram of the high-quality samples among {n} samples || uniform over "
               f"{len(c)} modes), in nats; 0 is perfect, ln {len(c)} = {math.log(len(c)):.3f} is one mode",
    }
    return values, protocol


def w1_to_normal(x: np.ndarray, mean: float, std: float) -> float:
    """1-D Wasserstein distance between the samples' empirical law and N(mean, std^2):
    the mean gap between the sorted samples and the matching normal quantiles."""
    from scipy.stats import norm   # imported here: scipy.stats alone takes about a second to load

    n = len(x)
    quantiles = norm.ppf((np.arange(n) + 0.5) / n, loc=mean, scale=std)
    return float(np.abs(np.sort(x) - quantiles).mean())


def gaussian1d_metrics(samples: Tensor, mean: float, std: float, name: str) -> tuple[dict, dict]:
    """Moments, the 1-D Wasserstein distance and the KS statistic against N(mean, std^2)."""
    from scipy.stats import kstest

    x = samples.double().cpu().numpy().ravel()
    n = len(x)
    values = {"mean": float(x.mean()), "std": float(x.std()), "w1": w1_to_normal(x, mean, std),
              "ks": float(kstest(x, "norm", args=(mean, std)).statistic)}
    target = f"N({mean:g}, {std:g}^2)"
    protocol = {
        "mean": f"{name}: sample mean of {n} samples (target {mean:g})",
        "std": f"{name}: sample standard deviation of {n} samples (target {std:g})",
        "w1": f"{name}: 1-D Wasserstein distance from {n} samples to the exact {target}",
        "ks": f"{name}: Kolmogorov-Smirnov statistic of {n} samples against the exact {target}",
    }
    return values, protocol


def curve_metrics(samples: Tensor, curves: Tensor, name: str) -> tuple[dict, dict]:
    """Nearest-real-curve error and how many real curves are hit.

    Errors are root-mean-square over the curve's points. A real curve is hit when it is the
    nearest curve of a sample closer to it than half the smallest distance between two real
    curves (so the sample is unambiguously that curve).
    """
    x, c = samples.double().cpu(), curves.double().cpu()
    # RMSE = Euclidean distance / sqrt(points), pair by pair without a (samples x curves x points) tensor
    scale = c.shape[1] ** 0.5
    rmse = torch.cdist(x, c, compute_mode="donot_use_mm_for_euclid_dist") / scale
    err, nearest = rmse.min(dim=1)
    between = torch.cdist(c, c, compute_mode="donot_use_mm_for_euclid_dist") / scale + torch.eye(len(c)) * 1e9
    tol = float(between.min()) / 2 if len(c) > 1 else 0.05
    hit = torch.unique(nearest[err < tol])
    n = len(x)
    values = {"curve_err": float(err.mean()), "curves_hit": int(len(hit))}
    protocol = {
        "curve_err": f"{name}: mean RMSE from each of {n} samples to its nearest real curve",
        "curves_hit": f"{name}: real curves (of {len(c)}) that are the nearest curve of a sample within "
                      f"RMSE {tol:.4f} (half the smallest gap between real curves), {n} samples",
    }
    return values, protocol
