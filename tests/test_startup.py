"""Answers that train nothing (`--help`, `--cfg job`, a config error) import no torch: the
registry of options reads ganrun's own from a torch-free index (ganrun/option_index.py, written by
`make docs` from the modules that declare them), and a builder's module is imported when a run
first builds it (ganrun/config.py)."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from ganrun.config import OPTION_MODULES, REGISTRY, Option, option, register

HEAVY = ("torch", "torchvision", "tensorboard", "sklearn", "scipy", "matplotlib")
# Runs `ganrun ARGS` in a fresh interpreter, then records its exit status and the heavy
# packages that it imported.
PROBE = """
import json, sys
out, sys.argv = sys.argv[1], ["ganrun", *json.loads(sys.argv[2])]
from ganrun.commands.run import main
try:
    main()
    code = 0
except SystemExit as e:
    code = e.code
heavy = sorted({m.split(".")[0] for m in sys.modules} & set(%r))
with open(out, "w") as f:
    json.dump({"code": code, "heavy": heavy}, f)
""" % (HEAVY,)


def probe(args: list[str], cwd) -> tuple[dict, str]:
    out = cwd / "probe.json"
    env = {k: v for k, v in os.environ.items() if k != "HYDRA_FULL_ERROR"}
    done = subprocess.run([sys.executable, "-c", PROBE, str(out), json.dumps(args)], cwd=cwd, env=env,
                          capture_output=True, text=True, timeout=300)
    assert out.is_file(), f"ganrun {' '.join(args)} did not finish:\n{done.stdout}\n{done.stderr}"
    return json.loads(out.read_text()), done.stdout + done.stderr


@pytest.mark.parametrize("args, code, text", [
    (["--help"], 0, "== Config groups"),
    (["--cfg", "job"], 0, "batch_size:"),
    (["--cfg", "job", "dataset=ring", "loss=wgan_gp", "experiment=pacgan_ring"], 0, "gp_weight:"),
    (["trian.steps=5"], 2, "trian.steps: no such key (did you mean train.steps?)"),
    (["loss=nonexistent"], 2, "loss=nonexistent: no such option"),
    (["train.steps=abc"], 2, "train.steps: Value 'abc'"),
    (["train.steps=0", "hydra.run.dir=run"], 2, "train.steps=0 is out of range"),     # found by validate()
    (["dataset=folder", "hydra.run.dir=run"], 2, "dataset.root is required"),
])
def test_answers_that_train_nothing_import_no_torch(tmp_path, args, code, text):
    result, output = probe(args, tmp_path)
    assert result["code"] == code and text in output, output
    assert result["heavy"] == [], f"ganrun {' '.join(args)} imported {result['heavy']}"


def test_the_option_registry_imports_no_torch(tmp_path):
    code = ("import sys; from ganrun.config import register_configs, option; register_configs(); "
            "option('model', 'dcgan'); print(sorted({m.split('.')[0] for m in sys.modules} & set(%r)))" % (HEAVY,))
    done = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0 and done.stdout.strip() == "[]", done.stdout + done.stderr


def test_every_registered_builder_resolves_to_the_name_checkpoints_know(tmp_path):
    """Each builder named as "ganrun.module:name" exists, and the `_target_` that checkpoints of
    ganrun 0.1 stored for it is that builder's own name (torch's, for the optimizers)."""
    option("model", "dcgan")       # imports the option modules
    assert REGISTRY and set(REGISTRY) == {"game", "model", "dataset", "loss", "optimizer"}
    for group, options in REGISTRY.items():
        for name, opt in options.items():
            if not isinstance(opt.builder, str):
                continue              # registered with the callable itself (a test's option)
            module, _, attr = opt.builder.partition(":")
            assert module.startswith("ganrun.") and module not in OPTION_MODULES
            built_by = getattr(__import__(module, fromlist=[attr]), attr)
            assert callable(built_by), opt.builder
            if group == "optimizer":     # PyTorch's own, stored under torch's public name
                import torch

                built = built_by([torch.nn.Parameter(torch.zeros(1))], lr=1e-3)
                assert isinstance(built, getattr(torch.optim, attr)) and opt.legacy_target == f"torch.optim.{attr}"
            else:
                assert opt.legacy_target == f"{built_by.__module__}.{built_by.__qualname__}", (group, name)


def test_a_builder_must_name_a_callable_and_a_stored_config_cannot_choose_one():
    # Builders are written in code (ganrun's modules, installed plugins); a stored config only names
    # a registered option's `type`, so a file cannot reach `os:system` however it is spelled.
    from dataclasses import dataclass

    from ganrun.config import load_stored_config
    from ganrun.errors import CheckpointError

    @dataclass
    class Schema:
        type: str = "probe_startup"

    for builder in ("ganrun.models.dcgan", "ganrun.models.dcgan:not a name", "os/x:f", ":f"):
        with pytest.raises(ValueError, match="expected 'package.module:name'"):
            register("model", Schema, builder)
    assert "probe_startup" not in REGISTRY.get("model", {})
    with pytest.raises(ValueError, match="expected 'package.module:name'"):
        Option("model", "probe_startup", Schema, "not a module:f", "").build()
    with pytest.raises(ValueError, match="group 'nonsense'"):
        register("nonsense", Schema, "ganrun.models.dcgan:DCGANGenerator")
    for stored in ({"type": "os:system"}, {"_target_": "os.system"}):
        with pytest.raises(CheckpointError, match="refused"):
            load_stored_config({"model": stored}, "probe.pt")


def test_a_builders_module_finds_its_options_in_the_index_and_refuses_a_stale_one():
    """Building an option imports its module, whose `register` calls meet the index's entries: the
    registry keeps them (one schema class per option, so configs typed by either merge). A module
    whose schema differs from the index's copy (edited without `make docs`) is refused by name."""
    import importlib
    from dataclasses import dataclass

    option("model", "dcgan")
    before = {(g, n): (o.schema, o.builder) for g, opts in REGISTRY.items() for n, o in opts.items()}
    for module in ("ganrun.losses", "ganrun.optimizers", "ganrun.models.dcgan", "ganrun.models.mlp",
                   "ganrun.models.resnet", "ganrun.models.translation", "ganrun.data.toy", "ganrun.data.images",
                   "ganrun.data.translation", "ganrun.games.gan", "ganrun.games.conditional",
                   "ganrun.games.infogan", "ganrun.games.mixgan", "ganrun.games.translation"):
        importlib.import_module(module)
    after = {(g, n): (o.schema, o.builder) for g, opts in REGISTRY.items() for n, o in opts.items()}
    assert after == before and all(s.__module__ == "ganrun.option_index" for (g, n), (s, b) in after.items()
                                   if isinstance(b, str))

    @dataclass
    class HingeLossConfig:
        type: str = "hinge"
        margin: float = 1.0

    def Hinge():
        pass

    @dataclass
    class NewLossConfig:
        type: str = "brand_new"

    from ganrun.errors import ConfigError

    Hinge.__module__, Hinge.__qualname__ = "ganrun.losses", "Hinge"
    with pytest.raises(ConfigError, match=r"loss=hinge \(ganrun.losses:Hinge\): ganrun/option_index.py declares "
                                          r"other keys; it is written from the modules by `make docs`: run it"):
        register("loss", HingeLossConfig, Hinge)
    with pytest.raises(ConfigError, match="option_index.py has no such option"):
        register("loss", NewLossConfig, Hinge)          # an option added (or renamed) without `make docs`
    Hinge.__qualname__ = "MarginHinge"
    with pytest.raises(ConfigError, match="option_index.py builds it with ganrun.losses:Hinge"):
        register("loss", HingeLossConfig, Hinge)        # its builder renamed
    assert REGISTRY["loss"]["hinge"].schema.__module__ == "ganrun.option_index"
    assert "brand_new" not in REGISTRY["loss"]
