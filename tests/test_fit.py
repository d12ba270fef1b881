"""Every loss fits the 1-D Gaussian N(4, 0.5^2) with its preset and no other override (GAN_NOTES §4).

Slow (about two minutes for all losses on 2 cores): `make test-slow` runs it; bench/toy_fit.py
prints the same figures over several seeds.
"""

from __future__ import annotations

import numpy as np
import pytest
from scipy.stats import norm

from conftest import ganrun

LOSSES = ["mm", "ns", "wgan", "wgan_gp", "lsgan", "dragan", "began", "hinge", "rsgan", "ragan"]


def w1_to_normal(x: np.ndarray, mean: float, std: float) -> float:
    """1-D Wasserstein distance between the samples' empirical law and N(mean, std^2):
    the mean gap between sorted samples and the matching quantiles of the normal."""
    n = len(x)
    quantiles = norm.ppf((np.arange(n) + 0.5) / n, loc=mean, scale=std)
    return float(np.abs(np.sort(x) - quantiles).mean())


def test_w1_to_normal_on_exact_quantiles_and_shifted_ones():
    q = norm.ppf((np.arange(2500) + 0.5) / 2500, loc=4, scale=0.5)
    assert w1_to_normal(q, 4, 0.5) == pytest.approx(0, abs=1e-12)
    assert w1_to_normal(q + 0.3, 4, 0.5) == pytest.approx(0.3)


@pytest.mark.slow
@pytest.mark.parametrize("loss", LOSSES)
def test_gaussian1d_is_fitted_by_every_loss(loss, tmp_path):
    ganrun("dataset=gaussian1d", "model=mlp", f"loss={loss}", cwd=tmp_path)
    (run,) = (tmp_path / "outputs").glob("*/*")
    ganrun(str(run), "--n", "2500", "--out", "x.npy", cwd=tmp_path, script="ganrun-sample")
    x = np.load(tmp_path / "x.npy").ravel()
    assert abs(x.mean() - 4.0) < 0.2, f"mean {x.mean():.3f}"
    assert abs(x.std() - 0.5) < 0.2, f"std {x.std():.3f}"
    assert w1_to_normal(x, 4.0, 0.5) <= 0.15
