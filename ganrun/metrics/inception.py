"""FID, IS, KID and the precision/recall/density/coverage family with the standard Inception
weights, through torch-fidelity (and prdc for density and coverage).

The weights come from `eval.inception_weights` when set, else from torch's hub cache
(where torch-fidelity keeps them), else they are downloaded after checking within
`eval.download_timeout` seconds that the server answers. When they cannot be had, the run
goes on and says once that the Inception metrics were skipped and how to provide them.
Real-data statistics are cached by torch-fidelity under `eval.cache_dir/torch-fidelity`,
keyed by dataset, split, resolution, image count and the weights file's hash.
"""

from __future__ import annotations

import hashlib
import logging
from pathlib import Path
from typing import Optional

import torch
from torch import Tensor

from ganrun.data.images import unreachable

log = logging.getLogger(__name__)
FEATURE_NET = "inception-v3-compat"


def inception_url() -> str:
    from torch_fidelity.feature_extractor_inceptionv3 import URL_INCEPTION_V3

    return URL_INCEPTION_V3


def hub_weights_path() -> Path:
    return Path(torch.hub.get_dir()) / "checkpoints" / inception_url().rsplit("/", 1)[-1]


def how_to_provide() -> str:
    return (f"download {inception_url()} on a machine with internet and put it at {hub_weights_path()} "
            f"or pass eval.inception_weights=PATH")


def resolve_weights(configured: Optional[str], timeout: float) -> tuple[Optional[Path], Optional[str]]:
    """(path to usable weights, None) or (None, why the Inception metrics are skipped)."""
    if configured:
        path = Path(configured).expanduser()
        if not path.is_file():
            return None, f"eval.inception_weights={configured} does not exist"
    else:
        path = hub_weights_path()
        if not path.is_file():
            why = unreachable(inception_url(), timeout)
            if why:
                return None, f"the Inception weights are not cached and cannot be downloaded ({why})"
            try:
                path.parent.mkdir(parents=True, exist_ok=True)
                torch.hub.download_url_to_file(inception_url(), str(path), progress=False)
            except Exception as e:
                return None, f"downloading the Inception weights failed ({str(e).splitlines()[0]})"
    # torch-fidelity unpickles the file without weights_only: make sure it holds tensors only.
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception:
        return None, f"{path} is not a plain weights file (it holds pickled objects or is corrupt)"
    if not isinstance(state, dict) or "fc.weight" not in state:
        return None, f"{path} does not hold torch-fidelity's Inception-v3 weights"
    return path, None


class _Uint8Images(torch.utils.data.Dataset):
    """RGB uint8 images, as torch-fidelity's feature extractor wants them."""

    def __init__(self, images_unit_range: Tensor):
        from ganrun.pixels import to_uint8

        x = to_uint8(images_unit_range).cpu()
        self.images = x.expand(-1, 3, -1, -1) if x.shape[1] == 1 else x

    def __len__(self) -> int:
        return len(self.images)

    def __getitem__(self, i: int) -> Tensor:
        return self.images[i]


class InceptionMetrics:
    """fid, is, kid of generated images against the real training images."""

    def __init__(self, weights: Path, real: Tensor, name: str, split: str, cache_dir: Path,
                 device: torch.device):
        self.weights, self.name, self.device = weights, name, device
        self.real = _Uint8Images(real)
        digest = hashlib.sha256(weights.read_bytes()).hexdigest()[:10]
        r = real.shape[-1]
        from ganrun.data import Batch
        from ganrun.metrics.classifier import data_digest

        # named by the images themselves too: two folders of one name and size never share statistics
        self.cache_name = f"ganrun-{name}-{split}-{r}px-n{len(real)}-d{data_digest(Batch(real))}-w{digest}"
        self.cache_root = str(Path(cache_dir).expanduser() / "torch-fidelity")

    def __call__(self, fake: Tensor) -> tuple[dict, dict]:
        # torch-fidelity's calculate_metrics, step by step with its own functions (its metrics.py),
        # so that both sets' 2048-d features are at hand for density and coverage too: each set is
        # passed through Inception once, the real one only when its features are not cached.
        from torch_fidelity.metric_fid import fid_featuresdict_to_statistics_cached, fid_statistics_to_metric
        from torch_fidelity.metric_isc import isc_featuresdict_to_metric
        from torch_fidelity.metric_kid import kid_featuresdict_to_metric
        from torch_fidelity.utils import (create_feature_extractor, extract_featuresdict_from_input_id_cached,
                                          get_cacheable_input_name, resolve_feature_layer_for_metric)

        from ganrun.metrics.manifold import prdc_values

        n, n_real = len(fake), len(self.real)
        kwargs = dict(
            input1=_Uint8Images(fake), input2=self.real, fid=True, isc=True, kid=True,
            feature_extractor=FEATURE_NET, feature_extractor_weights_path=str(self.weights),
            cuda=self.device.type == "cuda", batch_size=64, verbose=False, cache=True,
            cache_root=self.cache_root, input1_cache_name=None, input2_cache_name=self.cache_name,
            kid_subset_size=min(1000, n, n_real), isc_splits=10, samples_shuffle=False,
            save_cpu_ram=True)   # for the metrics used here: no DataLoader workers, the images are in memory
        logits, pool = (resolve_feature_layer_for_metric(m, **kwargs) for m in ("isc", "fid"))
        extractor = create_feature_extractor(FEATURE_NET, sorted({logits, pool}), **kwargs)
        feats = {i: extract_featuresdict_from_input_id_cached(i, extractor, **kwargs) for i in (1, 2)}
        stats = [fid_featuresdict_to_statistics_cached(feats[i], get_cacheable_input_name(i, **kwargs), extractor,
                                                       pool, **kwargs) for i in (1, 2)]
        fid = fid_statistics_to_metric(*stats, False)
        isc = isc_featuresdict_to_metric(feats[1], logits, **kwargs)
        kid = kid_featuresdict_to_metric(feats[1], feats[2], pool, **kwargs)
        net = f"Inception-v3 ({FEATURE_NET}, {self.weights.name})"
        values = {"fid": float(fid["frechet_inception_distance"]), "is": float(isc["inception_score_mean"]),
                  "kid": float(kid["kernel_inception_distance_mean"])}
        protocol = {
            "fid": f"FID of {n} samples against {n_real} real {self.name} training images, 2048-d pool "
                   f"features of {net}; real statistics cached as {self.cache_name}",
            "is": f"Inception Score of {n} samples, 10 splits, {net}",
            "kid": f"KID (polynomial kernel, subsets of {min(1000, n, n_real)}) of {n} samples against "
                   f"{n_real} real training images, {net}",
        }
        family, lines = prdc_values(feats[2][pool], feats[1][pool], f"the 2048-d features of {net}", "_inception")
        values.update(family)
        protocol.update(lines)
        return values, protocol
