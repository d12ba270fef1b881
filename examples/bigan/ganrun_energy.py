"""A metric as a ganrun plugin, in one file: the energy distance between generated and real points.

    E = 2 E|X - Y| - E|X - X'| - E|Y - Y'|   (Székely & Rizzo), 0 exactly when the distributions agree.

Registered for the "points" kind (ring, grid, spiral): every evaluation of such a run reports it
as `energy`, with its protocol line, beside modes, hq and rkl.
"""

from __future__ import annotations

from ganrun.config import register_metric

register_metric("points", "ganrun_energy:build")


def build(cfg_eval, data, device, cache_dir):
    real = data.to_data(data.reference(2000).x).double()

    def energy(batch):
        import torch

        fake = data.to_data(batch.x).double()[:2000]
        value = 2 * torch.cdist(fake, real).mean() - torch.cdist(fake, fake).mean() - torch.cdist(real, real).mean()
        return ({"energy": float(value)},
                {"energy": f"energy distance of {len(fake)} samples to {len(real)} real points (Székely & Rizzo)"})

    return energy
