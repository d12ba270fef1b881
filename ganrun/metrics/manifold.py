"""Fidelity and diversity apart (GAN_NOTES §7.6), in a feature space (the classifier's or
Inception's):
- precision, recall (Kynkäänniemi et al. 2019, k = 3): each sample's ball reaches its k-th nearest
  neighbour in its own set; precision = share of fakes inside some real ball (fidelity), recall =
  share of reals inside some fake ball (diversity). torch-fidelity's implementation.
- density, coverage (Naeem et al. 2020, k = 5): density = (1/kM) sum_j sum_i 1[y_j in B(x_i,
  NND_k(x_i))] (how many real balls hold a fake, on average, over k; about 1 for a matching
  distribution), coverage = share of real x_i whose ball holds a fake. The authors' package (prdc).
At most `MAX_POINTS` of each set are used (the distances are all pairs).
"""

from __future__ import annotations

import contextlib
import io

import numpy as np
from torch import Tensor

MAX_POINTS = 10_000
K_PR, K_DC = 3, 5


def precision_recall(real: Tensor, fake: Tensor, k: int = K_PR) -> tuple[float, float]:
    from torch_fidelity.metric_prc import prc_features_to_metric

    out = prc_features_to_metric(fake[:MAX_POINTS].float().cpu(), real[:MAX_POINTS].float().cpu(),
                                 prc_neighborhood=k, prc_batch_size=10_000, save_cpu_ram=True, verbose=False)
    return float(out["precision"]), float(out["recall"])


def density_coverage(real: Tensor, fake: Tensor, k: int = K_DC) -> tuple[float, float]:
    from prdc import compute_prdc

    r = real[:MAX_POINTS].float().cpu().numpy().astype(np.float32)
    f = fake[:MAX_POINTS].float().cpu().numpy().astype(np.float32)
    with contextlib.redirect_stdout(io.StringIO()):       # prdc prints the set sizes
        out = compute_prdc(real_features=r, fake_features=f, nearest_k=k)
    return float(out["density"]), float(out["coverage"])


def prdc_values(real: Tensor, fake: Tensor, space: str, suffix: str = "") -> tuple[dict, dict]:
    """precision, recall, density, coverage (names + suffix) and their protocol lines. Each set needs
    enough points for a point's k-th neighbour in its own set (k + 1 for precision/recall, k + 2 for
    prdc's density/coverage): with fewer, that pair of metrics is null and its protocol says why."""
    n_f, n_r = min(len(fake), MAX_POINTS), min(len(real), MAX_POINTS)
    sets = f"{n_f} samples against {n_r} real training images in {space}"

    def pair(least: int, compute) -> tuple:
        if min(n_f, n_r) >= least:
            return (*compute(real, fake), sets)
        return None, None, f"null: each set needs at least {least} images ({sets})"

    # the k-th neighbour of a point in its own set: k + 1 points (torch-fidelity), k + 2 (prdc)
    p, r, pr_sets = pair(K_PR + 1, precision_recall)
    d, c, dc_sets = pair(K_DC + 2, density_coverage)
    values = {f"precision{suffix}": p, f"recall{suffix}": r, f"density{suffix}": d, f"coverage{suffix}": c}
    protocol = {
        f"precision{suffix}": f"share of samples inside the k={K_PR} nearest-neighbour ball of some real "
                              f"image (Kynkäänniemi et al. 2019, torch-fidelity); {pr_sets}",
        f"recall{suffix}": f"share of real images inside the k={K_PR} ball of some sample; {pr_sets}",
        f"density{suffix}": f"mean number of real k={K_DC} balls holding a sample, over k (Naeem et al. "
                            f"2020, prdc; about 1 when the sets match); {dc_sets}",
        f"coverage{suffix}": f"share of real images whose k={K_DC} ball holds a sample; {dc_sets}",
    }
    return values, protocol
