"""The README and the pages of docs/ stay in step with what ganrun ships: the option tables are
written from the registry, the README's map names every page, and every command the docs show is checked (a
`ganrun` command composes and validates as it would run; a `ganrun-*` command's flags are its own)."""

from __future__ import annotations

import re
import shlex

import pytest

from conftest import REPO, compose_config
from test_config import GROUPS, options

README = (REPO / "README.md").read_text()
CONFIGURATION = (REPO / "docs" / "configuration.md").read_text()
PAGES = sorted(p for p in (REPO / "docs").glob("*.md") if p.name not in ("GAN_NOTES.md",))


def test_the_option_reference_and_the_groups_table_are_written_from_the_registry():
    """docs/options.md and the groups table of docs/configuration.md are what `make docs` writes:
    a new option is documented by its own files (its YAML's comment, its schema's comments)."""
    from ganrun.reference import written_docs

    for page, text in written_docs(REPO / "docs").items():
        assert page.read_text() == text, f"docs/{page.name} is out of date: run `make docs`"


def test_the_option_index_is_the_modules_own_schemas_and_registrations():
    """ganrun/option_index.py (torch-free) is what `make docs` writes from the modules that declare
    each option: a schema edited in its module without `make docs` fails here."""
    from ganrun.indexer import INDEX, option_index

    assert INDEX.read_text() == option_index(), "ganrun/option_index.py is out of date: run `make docs`"


def test_an_option_declared_in_a_new_module_is_indexed_with_what_its_schema_uses(tmp_path):
    """One new file holds a new option (schema, builder, registration): the index copies the schema,
    its base class and the constants it uses (its own and imported ones), and names the builder."""
    from ganrun.indexer import option_index

    package = tmp_path / "ganrun"
    (package / "models").mkdir(parents=True)
    (package / "models" / "__init__.py").write_text('WIDTHS = (32, 64)\n')
    (package / "models" / "tiny.py").write_text(
        "from dataclasses import dataclass\n\nfrom ganrun.config import choice, register\n"
        "from ganrun.models import WIDTHS\n\nDEPTHS = (1, 2)  # layers\n\n\n"
        "@dataclass\nclass Base:\n    depth: int = choice(1, *DEPTHS)  # how deep\n\n\n"
        "@dataclass\nclass TinyConfig(Base):\n    \"\"\"A tiny pair.\"\"\"\n    type: str = 'tiny'\n"
        "    width: int = choice(32, *WIDTHS)\n\n\ndef build(depth, width):\n    return depth, width\n\n\n"
        "register('model', TinyConfig, build)\n")
    text = option_index(package)
    assert "# ganrun/models/__init__.py\nWIDTHS = (32, 64)" in text
    assert "# ganrun/models/tiny.py\nDEPTHS = (1, 2)  # layers" in text
    assert text.index("class Base:") < text.index("class TinyConfig(Base):")
    assert 'register("model", TinyConfig, "ganrun.models.tiny:build")' in text
    namespace: dict = {}
    exec(compile(text.replace("\nregister(", "\nprint("), "option_index", "exec"), namespace)
    assert namespace["TinyConfig"]().width == 32 and namespace["TinyConfig"]().depth == 1


@pytest.mark.parametrize("module, message", [
    ("from ganrun.config import register\nif True:\n    register('loss', A, f)\n",
     "tiny.py:7: register an option with a plain top-level `register(...)` statement"),
    ("from ganrun import config\nconfig.register('loss', A, f)\n", "tiny.py:6: register an option with a plain"),
    ("from ganrun.config import register\nregister(group='loss', schema=A, build=f)\n",
     "tiny.py:6: write register(\"<group>\", Schema, builder)"),
    ("from ganrun.config import register\nregister('loss', A, 'x:f')\n", "tiny.py:6: write register("),
    ("from ganrun.config import register\nfrom ganrun.other import B\nregister('loss', B, f)\n",
     "tiny.py:7: the schema B must be a class of that module"),
    ("from ganrun.config import register\nclass C:\n    type: str = 'ns'\n\nregister('loss', C, f)\n"
     "class D:\n    type: str = 'ns'\n\nregister('loss', D, f)\n",
     "tiny.py:13: loss=ns is registered already, at ganrun/tiny.py:9"),
    ("from ganrun.config import register\nclass C:\n    x: int = UNKNOWN\n    type: str = 'c'\n\n"
     "register('loss', C, f)\n", "the index would not run (NameError: name 'UNKNOWN' is not defined)"),
])
def test_the_indexer_refuses_a_registration_it_cannot_copy_with_its_place(tmp_path, module, message):
    from ganrun.indexer import IndexerError, option_index

    (tmp_path / "ganrun").mkdir()
    (tmp_path / "ganrun" / "tiny.py").write_text("class A:\n    type: str = 'a'\n\n\n" + module)   # 4 lines first
    with pytest.raises(IndexerError) as caught:
        option_index(tmp_path / "ganrun")
    assert message in str(caught.value)


def test_a_key_two_tuning_files_set_is_the_last_applied_ones():
    """experiment=infogan on digits: the DCGAN's digits file sets 3 000 steps, InfoGAN's own 9 000; the
    run trains 9 000 and the reference names InfoGAN's file for it."""
    from ganrun.reference import composer, recipe_rows, tuned_keys

    with composer() as compose:
        cfg = compose(["experiment=infogan"])
        assert cfg.train.steps == 9000
        assert tuned_keys(cfg)["train.steps"] == "tuning/experiment/infogan_digits.yaml"
        rows = recipe_rows("experiment", "infogan", compose)
    assert ("train.steps", "9000", "", "") in rows
    assert ("tuning/experiment/infogan_digits.yaml", "applies on this data", "", "tuning file") in rows


@pytest.mark.parametrize("group", GROUPS)
def test_the_option_reference_lists_every_option_of_every_group(group):
    reference = (REPO / "docs" / "options.md").read_text()
    listed = set(re.findall(rf"^### `{group}=([a-z0-9_]+)`", reference, flags=re.M))
    assert listed == set(options(group))


def test_every_key_of_every_option_says_what_it_is():
    """The reference's meaning column comes from the comment beside each field: none is blank."""
    import dataclasses

    from ganrun.config import (REGISTRY, DeviceConfig, EvalConfig, RunConfig, TrainConfig, TricksConfig,
                               _import_option_modules)
    from ganrun.reference import field_help

    _import_option_modules()
    schemas = [RunConfig, TrainConfig, TricksConfig, EvalConfig, DeviceConfig,
               *(o.schema for opts in REGISTRY.values() for o in opts.values() if o.schema.__module__.startswith("ganrun."))]
    blocks = {f.name for f in dataclasses.fields(RunConfig) if f.default is dataclasses.MISSING}   # train, game, ...
    blank = [f"{s.__name__}.{f.name}" for s in schemas for f in dataclasses.fields(s)
             if f.name != "type" and not (s is RunConfig and f.name in blocks) and not field_help(s).get(f.name)]
    assert not blank, f"keys without a comment beside them in their schema: {blank}"


def test_ganrun_help_on_a_group_an_option_and_a_block_of_keys(tmp_path):
    from conftest import ganrun

    listing = ganrun("--help", "loss", cwd=tmp_path).stdout
    assert re.search(r"\n  wgan_gp +WGAN with gradient penalty \(Gulrajani 2017\)\n", listing), listing
    assert re.search(r"\n  ns +Non-saturating GAN \(default\)\n", listing), listing
    option = ganrun("--help", "loss=wgan", cwd=tmp_path).stdout
    assert re.search(r"loss\.clip = 0\.01  \(float >= 0\)\n +every D weight clipped", option), option
    # what the option brings beyond its own keys: its recipe
    assert re.search(r"it also sets:\n\n  optimizer +\= rmsprop\n  train\.n_critic = 5", option), option
    experiment = ganrun("--help", "experiment=wgan_gp_toy", cwd=tmp_path).stdout
    assert re.search(r"loss\.gp_weight += 0\.1", experiment) and re.search(r"dataset += ring", experiment)
    block = ganrun("--help", "train", cwd=tmp_path).stdout
    assert re.search(r"train\.lr_schedule += constant  \(constant, linear, hold_linear\)", block), block
    # the digits' tuning files set some tricks: the values are said to be those of the default dataset
    tricks = ganrun("--help", "tricks", cwd=tmp_path).stdout
    assert "on dataset=digits its tuning files set some" in tricks and "tricks.ema " in tricks, tricks


@pytest.mark.parametrize("args, message", [
    (["--help", "loss=hing"], "ganrun --help loss=hing: no such loss; choose one of ns, "),   # the default first
    (["--help", "loss=hing"], "(did you mean hinge?)"),
    (["--help", "LOSS"], "ganrun --help LOSS: no such topic; give a group (game, model, dataset, loss, optimizer, "
                         "device, experiment), GROUP=OPTION, train, tricks or eval (did you mean loss?)"),
    (["--help", ""], "ganrun --help : no such topic"),
    (["--help", "loss="], "ganrun --help loss=: no such loss"),
    (["--help", "train=x"], "train is a block of keys, not a group: ganrun --help train"),
    (["--help", "loss", "extra"], "ganrun --help loss extra: give one topic"),
    (["--help", "hydra"], "Hydra's own options are shown by ganrun --hydra-help"),
])
def test_ganrun_help_mistakes_are_one_line(args, message, tmp_path):
    from conftest import ganrun

    proc = ganrun(*args, cwd=tmp_path, check=False)
    assert proc.returncode == 2 and len(proc.stderr.strip().splitlines()) == 1, proc.stderr
    assert proc.stderr.startswith("ganrun: error: ") and message in proc.stderr, proc.stderr


def test_readme_gives_the_two_setup_commands():
    assert "make run" in README and "make test" in README
    assert "make test" in (REPO / ".ci" / "run").read_text()


def test_readme_maps_every_page_of_docs():
    for page in PAGES:
        assert f"(docs/{page.name})" in README, f"README's guide does not link docs/{page.name}"


def test_every_relative_link_of_the_docs_leads_to_a_file():
    for page in [REPO / "README.md", *PAGES]:
        for target in re.findall(r"\]\(([^)#]+)(?:#[^)]*)?\)", page.read_text()):
            if "://" not in target:
                assert (page.parent / target).exists(), f"{page.name}: link to {target} leads nowhere"


def test_ganrun_help_lists_every_option_of_every_group(tmp_path):
    from conftest import ganrun

    help_text = ganrun("--help", cwd=tmp_path).stdout
    for group in GROUPS:
        line = next(line for line in help_text.splitlines() if line.startswith(f"{group}:"))
        listed = set(re.findall(r"([a-z0-9_]+)", line.split(":", 1)[1])) - {"default"}
        assert listed == set(options(group)), group
    assert "schema/" not in help_text and "tuning/" not in help_text


# --------------------------------------------------------------------------- every command shown
def shown_commands() -> list[tuple[str, str]]:
    """(page, command) for every command line in a ```bash block of README.md and docs/ (continued
    lines joined, comments dropped)."""
    out = []
    for page in [REPO / "README.md", *PAGES]:
        for block in re.findall(r"```bash\n(.*?)```", page.read_text(), flags=re.S):
            for line in block.replace("\\\n", " ").splitlines():
                line = line.split(" # ")[0].strip()
                if line.startswith("ganrun"):
                    out.append((page.name, line))
    return out


COMMANDS = shown_commands()
# What a shown command may leave for the reader to fill in, and what only a plugin provides.
PLACEHOLDER = re.compile(r"PATH|RUN|<|\.\.\.")
PLUGIN_OPTIONS = ("game=bigan", "dataset=spiral", "model=resmlp", "loss=wgan_lp")


def first_of_sweep(arg: str) -> str | None:
    """A sweep's `key=a,b,c` as its first job's `key=a` (a policy list such as diffaug stays whole);
    None for a search space (`tag(log, interval(...))`), which the sweeper fills in."""
    key, eq, value = arg.partition("=")
    if re.match(r"(tag|interval|range|choice)\(", value):
        return None
    if not eq or key.startswith("hydra") or key == "tricks.diffaug" or value[:1] in "[('\"":
        return arg
    return f"{key}={value.split(',')[0]}"


def checked_elsewhere(command: str) -> bool:
    """--help and --cfg (test_startup), resume= (test_resume, test_reliability) and plugin options
    (test_plugins, which installs the example package) have tests of their own."""
    args = shlex.split(command)[1:]
    return any(a.startswith("--") or a.startswith("resume=") or a in PLUGIN_OPTIONS for a in args)


RUNS = [(p, c) for p, c in COMMANDS if c.split()[0] == "ganrun" and not checked_elsewhere(c)]
HELPS = [(p, c) for p, c in COMMANDS if re.fullmatch(r"ganrun --help \S+", c)]


@pytest.mark.parametrize("page,command", HELPS, ids=[f"{p}: {c}" for p, c in HELPS])
def test_each_ganrun_help_topic_of_the_docs_answers(page, command):
    from ganrun.reference import help_text

    assert HELPS and command.split()[2].split("=")[0] in help_text(command.split()[2])


@pytest.mark.parametrize("page,command", RUNS, ids=[f"{p}: {c}"[:90] for p, c in RUNS])
def test_each_ganrun_command_of_the_docs_composes_and_validates(page, command):
    from ganrun.commands.run import quote_policies
    from ganrun.config import validate

    args = quote_policies(shlex.split(command)[1:])
    sweep = "-m" in args
    args = [a for a in (first_of_sweep(a) if sweep else a for a in args if a != "-m") if a is not None]
    cfg = compose_config([a for a in args if not a.startswith("hydra")])    # launcher settings are Hydra's
    validate(cfg, reads_data=False)


@pytest.mark.parametrize("script", ["ganrun-sample", "ganrun-eval", "ganrun-export", "ganrun-report",
                                    "ganrun-translate"])
def test_each_ganrun_tool_command_of_the_docs_uses_its_own_flags(script, tmp_path):
    from conftest import ganrun

    shown = [c for _, c in COMMANDS if c.split()[0] == script]
    assert shown, f"the docs show no {script} command"
    help_text = ganrun("--help", cwd=tmp_path, script=script).stdout
    for command in shown:
        for flag in re.findall(r"(?<!\S)(--[a-z][a-z-]*)", command):
            assert re.search(rf"(?<![\w-]){re.escape(flag)}(?![\w-])", help_text), f"{command}: {script} has no {flag}"


def test_the_python_example_of_the_readme_runs(tmp_path, monkeypatch):
    """README's (and docs/extending.md's) notebook example, as written, on a shorter run."""
    for page in (REPO / "README.md", REPO / "docs" / "extending.md"):
        blocks = re.findall(r"```python\n(.*?)```", page.read_text(), flags=re.S)
        assert len(blocks) == 1, page.name
        code = blocks[0].replace('"train.steps=500"', '"train.steps=20", "quiet=true", "device=cpu", "eval.n=200"')
        assert code != blocks[0], "the example still trains through ganrun.train([... train.steps=500])"
        monkeypatch.chdir(tmp_path)
        scope: dict = {}
        exec(compile(code, str(page), "exec"), scope)
        assert scope["x"].shape == (1000, 2) and "modes" in scope["values"]


def test_the_unconditional_gan_on_the_digits_has_its_own_tuning_file():
    """tuning/game/gan_digits_None.yaml gives the default job instance noise and G's moving average,
    tuning/game/conditional_digits_None.yaml the conditional games on the digits the moving average
    only; the GAN on other data and the presets keep the plain defaults."""
    from ganrun.reference import composer, tuned_keys

    with composer() as compose:
        cfg = compose([])
        assert (cfg.tricks.instance_noise, cfg.tricks.ema, cfg.tricks.ema_start) == (0.1, 0.995, 1000)
        assert tuned_keys(cfg)["tricks.ema"] == "tuning/game/gan_digits_None.yaml"
        for form in ("cgan", "acgan", "projection"):
            conditional = compose(["game=conditional", f"game.form={form}"])
            assert (conditional.tricks.instance_noise, conditional.tricks.ema, conditional.tricks.ema_start) == \
                (0.0, 0.995, 1000), form
            assert tuned_keys(conditional)["tricks.ema"] == "tuning/game/conditional_digits_None.yaml"
        for overrides in (["dataset=ring"], ["experiment=infogan"], ["game=conditional", "dataset=mnist"],
                          ["experiment=cgan_projection"],
                          ["experiment=sngan", "dataset=digits"]):    # a preset keeps its own recipe
            other = compose(overrides)
            assert (other.tricks.instance_noise, other.tricks.ema, other.tricks.ema_start) == (0.0, 0.0, 0), overrides
        assert compose(["tricks.ema=0"]).tricks.ema == 0.0      # the command line still wins


def test_pix2pix_on_the_built_in_digits_has_the_papers_widths_for_1000_steps():
    """tuning/model/pix2pix_edges2digits.yaml (widths 64, the paper's) and tuning/experiment/
    pix2pix_edges2digits.yaml (1 000 steps) apply on the built-in pairs only; a paper's set keeps the
    preset's own length, and the command line still wins."""
    from ganrun.reference import composer, tuned_keys

    with composer() as compose:
        cfg = compose(["experiment=pix2pix"])
        assert (cfg.model.g_width, cfg.model.d_width, cfg.train.steps) == (64, 64, 1000)
        keys = tuned_keys(cfg)
        assert keys["model.g_width"] == "tuning/model/pix2pix_edges2digits.yaml"
        assert keys["train.steps"] == "tuning/experiment/pix2pix_edges2digits.yaml"
        assert compose(["experiment=pix2pix", "dataset=facades"]).train.steps == 3000
        assert compose(["experiment=pix2pix", "train.steps=200"]).train.steps == 200

