"""Typed configuration: the schema under the YAML files in ganrun/conf/.

Hydra merges every YAML option onto one of these dataclasses, so a wrong type
(`train.steps=abc`) or an unknown key (`optimizer.d.momentum=0.9` for Adam)
fails before anything is built; `ganrun.cli` turns Hydra's report into one line naming
the key. Keys added with `+key=...` are refused by `check_ranges`.

Ranges that a type cannot express (lr > 0, batch_size >= 1) are declared next to
the field with `bounded(...)` and checked by `check_ranges`, also before
anything is built. Each option of a config group picks its schema in its YAML
defaults list, e.g. `ganrun/conf/model/mlp.yaml` starts with
`- /schema/model@_here_: mlp`.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass, field
from enum import Enum
from typing import Any, List, Optional, Tuple

from hydra.core.config_store import ConfigStore
from omegaconf import MISSING, DictConfig, ListConfig, OmegaConf

from ganrun.errors import ConfigError


def bounded(default: Any, *, ge: float | None = None, gt: float | None = None,
            le: float | None = None, lt: float | None = None, one_of: tuple = ()) -> Any:
    """A dataclass field with a numeric range (or a set of allowed values), checked by
    `check_ranges`. A tuple default also fixes the length (OmegaConf keeps tuples as lists)."""
    limits = {k: v for k, v in dict(ge=ge, gt=gt, le=le, lt=lt).items() if v is not None}
    metadata = {"range": limits, "one_of": one_of}
    if isinstance(default, tuple):
        metadata["length"] = len(default)
    if isinstance(default, (list, tuple)):
        return field(default_factory=lambda: list(default), metadata=metadata)
    return field(default=default, metadata=metadata)


# --------------------------------------------------------------------------- enums
class Activation(str, Enum):
    relu = "relu"
    leaky_relu = "leaky_relu"
    elu = "elu"
    gelu = "gelu"
    silu = "silu"
    tanh = "tanh"


class OutActivation(str, Enum):
    none = "none"
    tanh = "tanh"


class Prior(str, Enum):
    normal = "normal"
    uniform = "uniform"


class Norm(str, Enum):
    auto = "auto"          # G: batch; D: what the loss prefers (layer for gradient penalties)
    batch = "batch"
    layer = "layer"
    instance = "instance"
    spectral = "spectral"
    none = "none"


class Split(str, Enum):
    train = "train"
    test = "test"
    all = "all"


class Precision(str, Enum):
    fp32 = "fp32"
    bf16 = "bf16"          # autocast to bfloat16: float32's range, no gradient scaling needed
    fp16 = "fp16"          # autocast to float16 with a gradient scaler per player


class LRSchedule(str, Enum):
    constant = "constant"
    linear = "linear"      # linear decay to 0 at train.steps


class NonFinite(str, Enum):
    stop = "stop"          # stop the run, naming the step and the term; keep the last good checkpoint
    skip = "skip"          # skip updates whose loss is not finite and count them (a host sync per step)


class DeviceType(str, Enum):
    auto = "auto"
    cpu = "cpu"
    cuda = "cuda"
    mps = "mps"


# --------------------------------------------------------------------------- top-level blocks
@dataclass
class TrainConfig:
    steps: int = bounded(2000, ge=1)          # generator updates
    batch_size: int = bounded(64, ge=1)
    n_critic: int = bounded(1, ge=1)          # D updates per G update
    log_every: int = bounded(100, ge=1)
    sample_every: int = bounded(500, ge=1)
    ckpt_every: int = bounded(1000, ge=1)
    keep_last: int = bounded(3, ge=1)         # step checkpoints kept (last.pt is always the newest)
    lr_schedule: LRSchedule = LRSchedule.constant
    nonfinite: NonFinite = NonFinite.stop


@dataclass
class TricksConfig:
    """GAN_NOTES §5. Every switch is off unless a preset turns it on."""
    prior: Prior = Prior.normal                     # z ~ N(0, I) or U[-1, 1]
    label_smoothing: float = bounded(0.0, ge=0, lt=1)   # one-sided: real target 1 - s
    noisy_labels: bool = False                      # real ~ U[0.8, 1.2], fake ~ U[0, 0.3]
    label_flip: float = bounded(0.0, ge=0, le=0.5)  # chance that a D target is swapped
    instance_noise: float = bounded(0.0, ge=0)      # std of noise on D's inputs at step 0
    instance_noise_steps: int = bounded(0, ge=0)    # linear decay to 0 over this many steps (0: the run)
    joint_batches: bool = False                     # D sees real and fake in one batch
    replay: float = bounded(0.0, ge=0, le=1)        # share of D's fake batch drawn from past fakes
    replay_size: int = bounded(4096, ge=1)          # replay buffer capacity, in samples
    ema: float = bounded(0.0, ge=0, lt=1)           # G_ema decay, e.g. 0.999 (0: off)
    ema_start: int = bounded(0, ge=0)               # G_ema copies G until this step
    spectral_norm: bool = False                     # spectral normalisation on every D layer
    pack: int = bounded(1, ge=1)                    # PacGAN: D scores groups of `pack` samples


@dataclass
class EvalConfig:
    """What is measured during training (every `every` steps) and at the end (GAN_NOTES §4, §6)."""
    every: int = bounded(0, ge=0)              # steps between evaluations (0: only at the end)
    n: int = bounded(2500, ge=10)              # generated samples per evaluation
    seed: int = bounded(0, ge=0)               # noise for those samples: fixed, so runs compare
    classifier: bool = True                    # classifier metrics for labelled image sets
    memorisation: bool = True                  # nearest-neighbour and duplicate checks on images
    inception: Optional[bool] = None           # FID/IS/KID; null: on when training on a GPU
    inception_weights: Optional[str] = None    # Inception weights file; null: torch's hub cache
    ref_n: int = bounded(10000, ge=10)         # real images used as the reference, at most
    dup_batch: int = bounded(100, ge=2)        # batch size of the birthday-paradox test
    cache_dir: str = "~/.cache/ganrun"         # classifier weights and real-data statistics
    download_timeout: float = bounded(10.0, gt=0)


@dataclass
class DeviceConfig:
    type: DeviceType = DeviceType.auto
    precision: Precision = Precision.fp32


@dataclass
class OptimizerPair:
    """G and D get their own optimizer: GAN recipes differ between them (TTUR, WGAN)."""
    g: Any = MISSING
    d: Any = MISSING


@dataclass
class RunConfig:
    seed: int = bounded(0, ge=0)
    quiet: bool = False          # no progress bar; per-step lines go to the log file only
    resume: Optional[str] = None # a run folder or checkpoint to continue, or "auto"
    train: TrainConfig = field(default_factory=TrainConfig)
    tricks: TricksConfig = field(default_factory=TricksConfig)
    eval: EvalConfig = field(default_factory=EvalConfig)
    device: DeviceConfig = field(default_factory=DeviceConfig)
    optimizer: OptimizerPair = field(default_factory=OptimizerPair)
    model: Any = MISSING         # one of the model schemas below
    data: Any = MISSING          # one of the dataset schemas below (config group `dataset`)
    loss: Any = MISSING          # one of the loss schemas below


# --------------------------------------------------------------------------- optimizers
@dataclass
class AdamConfig:
    _target_: str = "torch.optim.Adam"
    lr: float = bounded(2e-4, gt=0)
    betas: Tuple[float, float] = bounded((0.5, 0.999), ge=0, lt=1)
    eps: float = bounded(1e-8, gt=0)
    weight_decay: float = bounded(0.0, ge=0)


@dataclass
class RMSpropConfig:
    _target_: str = "torch.optim.RMSprop"
    lr: float = bounded(5e-5, gt=0)
    alpha: float = bounded(0.99, ge=0, lt=1)
    momentum: float = bounded(0.0, ge=0, lt=1)
    eps: float = bounded(1e-8, gt=0)
    weight_decay: float = bounded(0.0, ge=0)


@dataclass
class SGDConfig:
    _target_: str = "torch.optim.SGD"
    lr: float = bounded(1e-3, gt=0)
    momentum: float = bounded(0.0, ge=0, lt=1)
    weight_decay: float = bounded(0.0, ge=0)


# --------------------------------------------------------------------------- models
@dataclass
class MLPConfig:
    """Fully connected G and D; images are flattened (the original GAN paper's set-up)."""
    _target_: str = "ganrun.models.mlp.build"
    latent_dim: int = bounded(8, ge=1)
    g_hidden: List[int] = bounded([128, 128], ge=1)
    d_hidden: List[int] = bounded([128, 128], ge=1)
    g_activation: Activation = Activation.relu
    d_activation: Activation = Activation.leaky_relu
    leak: float = bounded(0.2, ge=0)          # LeakyReLU slope
    out_activation: OutActivation = OutActivation.none


@dataclass
class DCGANConfig:
    """DCGAN for any power-of-two resolution 8-256 and any channel count (GAN_NOTES §3)."""
    _target_: str = "ganrun.models.dcgan.build"
    latent_dim: int = bounded(100, ge=1)
    g_width: int = bounded(64, ge=1)        # G's channels at its last hidden layer (doubling inwards)
    d_width: int = bounded(64, ge=1)        # D's channels at its first layer (doubling inwards)
    g_norm: Norm = Norm.auto
    d_norm: Norm = Norm.auto
    leak: float = bounded(0.2, ge=0)
    code_dim: int = bounded(64, ge=1)       # BEGAN's autoencoder bottleneck (loss=began only)


@dataclass
class DCGANNotesConfig:
    """The notes' exact 64x64 anime-face pair (GAN_NOTES §3)."""
    _target_: str = "ganrun.models.dcgan.build_notes"
    latent_dim: int = bounded(100, ge=1)
    leak: float = bounded(0.2, ge=0)


# --------------------------------------------------------------------------- datasets
@dataclass
class RingConfig:
    """PacGAN's ring: 8 modes at angles 2*pi*i/8 on a circle (GAN_NOTES §4)."""
    _target_: str = "ganrun.data.toy.Ring"
    name: str = "ring"
    modes: int = bounded(8, ge=1)
    radius: float = bounded(1.0, gt=0)
    std: float = bounded(0.01, gt=0)


@dataclass
class GridConfig:
    """PacGAN's grid: 25 modes at {-4,-2,0,2,4}^2 (GAN_NOTES §4)."""
    _target_: str = "ganrun.data.toy.Grid"
    name: str = "grid"
    side: int = bounded(5, ge=1)
    spacing: float = bounded(2.0, gt=0)
    std: float = bounded(0.05, gt=0)


@dataclass
class SineConfig:
    """The notes' 10 sine curves sin(a*t), a in linspace(1, 1.2, 10), 32 points (GAN_NOTES §3)."""
    _target_: str = "ganrun.data.toy.SineCurves"
    name: str = "sine"
    curves: int = bounded(10, ge=1)
    a_min: float = 1.0
    a_max: float = 1.2
    t_min: float = -2.5
    t_max: float = 3.5
    length: int = bounded(32, ge=2)


@dataclass
class Gaussian1dConfig:
    """A 1-D Gaussian target N(mean, std^2) (GAN_NOTES §4)."""
    _target_: str = "ganrun.data.toy.Gaussian1d"
    name: str = "gaussian1d"
    mean: float = 4.0
    std: float = bounded(0.5, gt=0)
    # Train on (x - mean) / std and map samples back: G's output layer then works
    # at unit scale for any target (see GAN_NOTES §5 trick 1, "scale the data").
    standardize: bool = True


@dataclass
class DigitsConfig:
    """scikit-learn's bundled 8x8 handwritten digits (1 797 images, 10 classes), resized."""
    _target_: str = "ganrun.data.images.digits"
    name: str = "digits"
    resolution: int = bounded(32, ge=8, le=256)
    split: Split = Split.train          # a fixed 80/20 split; metrics hold out `test`


@dataclass
class FolderConfig:
    """Every image under `root`, recursively (png, jpg, jpeg, webp, bmp)."""
    _target_: str = "ganrun.data.images.folder"
    name: str = "folder"
    root: str = MISSING
    resolution: int = bounded(64, ge=8, le=1024)
    channels: int = bounded(3, one_of=(1, 3))   # 3 = RGB, 1 = grayscale
    strict: bool = False               # true: stop at the first unreadable file instead of skipping it
    workers: int = bounded(4, ge=0)    # decoding threads / DataLoader worker processes
    memory_limit_mb: int = bounded(1024, ge=0)   # hold the decoded set on the device up to this size
    missing_hint: str = ""             # what to tell the user when `root` does not exist


@dataclass
class TorchvisionConfig:
    """MNIST, Fashion-MNIST, CIFAR-10, CelebA through torchvision (downloaded when online)."""
    _target_: str = "ganrun.data.images.torchvision_images"
    name: str = MISSING
    root: str = "data"
    resolution: int = bounded(32, ge=8, le=1024)
    split: str = "train"
    download: bool = True
    download_timeout: float = bounded(10.0, gt=0)   # seconds to wait for the server before giving up
    workers: int = bounded(4, ge=0)
    memory_limit_mb: int = bounded(1024, ge=0)


# --------------------------------------------------------------------------- losses
@dataclass
class MinimaxLossConfig:
    _target_: str = "ganrun.losses.Minimax"


@dataclass
class NonSaturatingLossConfig:
    _target_: str = "ganrun.losses.NonSaturating"


@dataclass
class WGANLossConfig:
    _target_: str = "ganrun.losses.Wasserstein"
    clip: float = bounded(0.01, ge=0)        # every D weight clipped to [-clip, clip]


@dataclass
class WGANGPLossConfig:
    _target_: str = "ganrun.losses.WassersteinGP"
    gp_weight: float = bounded(10.0, ge=0)   # lambda


@dataclass
class LSGANLossConfig:
    _target_: str = "ganrun.losses.LeastSquares"


@dataclass
class DRAGANLossConfig:
    _target_: str = "ganrun.losses.DRAGAN"
    gp_weight: float = bounded(10.0, ge=0)   # lambda
    perturb: float = bounded(0.5, ge=0)      # c in x + a * c * std(x) * u


@dataclass
class BEGANLossConfig:
    _target_: str = "ganrun.losses.BEGAN"
    gamma: float = bounded(0.5, gt=0, le=1)  # diversity ratio E[L(x~)] / E[L(x)] it aims for
    lambda_k: float = bounded(0.001, ge=0)   # learning rate of k_t
    k_init: float = bounded(0.0, ge=0, le=1)


@dataclass
class HingeLossConfig:
    _target_: str = "ganrun.losses.Hinge"


@dataclass
class RSGANLossConfig:
    _target_: str = "ganrun.losses.RelativisticStandard"


@dataclass
class RaGANLossConfig:
    _target_: str = "ganrun.losses.RelativisticAverage"


# --------------------------------------------------------------------------- registration
def register_configs() -> None:
    """Put the schemas where the YAML files' defaults lists look for them."""
    cs = ConfigStore.instance()
    cs.store(name="ganrun_schema", node=RunConfig)
    for group, name, node in [
        ("optimizer", "adam", AdamConfig),
        ("optimizer", "rmsprop", RMSpropConfig),
        ("optimizer", "sgd", SGDConfig),
        ("model", "mlp", MLPConfig),
        ("model", "dcgan", DCGANConfig),
        ("model", "dcgan_notes", DCGANNotesConfig),
        ("dataset", "digits", DigitsConfig),
        ("dataset", "folder", FolderConfig),
        ("dataset", "torchvision", TorchvisionConfig),
        ("dataset", "ring", RingConfig),
        ("dataset", "grid", GridConfig),
        ("dataset", "sine", SineConfig),
        ("dataset", "gaussian1d", Gaussian1dConfig),
        ("loss", "mm", MinimaxLossConfig),
        ("loss", "ns", NonSaturatingLossConfig),
        ("loss", "wgan", WGANLossConfig),
        ("loss", "wgan_gp", WGANGPLossConfig),
        ("loss", "lsgan", LSGANLossConfig),
        ("loss", "dragan", DRAGANLossConfig),
        ("loss", "began", BEGANLossConfig),
        ("loss", "hinge", HingeLossConfig),
        ("loss", "rsgan", RSGANLossConfig),
        ("loss", "ragan", RaGANLossConfig),
    ]:
        cs.store(group=f"schema/{group}", name=name, node=node)


# --------------------------------------------------------------------------- range checks
_WORDS = {"ge": ">=", "gt": ">", "le": "<=", "lt": "<"}


def _violates(value: float, limits: dict, one_of: tuple = ()) -> Optional[str]:
    if isinstance(value, float) and not math.isfinite(value):
        return "a finite number"
    if one_of and value not in one_of:
        return "one of " + ", ".join(map(str, one_of))
    for op, bound in limits.items():
        ok = {"ge": value >= bound, "gt": value > bound, "le": value <= bound, "lt": value < bound}[op]
        if not ok:
            return f"{_WORDS[op]} {bound:g}"
    return None


def did_you_mean(key: str, known, prefix: str = "") -> str:
    """' (did you mean train.steps?)' for a misspelt key, or '' when nothing is close."""
    import difflib

    close = difflib.get_close_matches(key, [str(k) for k in known if not str(k).startswith("_")], n=1)
    return f" (did you mean {prefix}{close[0]}?)" if close else ""


def check_required(cfg: DictConfig) -> None:
    """Raise ConfigError naming the first required key (`???` in the YAML) left unset."""
    missing = sorted(OmegaConf.missing_keys(cfg))
    if missing:
        raise ConfigError(f"{missing[0]} is required but not set: add {missing[0]}=... to the command line")


def check_ranges(cfg: DictConfig, prefix: str = "") -> None:
    """Raise ConfigError naming the first unknown key (added with `+key=...`), the first list
    of the wrong length, or the first value outside its declared range."""
    schema = OmegaConf.get_type(cfg)
    fields = {f.name: f for f in dataclasses.fields(schema)} if dataclasses.is_dataclass(schema) else {}
    for key in cfg:
        full = f"{prefix}{key}"
        if fields and key not in fields:
            raise ConfigError(f"{full}: no such key{did_you_mean(str(key), fields, prefix)}; "
                              "`ganrun --cfg job` lists every key")
        node = cfg._get_node(key)
        if node._is_missing():
            continue
        value = cfg[key]
        if isinstance(value, DictConfig):
            check_ranges(value, full + ".")
            continue
        meta = fields[key].metadata if key in fields else {}
        length = meta.get("length")
        if length and isinstance(value, ListConfig) and len(value) != length:
            raise ConfigError(f"{full}={list(value)} needs exactly {length} values")
        limits, one_of = meta.get("range"), meta.get("one_of", ())
        if not limits and not one_of:
            continue
        items = list(value) if isinstance(value, ListConfig) else [value]
        for item in items:
            if isinstance(item, bool) or not isinstance(item, (int, float)):
                continue
            need = _violates(item, limits or {}, one_of)
            if need:
                shown = list(value) if isinstance(value, ListConfig) else value
                each = " (every entry)" if isinstance(value, ListConfig) else ""
                raise ConfigError(f"{full}={shown} is out of range: it must be {need}{each}")


def validate(cfg: DictConfig) -> None:
    """Every check a config must pass before anything is built: required keys, then ranges."""
    check_required(cfg)
    check_ranges(cfg)
