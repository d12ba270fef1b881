"""Typed configuration: the schema under the YAML files in ganrun/conf/, and the registry of options.

Hydra merges every YAML option onto one of these dataclasses, so a wrong type
(`train.steps=abc`) or an unknown key (`optimizer.d.momentum=0.9` for Adam)
fails before anything is built; `ganrun.commands.run` turns Hydra's report into one line naming
the key. Ranges that a type cannot express (lr > 0, batch_size >= 1) and the allowed
values of a string (`tricks.prior`: normal or uniform) are declared next to the field
with `bounded(...)` and checked by `check_ranges`, also before anything is built.

The top-level blocks (train, tricks, eval, device) are declared here. Each option of a
config group that builds something (a game, a model, a dataset, a loss, an optimizer) is declared
in the one module that builds it: its schema (a dataclass whose `type` field names the option) and
`register(group, Schema, builder)` beside the builder (ganrun/losses.py, ganrun/models/dcgan.py, ...).
ganrun builds a part only by looking its `type` up in that registry, so a stored config (in
a checkpoint, an export or a run folder) can choose among ganrun's own builders and nothing
else: no `_target_` or other class or function name is ever read from a file
(`load_stored_config`).

Those modules import torch; this one and ganrun/option_index.py do not. The index is a copy of
every schema and registration of ganrun's own options, written by `make docs` from the modules
(ganrun/indexer.py), so that `ganrun --help`, `ganrun --cfg job` and a config error
answer without torch; a builder's module is imported when a run first builds that option, and
its `register` calls then find the index's entries in place (and refuse a stale index).
"""

from __future__ import annotations

import dataclasses
import importlib
import math
import re
from dataclasses import dataclass, field
from typing import Any, Callable, Optional

from hydra.core.config_store import ConfigStore
from omegaconf import MISSING, DictConfig, ListConfig, OmegaConf

from ganrun.errors import CheckpointError, ConfigError, did_you_mean

SEED_MAX = 2 ** 32 - 1      # numpy's seeds are 32-bit; torch and Python accept these too


def bounded(default: Any, *, ge: float | None = None, gt: float | None = None,
            le: float | None = None, lt: float | None = None, one_of: tuple = (), max_length: int = 0) -> Any:
    """A dataclass field with a numeric range (or a set of allowed values), checked by
    `check_ranges`. A tuple default also fixes the length (OmegaConf keeps tuples as lists); a list
    may be given a `max_length`."""
    limits = {k: v for k, v in dict(ge=ge, gt=gt, le=le, lt=lt).items() if v is not None}
    metadata = {"range": limits, "one_of": tuple(one_of), "max_length": max_length}
    if isinstance(default, tuple):
        metadata["length"] = len(default)
    if isinstance(default, (list, tuple)):
        return field(default_factory=lambda: list(default), metadata=metadata)
    return field(default=default, metadata=metadata)


def choice(default: str, *allowed: str) -> Any:
    """A string field that takes one of `allowed` (the default first)."""
    return bounded(default, one_of=(default, *(a for a in allowed if a != default)))


def path_field(default: Any = None) -> Any:
    """A file or folder (a data root, a cache, a weights file). Where files are read and written is the
    user's to say: a stored config's value is never used (`local_paths` puts the command line's or the
    user's default in its place)."""
    return field(default=default, metadata={"path": True})


NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_-]{0,63}")


def name_field(default: Any) -> Any:
    """A name that becomes part of file names and metric keys (fd_<name>, cache files): one path
    component of letters, digits, `_` and `-`, checked with the ranges (stored configs too)."""
    return field(default=default, metadata={"name": True})


# --------------------------------------------------------------------------- the registry
@dataclass(frozen=True)
class Option:
    group: str                       # game, model, dataset, loss, optimizer
    type: str                        # the option's name, the schema's `type` field
    schema: type                     # its dataclass
    builder: str | Callable[..., Any]   # "ganrun.module:name" (imported when first built) or the callable
    legacy_target: str               # the `_target_` that checkpoints of ganrun 0.1 stored for it

    def load(self) -> Callable[..., Any]:
        """The builder itself (a game's class, a model's function), its module imported if need be."""
        return _load(self.builder) if isinstance(self.builder, str) else self.builder

    def build(self, *args: Any, **kwargs: Any) -> Any:
        """Call the builder with the schema's fields (less `type`) and the context."""
        return self.load()(*args, **kwargs)


REGISTRY: dict[str, dict[str, Option]] = {}
_imported: list[bool] = []     # non-empty once the option modules are imported
# ganrun's own options, registered without torch: the index that `make docs` writes from the modules
# that declare them. Imported by register_configs() and whenever an option is looked up.
OPTION_MODULES = ("ganrun.option_index",)


GROUPS = ("game", "model", "dataset", "loss", "optimizer")    # the groups whose options are registered


def register(group: str, schema: type, build: str | Callable[..., Any], legacy_target: str = "") -> None:
    """Make `schema` an option of `group` (its `type` field is the option's name), built by
    `build(**fields, **context)`. `build` is the callable itself, or "package.module:name" for one
    imported only when the option is first built (what ganrun/option_index.py writes for ganrun's own
    options, whose modules import torch). ganrun's own modules and installed plugins
    (ganrun/plugins.py) call this; a file never does."""
    from ganrun import plugins

    if group not in GROUPS:
        raise ValueError(f"register: group {group!r} is not one of {', '.join(GROUPS)}")
    name = getattr(schema, "type", None)
    if not isinstance(name, str) or not NAME.fullmatch(name):
        raise ValueError(f"register: {schema.__name__}.type must be the option's name (letters, digits, _ and -)")
    if isinstance(build, str):
        _check_builder_name(build)
        legacy = build.replace(":", ".")
    else:
        legacy = f"{build.__module__}.{build.__qualname__}"
    if plugins.loading():
        if name in REGISTRY.get(group, {}):
            raise ValueError(f"register: {group}={name} is ganrun's own option; a plugin chooses another name")
        plugins.PROVIDERS[(group, name)] = plugins.loading()
    elif callable(build) and build.__module__.split(".")[0] == "ganrun":
        _check_indexed(group, name, schema, f"{build.__module__}:{build.__qualname__}")
        return          # ganrun's own module, imported to build: the index holds this option already
    REGISTRY.setdefault(group, {})[name] = Option(group, name, schema, build, legacy_target or legacy)


def _check_indexed(group: str, name: str, schema: type, builder: str) -> None:
    """A module of ganrun registers an option: the index (ganrun/option_index.py) must hold it with
    this builder and the same keys, its copy of the schema being the one configs are typed by (so
    that they merge). Otherwise the module was edited without `make docs`: say so, in one line."""
    importlib.import_module(OPTION_MODULES[0])
    known = REGISTRY.get(group, {}).get(name)
    why = ("has no such option" if known is None else
           f"builds it with {known.builder}" if known.builder != builder else
           "declares other keys" if _fields(known.schema) != _fields(schema) else "")
    if why:
        raise ConfigError(f"{group}={name} ({builder}): ganrun/option_index.py {why}; it is written from the "
                          f"modules by `make docs`: run it")


def _fields(schema: type) -> list[tuple]:
    """What a schema declares: each key's name, type (as written), default and checks."""
    def written(t: Any) -> str:
        return t if isinstance(t, str) else getattr(t, "__name__", str(t).replace("typing.", ""))

    return [(f.name, written(f.type), f.default if f.default_factory is dataclasses.MISSING else f.default_factory(),
             dict(f.metadata)) for f in dataclasses.fields(schema)]


# Metrics a plugin adds to a kind of data (ganrun/kinds.py): kind -> builders of metric parts, each
# "package.module:name" or a callable (cfg_eval, data, device, cache_dir) -> part(batch) -> (values, protocol).
METRICS: dict[str, list] = {}


def register_metric(kind: str, build: str | Callable[..., Any]) -> None:
    """Add a metric to every evaluation of a kind of data (images, points, ...)."""
    if isinstance(build, str):
        _check_builder_name(build)
    METRICS.setdefault(kind, []).append(build)


def _check_builder_name(builder: str) -> None:
    module, _, name = builder.partition(":")
    if not all(part.isidentifier() for part in module.split(".")) or not name.isidentifier():
        raise ValueError(f"builder {builder!r}: expected 'package.module:name'")


def _load(builder: str) -> Callable[..., Any]:
    """The callable that a registered "package.module:name" names. These strings are written in
    ganrun/option_index.py and in installed plugins, never read from a file: a stored config only
    chooses an option's `type`."""
    _check_builder_name(builder)
    module, _, name = builder.partition(":")
    return getattr(importlib.import_module(module), name)


def _import_option_modules() -> None:
    """Import every module that registers options (once): ganrun's own, then installed plugins'."""
    if _imported:
        return
    _imported.append(True)
    for name in OPTION_MODULES:
        importlib.import_module(name)
    from ganrun import plugins

    plugins.load()


def option(group: str, type_: str) -> Option:
    """The registered option `type_` of `group`, or a ConfigError listing the real ones."""
    _import_option_modules()
    options = REGISTRY.get(group, {})
    if type_ not in options:
        raise ConfigError(f"{group}.type={type_}: no such {group} in ganrun; "
                          f"choose one of {', '.join(sorted(options))}{did_you_mean(str(type_), options)}")
    return options[type_]


def make(group: str, node: Any, **context: Any) -> Any:
    """Build the part that a config node (or a dict naming its `type` and some keys) describes,
    through the registry only; keys it leaves out take the schema's defaults."""
    opt = option(group, node["type"])
    typed = OmegaConf.merge(OmegaConf.structured(opt.schema), node)
    where = node._get_full_key(None) if isinstance(node, DictConfig) else ""
    check_required(typed, prefix=f"{where}." if where else "")
    values = OmegaConf.to_container(typed, resolve=True)
    values.pop("type")
    return opt.build(**values, **context)


# --------------------------------------------------------------------------- top-level blocks
@dataclass
class TrainConfig:
    steps: int = bounded(2000, ge=1)          # generator updates
    batch_size: int = bounded(64, ge=1)             # samples per D and per G update
    n_critic: int = bounded(1, ge=1)          # D updates per G update
    g_steps: int = bounded(1, ge=1, le=100)   # G updates per step, after D's (PacGAN's code: 2, so D does not win)
    # alternating: (1) update D, (2) update G through the updated D (pytorch/examples' DCGAN);
    # simultaneous: D's and G's gradients taken at the same weights on the same minibatch, then both
    # step (the ALI and PacGAN authors' code); with n_critic and g_steps 1
    updates: str = choice("alternating", "simultaneous")
    log_every: int = bounded(100, ge=1)             # steps between logged losses and health signals
    sample_every: int = bounded(500, ge=1)          # steps between sample grids in TensorBoard
    ckpt_every: int = bounded(1000, ge=1)           # steps between checkpoints
    keep_last: int = bounded(3, ge=1)         # step checkpoints kept (last.pt is always the newest)
    # linear: decay to 0 at train.steps; hold_linear: constant for half the steps, then linear to 0
    lr_schedule: str = choice("constant", "linear", "hold_linear")
    # hold_linear: updates at the full rate before the decay starts (0: half of train.steps). Set,
    # a shorter run never decays, as in the originals' rule, which counts epochs, not the run's length
    lr_hold_steps: int = bounded(0, ge=0)
    # a NaN/inf loss: stop (naming the step and term, keeping the last good checkpoint), or skip
    # the update and count it (a host sync per step)
    nonfinite: str = choice("stop", "skip")
    # warnings of the health monitor that end the run early (ganrun/health.py): none, collapse
    # (D has won, modes dropped, duplicates) or any
    stop_on: str = choice("none", "collapse", "any")
    # several processes (torchrun): batch norm over the global batch (CUDA only); off: per process
    sync_bn: bool = False
    # speed options (docs/performance.md); off, a run's numbers on CPU are exactly the same:
    channels_last: bool = False   # speed: NHWC weights for conv nets (faster convolutions on recent GPUs)
    compile: bool = False         # speed: torch.compile G and D (D stays eager under a gradient penalty)


@dataclass
class TricksConfig:
    """GAN_NOTES §5. Every switch is off unless a preset turns it on."""
    prior: str = choice("normal", "uniform")        # z ~ N(0, I) or U[-1, 1]
    label_smoothing: float = bounded(0.0, ge=0, lt=1)   # one-sided: real target 1 - s
    noisy_labels: bool = False                      # real ~ U[0.8, 1.2], fake ~ U[0, 0.3]
    label_flip: float = bounded(0.0, ge=0, le=0.5)  # chance that a D target is swapped
    instance_noise: float = bounded(0.0, ge=0)      # std of noise on D's inputs at step 0
    instance_noise_steps: int = bounded(0, ge=0)    # linear decay to 0 over this many steps (0: the run)
    joint_batches: bool = False                     # D sees real and fake in one batch
    replay: float = bounded(0.0, ge=0, le=1)        # share of D's fake batch drawn from past fakes
    replay_size: int = bounded(4096, ge=1, le=100_000)          # replay buffer capacity, in samples
    ema: float = bounded(0.0, ge=0, lt=1)           # G_ema decay, e.g. 0.999 (0: off)
    ema_start: int = bounded(0, ge=0)               # G_ema copies G until this step
    spectral_norm: bool = False                     # spectral normalisation on every D layer
    pack: int = bounded(1, ge=1)                    # PacGAN: D scores groups of `pack` samples
    diffaug: str = "none"                           # DiffAugment policy: any of color,translation,cutout
    ada: bool = False                               # ADA: apply tricks.diffaug with an adaptive probability p
    ada_target: float = bounded(0.6, gt=0, lt=1)    # ADA's target for r_t = E[sign D(x_real)]
    ada_kimg: float = bounded(100.0, gt=0)          # thousands of images for p to move by 1 (paper: 500)
    ada_interval: int = bounded(4, ge=1)            # steps between adjustments of p
    ortho: float = bounded(0.0, ge=0)               # BigGAN's orthogonal regularisation of G (beta, 1e-4)
    # MSGAN's mode-seeking term (lambda; 0: off): the batch's halves share their classes or codes,
    # and G's loss adds lambda / (mean|G(z1) - G(z2)| / mean|z1 - z2| + 1e-5), so that G keeps using z
    mode_seeking: float = bounded(0.0, ge=0)
    r1: float = bounded(0.0, ge=0)                  # R1 (Mescheder 2018): D's loss adds gamma/2 E||grad D(x_real)||^2
    r1_every: int = bounded(1, ge=1)                # lazy R1: every k-th D update, weighted k (StyleGAN2: 16)


@dataclass
class EvalConfig:
    """What is measured during training (every `every` steps) and at the end (GAN_NOTES §4, §6)."""
    every: int = bounded(0, ge=0)              # steps between evaluations (0: only at the end)
    n: int = bounded(2500, ge=10, le=100_000)   # generated samples per evaluation
    seed: int = bounded(0, ge=0, le=SEED_MAX)  # noise for those samples: fixed, so runs compare
    classifier: bool = True                    # classifier metrics for labelled image sets
    memorisation: bool = True                  # nearest-neighbour and duplicate checks on images
    inception: Optional[bool] = None           # FID/IS/KID; null: on when training on a GPU
    inception_weights: Optional[str] = path_field()  # Inception weights file; null: torch's hub cache
    ref_n: int = bounded(10000, ge=10, le=100_000)   # real images used as the reference, at most
    dup_batch: int = bounded(100, ge=2)        # batch size of the birthday-paradox test
    cache_dir: str = path_field("${oc.env:GANRUN_CACHE_DIR,'~/.cache/ganrun'}")   # classifier weights, real-data statistics
    download_timeout: float = bounded(10.0, gt=0)   # seconds to wait for the Inception weights' server before giving up
    truncation: Optional[float] = bounded(None, gt=0)   # the truncation trick for evaluation samples (e.g. 0.5)


@dataclass
class DeviceConfig:
    type: str = choice("auto", "cpu", "cuda", "mps")     # auto: cuda, else mps, else cpu
    # bf16: autocast to bfloat16; fp16: autocast to float16 with a gradient scaler per player
    precision: str = choice("fp32", "bf16", "fp16")
    tf32: bool = True             # CUDA only: TF32 matmuls and convolutions (Ampere and later)
    # CUDA only: cuDNN's autotuner picks the fastest convolution for each shape (GPU results then
    # vary slightly from run to run)
    benchmark: bool = True


@dataclass
class OptimizerPair:
    """G and D get their own optimizer: GAN recipes differ between them (TTUR, WGAN)."""
    g: Any = MISSING
    d: Any = MISSING


@dataclass
class RunConfig:
    seed: int = bounded(0, ge=0, le=SEED_MAX)       # every random number of the run follows from it
    quiet: bool = False          # no progress bar; per-step lines go to the log file only
    resume: Optional[str] = None # a run folder or checkpoint to continue, or "auto"
    train: TrainConfig = field(default_factory=TrainConfig)
    tricks: TricksConfig = field(default_factory=TricksConfig)
    eval: EvalConfig = field(default_factory=EvalConfig)
    device: DeviceConfig = field(default_factory=DeviceConfig)
    optimizer: OptimizerPair = field(default_factory=OptimizerPair)
    game: Any = MISSING          # a registered game schema (ganrun/games/)
    model: Any = MISSING         # a registered model schema
    dataset: Any = MISSING       # a registered dataset schema
    loss: Any = MISSING          # a registered loss schema


# Where each registered group's option sits in a run's config.
OPTION_NODES = {"game": "game", "model": "model", "dataset": "dataset", "loss": "loss",
                "optimizer.g": "optimizer", "optimizer.d": "optimizer"}
# What a run's config did not have before: (key, value to assume) for files of earlier versions.
STORED_DEFAULTS = {"game": {"type": "gan"}}


def register_configs() -> None:
    """Put the schemas where the YAML files' defaults lists look for them, and the resolver
    that lists the user-facing groups in `ganrun --help`."""
    _import_option_modules()
    cs = ConfigStore.instance()
    # Hydra 1.3 deep-copies its config repository, this store included, for every lookup of a
    # group's options: ~140 times for `ganrun --help`, over a second with ganrun's options. The
    # copies only read the store (their re-initialised sources use the live one anyway), so they
    # share it, as Hydra does since facebookresearch/hydra#2928.
    cs.__deepcopy__ = lambda memo: cs
    from ganrun.plugins import PROVIDERS

    cs.store(name="ganrun_schema", node=RunConfig)
    for group, options in REGISTRY.items():
        for name, opt in options.items():
            cs.store(group=f"schema/{group}", name=name, node=opt.schema)
            if ((group, name) in PROVIDERS or _needs_no_yaml(opt)) and name not in yaml_options(group):
                cs.store(group=group, name=name, node=opt.schema)     # an option without a recipe: `group=name`
    OmegaConf.register_new_resolver("ganrun_groups", groups_help, replace=True)
    # presets whose batch counts packs: train.batch_size: ${ganrun_mul:100,${tricks.pack}}
    OmegaConf.register_new_resolver("ganrun_mul", lambda a, b: int(a) * int(b), replace=True)


USER_GROUPS = ("game", "model", "dataset", "loss", "optimizer", "device", "experiment")
DEFAULTS = {"game": "gan", "model": "dcgan", "dataset": "digits", "loss": "ns", "optimizer": "adam",
            "device": "auto"}


def yaml_options(group: str) -> list[str]:
    """The YAML files in ganrun/conf/<group>/: the options that bring a recipe (or are presets)."""
    from importlib.resources import files

    folder = files("ganrun.conf").joinpath(group)
    return sorted(p.name[:-5] for p in folder.iterdir() if p.name.endswith(".yaml")) if folder.is_dir() else []


def _needs_no_yaml(opt: Option) -> bool:
    """Whether a registered option is chosen as `group=name` by itself, without a YAML file. Not an
    optimizer (an optimizer option is a pair, g and d: its YAML), nor a builder that its presets
    choose (`preset_base`: dataset=mnist, cifar10, ... all build with `torchvision`)."""
    return opt.group != "optimizer" and not getattr(opt.schema, "preset_base", False)


def group_options(group: str) -> list[str]:
    """ganrun's own options of a config group: its YAML files, and the options of the index that need
    none (an option brings a YAML file only when it sets more than its own keys' defaults)."""
    _import_option_modules()
    own = {name for name, opt in REGISTRY.get(group, {}).items()
           if opt.schema.__module__ in OPTION_MODULES and _needs_no_yaml(opt)}
    return sorted(set(yaml_options(group)) | own)


def choices(group: str) -> list[str]:
    """Every option a user can choose in a group: ganrun's own and the options of installed plugins."""
    from ganrun.plugins import PROVIDERS

    return sorted(set(group_options(group)) | {name for g, name in PROVIDERS if g == group})


def groups_help() -> str:
    lines = []
    for group in USER_GROUPS:
        options = choices(group)
        default = DEFAULTS.get(group)
        shown = ([f"{default} (default)"] if default in options else []) + [o for o in options if o != default]
        lines.append(f"{group + ':':<12}{', '.join(shown)}")
    return "\n".join(lines)


# --------------------------------------------------------------------------- range checks
_WORDS = {"ge": ">=", "gt": ">", "le": "<=", "lt": "<"}


def _violates(value: Any, limits: dict, one_of: tuple = ()) -> Optional[str]:
    if isinstance(value, float) and not math.isfinite(value):
        return "a finite number"
    if one_of and value not in one_of:
        return "one of " + ", ".join(map(str, one_of))
    for op, bound in limits.items():
        ok = {"ge": value >= bound, "gt": value > bound, "le": value <= bound, "lt": value < bound}[op]
        if not ok:
            shown = str(bound) if isinstance(bound, int) else f"{bound:g}"
            return f"{_WORDS[op]} {shown}"
    return None


def flatten(tree: Any, prefix: str = "") -> dict[str, Any]:
    """{"train": {"steps": 5}} -> {"train.steps": 5}: a plain config's leaves by their dotted keys."""
    if isinstance(tree, dict):
        out: dict[str, Any] = {}
        for k, v in tree.items():
            out.update(flatten(v, f"{prefix}{k}."))
        return out
    return {prefix[:-1]: tree}


def check_required(cfg: DictConfig, but: tuple[str, ...] = (), prefix: str = "") -> None:
    """Raise ConfigError naming the first required key (`???` in the YAML) left unset, except `but`
    (keys of `cfg` are shown after `prefix`, the node's place in the run's config)."""
    missing = sorted(set(OmegaConf.missing_keys(cfg)) - set(but))
    if missing:
        key = prefix + missing[0]
        raise ConfigError(f"{key} is required but not set: add {key}=... to the command line")


def _group_of(prefix: str) -> Optional[str]:
    return OPTION_NODES.get(prefix[:-1])


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
        group = _group_of(prefix)
        if key == "type" and group and value != fields[key].default:
            article = "an" if group[0] in "aeiou" else "a"
            raise ConfigError(f"{full}={value}: {article} {group}'s type is chosen with its option, "
                              f"e.g. {group}={value}, not set as a key")
        if isinstance(value, ListConfig) and any(isinstance(item, (DictConfig, ListConfig)) for item in value):
            raise ConfigError(f"{full}: give a list of plain values (numbers), not of lists or mappings")
        meta = fields[key].metadata if key in fields else {}
        if meta.get("name") and not (isinstance(value, str) and NAME.fullmatch(value)):
            raise ConfigError(f"{full}={str(value)[:80]!r}: a name goes into file names and metric keys: use 1-64 "
                              f"letters, digits, _ and - (starting with a letter or digit)")
        length, longest = meta.get("length"), meta.get("max_length")
        if length and isinstance(value, ListConfig) and len(value) != length:
            raise ConfigError(f"{full}={list(value)} needs exactly {length} values")
        if longest and isinstance(value, ListConfig) and len(value) > longest:
            raise ConfigError(f"{full}: {len(value)} values; at most {longest}")
        limits, one_of = meta.get("range"), meta.get("one_of", ())
        if not limits and not one_of:
            continue
        items = list(value) if isinstance(value, ListConfig) else [value]
        for item in items:
            if isinstance(item, bool) or not isinstance(item, (int, float, str)):
                continue
            if isinstance(item, str) and not one_of:
                continue
            need = _violates(item, limits or {}, one_of)
            if need:
                shown = list(value) if isinstance(value, ListConfig) else value
                each = " (every entry)" if isinstance(value, ListConfig) else ""
                if isinstance(item, str):
                    raise ConfigError(f"{full}={shown}: no such choice{did_you_mean(item, one_of)}; "
                                      f"it must be {need}")
                raise ConfigError(f"{full}={shown} is out of range: it must be {need}{each}")


def validate(cfg: DictConfig, reads_data: bool = True) -> None:
    """Every check a config must pass before anything is built: required keys, ranges, and the
    image size of a model made for some sizes only (said before a folder of images is decoded).
    Without `reads_data` (sampling a trained run, which builds no dataset) a required data folder
    may stay unset."""
    check_required(cfg, but=() if reads_data else tuple(path_keys(cfg)))
    check_ranges(cfg)
    sizes = getattr(OmegaConf.get_type(cfg.model), "resolutions", None) if "model" in cfg else None
    resolution = cfg.dataset.get("resolution") if "dataset" in cfg else None
    why = unsupported_resolution(cfg.model.type, sizes, resolution) if sizes and resolution else None
    if why:
        raise ConfigError(why)
    train = cfg.get("train")
    if train is not None and train.get("lr_hold_steps", 0) and train.get("lr_schedule") != "hold_linear":
        raise ConfigError(f"train.lr_hold_steps={train.lr_hold_steps} shapes train.lr_schedule=hold_linear only, and "
                          f"this run has {train.lr_schedule}: set train.lr_schedule=hold_linear, or train.lr_hold_steps=0 "
                          f"(a preset's tuning may set it, as experiment=cyclegan on digits2bold does)")


def unsupported_resolution(model: str, sizes: tuple[int, ...], resolution: int) -> Optional[str]:
    """The refusal when a model made for some image sizes gets another; None when it fits."""
    if resolution in sizes:
        return None
    other = " (or use model=dcgan)" if model != "dcgan" else ""
    return (f"model={model} supports resolutions {', '.join(map(str, sizes[:-1]))} and {sizes[-1]}, not "
            f"{resolution}: set dataset.resolution to one of them{other}")


# --------------------------------------------------------------------------- stored configs
def _walk(tree: Any, prefix: str = ""):
    if isinstance(tree, dict):
        for k, v in tree.items():
            yield from _walk(v, f"{prefix}{k}.")
    elif isinstance(tree, list):
        for i, v in enumerate(tree):
            yield from _walk(v, f"{prefix}{i}.")
    else:
        yield prefix[:-1], tree


def _stored_type(node: dict, group: str, path: str, source: str, providers: Optional[dict] = None) -> str:
    """The option a stored node names: its `type`, or (checkpoints of ganrun 0.1) a `_target_`
    that is exactly one of ganrun's own builders. Anything else is refused; an option of a plugin
    that is not installed here names the package the run recorded (`providers`, group -> package)."""
    if "_target_" in node:
        target = node.pop("_target_")
        known = {o.legacy_target: o.type for o in REGISTRY.get(group, {}).values()}
        if target not in known:
            raise CheckpointError(f"{source}: refused: its config sets {path}._target_={target!r}, which is "
                                  f"not one of ganrun's {group} builders (a stored file never chooses code)")
        node.setdefault("type", known[target])
    type_ = node.get("type")
    if type_ not in REGISTRY.get(group, {}):
        package = (providers or {}).get(path.split(".")[0]) if isinstance(providers, dict) else None
        # the file's own claim, unverified: named only when it is a distribution name and version (PEP 508),
        # never a command line, and as a claim (a stranger's file must not choose what a user installs)
        if (isinstance(package, str) and isinstance(type_, str)
                and re.fullmatch(r"[A-Za-z0-9]([A-Za-z0-9._-]{0,78}[A-Za-z0-9])?( [A-Za-z0-9.+!_-]{1,40})?", package)):
            raise CheckpointError(f"{source}: its {path} is {type_!r}, which the file says comes from a plugin "
                                  f"package named {package!r}, not installed here (ganrun cannot check that "
                                  f"claim: install a plugin only from a source you trust)")
        raise CheckpointError(f"{source}: refused: its config sets {path}.type={type_!r}, which is not a "
                              f"{group} of this ganrun (known: {', '.join(sorted(REGISTRY.get(group, {})))})")
    return type_


def load_stored_config(stored: Any, source: str, given: Optional[dict] = None,
                       moved: Optional[dict] = None, providers: Optional[dict] = None) -> DictConfig:
    """A config read from a file (checkpoint, export, run folder), rebuilt on ganrun's schema.

    Each option node must name a registered option (`type`); its keys must be that option's
    schema keys; the rest must fit RunConfig; interpolations (`${...}`) are refused (ganrun
    stores resolved configs). Raises CheckpointError naming `source` and the key.
    Its paths (data roots, caches, weights files) are replaced by the user's (`local_paths`: the
    `given` values, else the user's defaults); `moved` receives the stored ones that were not kept."""
    import copy

    from ganrun.runfiles import StoredFileError, check_depth

    _import_option_modules()
    if not isinstance(stored, dict):
        raise CheckpointError(f"{source}: refused: its config is not a mapping")
    try:
        check_depth(stored, f"{source}: refused: its config", limit=16)
    except StoredFileError as e:
        raise CheckpointError(str(e)) from None
    stored = copy.deepcopy(stored)
    if "data" in stored and "dataset" not in stored:      # ganrun 0.1 named the node `data`
        stored["dataset"] = stored.pop("data")
    for key, value in STORED_DEFAULTS.items():
        stored.setdefault(key, copy.deepcopy(value))
    for key, value in _walk(stored):
        if isinstance(value, str) and "${" in value:
            raise CheckpointError(f"{source}: refused: its config has an interpolation at {key} "
                                  f"({value[:60]!r}); ganrun stores resolved values only")
    typed: dict[str, DictConfig] = {}
    for path, group in OPTION_NODES.items():
        parent, _, leaf = path.rpartition(".")
        holder = stored.get(parent) if parent else stored
        node = holder.get(leaf) if isinstance(holder, dict) else None
        if not isinstance(node, dict):
            raise CheckpointError(f"{source}: refused: its config has no {path} section")
        schema = REGISTRY[group][_stored_type(node, group, path, source, providers)].schema
        try:
            typed[path] = OmegaConf.merge(OmegaConf.structured(schema), node)
        except Exception as e:
            raise CheckpointError(f"{source}: refused: {path}.{_bad_key(e)} does not fit ganrun's "
                                  f"{group} {node.get('type')} ({_first_line(e)})") from None
        holder[leaf] = {}
    try:
        cfg = OmegaConf.merge(OmegaConf.structured(RunConfig), stored)
        for path, node in typed.items():
            OmegaConf.update(cfg, path, node, merge=False)
        check_ranges(cfg)
        replaced = local_paths(cfg, given)
    except ConfigError as e:
        raise CheckpointError(f"{source}: refused: {e}") from None
    except Exception as e:
        raise CheckpointError(f"{source}: refused: {_bad_key(e)} does not fit ganrun's config "
                              f"({_first_line(e)})") from None
    if moved is not None:
        moved.update(replaced)
    return cfg


# --------------------------------------------------------------------------- paths of stored configs
def path_keys(cfg: DictConfig, prefix: str = "") -> list[str]:
    """The keys of a typed config that name files or folders (declared with `path_field`)."""
    schema = OmegaConf.get_type(cfg)
    fields = {f.name: f for f in dataclasses.fields(schema)} if dataclasses.is_dataclass(schema) else {}
    keys = []
    for key in cfg:
        if isinstance(cfg._get_node(key), DictConfig):
            keys += path_keys(cfg[key], f"{prefix}{key}.")
        elif key in fields and fields[key].metadata.get("path"):
            keys.append(f"{prefix}{key}")
    return keys


def default_path(cfg: DictConfig, key: str) -> Any:
    """The user's own value of a path key for the option the config holds, resolved on this machine
    (its environment variables): the option's preset file where it sets one (dataset=anime:
    $GANRUN_DATA_DIR/anime), else the schema's default; None where there is none (a folder's root)."""
    parent, _, leaf = key.rpartition(".")
    node = OmegaConf.select(cfg, parent) if parent else cfg
    preset = _preset_value(parent, node.get("name"), leaf) if parent in ("dataset",) else None
    schema = OmegaConf.get_type(node)
    default = preset if preset is not None else next(
        (f.default for f in dataclasses.fields(schema) if f.name == leaf), None)
    if default is None or default == MISSING or isinstance(default, dataclasses._MISSING_TYPE):
        return None
    return OmegaConf.create({"v": default}).v if isinstance(default, str) and "${" in default else default


def _preset_value(group: str, option: Any, leaf: str) -> Any:
    """The value a group's option file in ganrun/conf (ganrun's own, never a stored file) gives `leaf`."""
    if not isinstance(option, str) or not NAME.fullmatch(option) or option not in yaml_options(group):
        return None
    from importlib.resources import files

    preset = OmegaConf.load(str(files("ganrun.conf").joinpath(group, f"{option}.yaml")))
    return OmegaConf.select(preset, f"{group}.{leaf}", default=None)


def local_paths(cfg: DictConfig, given: Optional[dict] = None) -> dict[str, Any]:
    """Put the user's paths into a config read from a file, in place: for every path key, the value
    `given` (from the command line) or else the user's default (`default_path`). Returns
    {key: the stored value} for the keys whose stored value was not kept, so that a tool can say which
    path the run used and how to give it."""
    given = given or {}
    moved = {}
    for key in path_keys(cfg):
        stored = OmegaConf.select(cfg, key, throw_on_missing=False)
        mine = given.get(key)
        if mine is None:
            mine = default_path(cfg, key)
            if stored is not None and _differs(stored, mine):
                moved[key] = stored
        OmegaConf.update(cfg, key, mine if mine is not None else _unset(cfg, key), merge=False)
    return moved


def _differs(a: Any, b: Any) -> bool:
    if a is None or b is None:
        return a is not b
    from pathlib import Path

    return Path(str(a)).expanduser() != Path(str(b)).expanduser()


def _unset(cfg: DictConfig, key: str) -> Any:
    """What a path key holds when the user has no value for it: null where allowed, else `???`."""
    parent, _, leaf = key.rpartition(".")
    node = OmegaConf.select(cfg, parent) if parent else cfg
    return None if node._get_node(leaf)._is_optional() else MISSING


def _bad_key(e: Exception) -> str:
    return str(getattr(e, "full_key", "") or getattr(e, "key", "") or "a key")


def _first_line(e: Exception) -> str:
    lines = [line for line in str(e).splitlines() if line.strip()]
    return lines[0][:160] if lines else type(e).__name__
