"""FID, IS, KID and the precision/recall/density/coverage family with the standard Inception
weights, through torch-fidelity (and prdc for density and coverage).

The weights come from `eval.inception_weights` when set, else from torch's hub cache
(where torch-fidelity keeps them), else they are downloaded after checking within
`eval.download_timeout` seconds that the server answers. When they cannot be had, the run
goes on and says once that the Inception metrics were skipped and how to provide them.

Nothing here is unpickled: torch-fidelity loads the weights file and its own feature caches with
`torch.load(weights_only=False)`, so its caching is off, the weights are loaded tensors-only (its
module's `torch.load` is given `weights_only=True`), and the real images' features are cached by
ganrun as safetensors under `eval.cache_dir/inception/`, named by the dataset, its images and the
weights, and sealed for this user over the features they hold (ganrun/metrics/seal.py: a file
altered, or written by someone else, is recomputed).
"""

from __future__ import annotations

import functools
import hashlib
import logging
from pathlib import Path
from typing import Optional

import torch
from torch import Tensor

from ganrun.checkpoint import atomic_write_bytes, one_at_a_time
from ganrun.data.images import unreachable
from ganrun.metrics.seal import seal, sealed

log = logging.getLogger(__name__)
FEATURE_NET = "inception-v3-compat"


def inception_url() -> str:
    from torch_fidelity.feature_extractor_inceptionv3 import URL_INCEPTION_V3

    return URL_INCEPTION_V3


def hub_weights_path() -> Path:
    return Path(torch.hub.get_dir()) / "checkpoints" / inception_url().rsplit("/", 1)[-1]


def how_to_provide() -> str:
    return (f"download {inception_url()} on a machine with internet and put it at {hub_weights_path()} "
            f"or pass eval.inception_weights=PATH (ganrun-eval: --inception-weights PATH)")


def resolve_weights(configured: Optional[str], timeout: float) -> tuple[Optional[Path], Optional[str]]:
    """(path to usable weights, None) or (None, why the Inception metrics are skipped)."""
    if configured:
        path = Path(configured).expanduser()
        if not path.is_file():
            return None, f"the Inception weights file {configured} does not exist"
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


class _TensorsOnlyTorch:
    """torch, with `torch.load` restricted to tensors and plain containers (weights_only=True)."""

    def __getattr__(self, name: str):
        return getattr(torch, name)

    @staticmethod
    def load(f, *args, **kwargs):
        kwargs["weights_only"] = True
        return torch.load(f, *args, **kwargs)


def _extractor(weights: Path, features: list[str], **kwargs):
    """torch-fidelity's Inception-v3 with `weights`, loaded without unpickling (its module calls
    torch.load(weights_only=False) on the file; here that name is a tensors-only load)."""
    import torch_fidelity.feature_extractor_inceptionv3 as module
    from torch_fidelity.utils import create_feature_extractor

    module.torch = _TensorsOnlyTorch()
    return create_feature_extractor(FEATURE_NET, features, feature_extractor_weights_path=str(weights), **kwargs)


@functools.lru_cache(maxsize=4)
def weights_digest(weights: Path, size: int, mtime: float) -> str:
    return hashlib.sha256(weights.read_bytes()).hexdigest()[:10]


def features_digest(features: dict[str, Tensor]) -> str:
    from ganrun.metrics.classifier import raw_bytes

    h = hashlib.blake2b(digest_size=8)
    for name in sorted(features):
        h.update(name.encode())
        h.update(raw_bytes(features[name]))
    return h.hexdigest()


def read_features(path: Path, names: list[str], n: int) -> Optional[dict[str, Tensor]]:
    """Cached features (safetensors: no code can run when it is read), or None when the file is missing,
    unreadable or not sealed by this user's ganrun over the features it holds (ganrun/metrics/seal.py)."""
    from safetensors import safe_open

    from ganrun.metrics.classifier import unreadable

    if not path.is_file():
        return None
    try:
        with safe_open(str(path), framework="pt") as f:
            stamp = (f.metadata() or {}).get("features")       # the seal
            features = {name: f.get_tensor(name) for name in names}
    except Exception as e:
        unreadable(path, e, "Inception feature cache", "computing the features again")
        return None
    if not sealed(stamp, "inception", path.name, features_digest(features)) or any(len(v) != n for v in features.values()):
        log.warning("ignoring the Inception feature cache %s: its seal does not cover the features it holds "
                    "(altered, or not written by ganrun for this user); computing them again", path)
        return None
    return features


def write_features(path: Path, features: dict[str, Tensor]) -> None:
    from safetensors.torch import save

    data = save({k: v.contiguous() for k, v in features.items()},
                metadata={"features": seal("inception", path.name, features_digest(features))})
    try:
        atomic_write_bytes(path, data)
    except OSError as e:
        log.warning("could not cache the real images' Inception features in %s (%s)", path, e)


class InceptionMetrics:
    """fid, is, kid and the P/R/D/C family of generated images against the real training images."""

    def __init__(self, weights: Path, real: Tensor, name: str, split: str, cache_dir: Path,
                 device: torch.device):
        from ganrun.data import Batch
        from ganrun.metrics.classifier import data_digest

        self.weights, self.name, self.device = weights, name, device
        self.real = _Uint8Images(real)
        stat = weights.stat()
        digest = weights_digest(weights, stat.st_size, stat.st_mtime)
        r = real.shape[-1]
        # named by the images themselves too: two folders of one name and size never share statistics
        self.cache_name = f"ganrun-{name}-{split}-{r}px-n{len(real)}-d{data_digest(Batch(real))}-w{digest}"
        self.cache_file = Path(cache_dir).expanduser() / "inception" / f"{self.cache_name}.safetensors"

    def __call__(self, fake: Tensor) -> tuple[dict, dict]:
        # torch-fidelity's calculate_metrics, step by step with its own functions (its metrics.py),
        # so that both sets' 2048-d features are at hand for density and coverage too: each set is
        # passed through Inception once, the real one only when its features are not cached.
        from torch_fidelity.metric_fid import fid_featuresdict_to_statistics, fid_statistics_to_metric
        from torch_fidelity.metric_isc import isc_featuresdict_to_metric
        from torch_fidelity.metric_kid import kid_featuresdict_to_metric
        from torch_fidelity.utils import extract_featuresdict_from_input_id, resolve_feature_layer_for_metric

        from ganrun.metrics.manifold import prdc_values

        n, n_real = len(fake), len(self.real)
        kwargs = dict(
            input1=_Uint8Images(fake), input2=self.real, fid=True, isc=True, kid=True,
            feature_extractor=FEATURE_NET, cuda=self.device.type == "cuda", batch_size=64, verbose=False,
            cache=False, kid_subset_size=min(1000, n, n_real), isc_splits=10, samples_shuffle=False,
            save_cpu_ram=True)   # for the metrics used here: no DataLoader workers, the images are in memory
        logits, pool = (resolve_feature_layer_for_metric(m, **kwargs) for m in ("isc", "fid"))
        names = sorted({logits, pool})
        extractor = _extractor(self.weights, names, **kwargs)
        # the jobs of a parallel sweep end together: one passes the real images through Inception,
        # the others wait and read its file
        with one_at_a_time(self.cache_file, "Inception features of the real images"):
            real = read_features(self.cache_file, names, n_real)
            if real is None:
                real = extract_featuresdict_from_input_id(2, extractor, **kwargs)
                write_features(self.cache_file, real)
        feats = {1: extract_featuresdict_from_input_id(1, extractor, **kwargs), 2: real}
        stats = [fid_featuresdict_to_statistics(feats[i], pool) for i in (1, 2)]
        fid = fid_statistics_to_metric(*stats, False)
        isc = isc_featuresdict_to_metric(feats[1], logits, **kwargs)
        kid = kid_featuresdict_to_metric(feats[1], feats[2], pool, **kwargs)
        net = f"Inception-v3 ({FEATURE_NET}, {self.weights.name})"
        values = {"fid": float(fid["frechet_inception_distance"]), "is": float(isc["inception_score_mean"]),
                  "kid": float(kid["kernel_inception_distance_mean"])}
        protocol = {
            "fid": f"FID of {n} samples against {n_real} real {self.name} training images, 2048-d pool "
                   f"features of {net}; real features cached as {self.cache_file.name}",
            "is": f"Inception Score of {n} samples, 10 splits, {net}",
            "kid": f"KID (polynomial kernel, subsets of {min(1000, n, n_real)}) of {n} samples against "
                   f"{n_real} real training images, {net}",
        }
        family, lines = prdc_values(feats[2][pool], feats[1][pool], f"the 2048-d features of {net}", "_inception")
        values.update(family)
        protocol.update(lines)
        return values, protocol
