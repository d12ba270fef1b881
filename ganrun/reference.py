"""The option reference, read from the registry and the YAML files, never typed by hand.

For each config group: its options, what each one is (the comment at the top of its YAML file, or
the docstring of a plugin's schema) and its keys: the value the option gives each key, the type
and the range or choices its schema declares (`bounded`, `choice`), and what the key means (the
comment beside the field in the schema's source). `ganrun --help GROUP` and
`ganrun --help GROUP=OPTION` print it as text; docs/options.md is the same as markdown, written by
`make docs` (tests/test_docs.py checks that the page is current). A new option, built in or from a
plugin, appears here the moment it is registered.

Torch-free, like ganrun.config: the values come from Hydra's compose API, as `ganrun --cfg job`.
"""

from __future__ import annotations

import dataclasses
import functools
import inspect
import io
import re
import textwrap
import tokenize
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Callable, Iterator

from omegaconf import DictConfig, OmegaConf

from ganrun.config import (DEFAULTS, DeviceConfig, EvalConfig, REGISTRY, RunConfig, TrainConfig, TricksConfig,
                           USER_GROUPS, choices, flatten, group_options, option)
from ganrun.errors import ConfigError, did_you_mean

# What each group chooses (the only hand-written text here: one line per group, not per option).
GROUP_TEXT = {
    "game": "what is trained and how one step goes (gan: one G against one D; (1) update D n_critic times, "
            "(2) update G)",
    "model": "the networks (toy datasets pick mlp; translation sets pick their game's)",
    "dataset": "what to learn; each dataset picks its usual model",
    "loss": "the loss pair of D and G (GAN_NOTES §2) and the recipe that goes with it",
    "optimizer": "one optimizer for G (optimizer.g) and one for D (optimizer.d)",
    "device": "where to train; auto takes CUDA, then MPS, then the CPU",
    "experiment": "named presets that set several groups and keys at once",
}
SECTIONS = {"run": RunConfig, "train": TrainConfig, "tricks": TricksConfig, "eval": EvalConfig}
_WORDS = {"ge": ">=", "gt": ">", "le": "<=", "lt": "<"}


# --------------------------------------------------------------------------- what a key is
def field_help(schema: type) -> dict[str, str]:
    """{field: its comment} from the schema's source: the comment on the field's line, after the
    comment lines right above it. Empty where the source cannot be read."""
    helps: dict[str, str] = {}
    for cls in reversed([c for c in schema.__mro__ if dataclasses.is_dataclass(c)]):   # a subclass's own last
        helps.update(_class_help(cls))
    return helps


def _class_help(cls: type) -> dict[str, str]:
    try:
        source = textwrap.dedent(inspect.getsource(cls))
    except (OSError, TypeError):
        return {}
    helps: dict[str, str] = {}
    above: list[str] = []
    for line in source.splitlines()[1:]:
        stripped = line.strip()
        if stripped.startswith("#"):
            above.append(stripped.lstrip("#").strip())
            continue
        named = re.match(r"(\w+)\s*:", stripped)
        if named and not stripped.startswith(("def ", "class ")):
            # comments ending in ":" head a few fields (speed options: ...): each field says its own
            own = [] if above and above[-1].endswith(":") else above
            helps[named.group(1)] = " ".join(own + [_inline_comment(line)]).strip()
        above = []
    return helps


def _inline_comment(line: str) -> str:
    try:
        tokens = list(tokenize.generate_tokens(io.StringIO(line.strip() + "\n").readline))
    except (tokenize.TokenError, SyntaxError):
        return ""
    return next((t.string.lstrip("#").strip() for t in tokens if t.type == tokenize.COMMENT), "")


def allowed(f: dataclasses.Field) -> str:
    """The values a field takes: its choices, or its type and range."""
    meta = f.metadata
    if meta.get("one_of"):
        return ", ".join(str(v) for v in meta["one_of"])
    kind = str(f.type).replace("typing.", "")
    optional = re.fullmatch(r"Optional\[(.*)\]", kind)
    kind = re.sub(r"Tuple\[(.*)\]", r"(\1)", optional.group(1) if optional else kind)
    kind = {"Any": "any"}.get(kind, kind)
    listed = re.fullmatch(r"List\[(.*)\]", kind)
    kind = f"list of {listed.group(1)}" if listed else kind
    words = [f"{_WORDS[k]} {v}" for k, v in meta.get("range", {}).items()]
    if meta.get("max_length"):
        words.append(f"at most {meta['max_length']} items")
    text = kind + (" " + ", ".join(words) if words else "") + (" or null" if optional else "")
    return text + (" (a path: a stored run's value is replaced by yours)" if meta.get("path") else "")


def shown(value: Any) -> str:
    if value == "":
        return '""'
    if value == "???":
        return "(required)"
    if value is None:
        return "null"
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(shown(v) for v in value) + "]"
    # presets whose batch counts packs: ${ganrun_mul:100,${tricks.pack}} reads "100 x tricks.pack"
    return re.sub(r"\$\{ganrun_mul:(\w+),\$\{([\w.]+)\}\}", r"\1 x \2", str(value))


def key_rows(schema: type, values: dict, prefix: str) -> list[tuple[str, str, str, str]]:
    """(key, value, allowed, meaning) for each field of `schema` but `type`, with the values given."""
    helps = field_help(schema)
    rows = []
    for f in dataclasses.fields(schema):
        if f.name == "type" or f.name not in values or isinstance(values[f.name], dict):
            continue
        rows.append((f"{prefix}{f.name}", shown(values[f.name]), allowed(f), helps.get(f.name, "")))
    return rows


# --------------------------------------------------------------------------- what an option is
def summary(group: str, name: str) -> str:
    """What an option is: the first comment paragraph of its YAML file (less `@package`), else the first
    paragraph of its schema's docstring, or of a plugin module's docstring."""
    from importlib.resources import files

    path = files("ganrun.conf").joinpath(group, f"{name}.yaml")
    lines: list[str] = []
    if path.is_file():
        for line in path.read_text().splitlines():
            if not line.startswith("#"):
                break
            text = line.lstrip("#").strip()
            if not text.startswith("@package"):
                lines.append(text)
    if not lines and group in REGISTRY and name in REGISTRY[group]:
        schema = REGISTRY[group][name].schema
        doc = inspect.getdoc(schema) or ""
        if doc.startswith(schema.__name__ + "("):         # dataclass's own: the fields, no words
            # a plugin's file is its option: the module's docstring says what it is
            module = inspect.getmodule(schema)
            doc = (inspect.getdoc(module) or "") if not schema.__module__.startswith("ganrun.") else ""
        lines = doc.split("\n\n")[0].splitlines()
    return " ".join(lines).strip()


def declared_in(group: str, name: str) -> str:
    """Where one of ganrun's own options is declared and built (its module and builder), or ""."""
    built = REGISTRY.get(group, {}).get(name)
    if built is None or not isinstance(built.builder, str) or not built.builder.startswith("ganrun."):
        return ""
    module, _, builder = built.builder.partition(":")
    path = Path(*module.split("."))
    package = Path(__file__).resolve().parent.parent
    where = path / "__init__.py" if (package / path / "__init__.py").is_file() else path.with_suffix(".py")
    return f"Declared and built in `{where.as_posix()}` (`{builder}`)."


def first_sentence(text: str) -> str:
    """Up to the first full stop, colon or semicolon outside brackets."""
    depth = 0
    for i, ch in enumerate(text):
        depth += ch in "(["
        depth -= ch in ")]"
        if depth == 0 and ch in ".:;" and (i + 1 == len(text) or text[i + 1] == " "):
            return text[:i]
    return text


@contextmanager
def composer() -> Iterator[Callable[[list[str]], DictConfig]]:
    """Compose configs as `ganrun --cfg job OVERRIDES` would (no validation: an option may leave
    a required key, such as a folder's root, to the user)."""
    from hydra import compose, initialize_config_module
    from hydra.core.global_hydra import GlobalHydra

    from ganrun.config import register_configs
    from ganrun.resume import register_resolvers

    register_configs()
    register_resolvers()
    GlobalHydra.instance().clear()
    try:
        with initialize_config_module(config_module="ganrun.conf", version_base="1.3"):
            # the same overrides come back often (an option's keys and its recipe, the groups a
            # recipe starts from): each is composed once (the configs are only read)
            composed = functools.lru_cache(maxsize=None)(
                lambda overrides: compose(config_name="config", overrides=list(overrides), return_hydra_config=True))
            yield lambda overrides: composed(tuple(overrides))
    finally:
        GlobalHydra.instance().clear()


def _values(cfg: DictConfig, key: str) -> dict:
    return OmegaConf.to_container(cfg[key], resolve=False, throw_on_missing=False)


def _choices(cfg: DictConfig) -> dict[str, str]:
    runtime = cfg.hydra.runtime.choices
    return {g: str(runtime[g]) for g in USER_GROUPS if g != "experiment" and runtime.get(g) is not None}


def option_rows(group: str, name: str, compose: Callable) -> list[tuple[str, str, str, str]]:
    """The keys an option gives, with the values it gives them."""
    if group == "experiment":
        return []
    cfg = compose([f"{group}={name}"])
    if group == "device":
        return key_rows(DeviceConfig, _values(cfg, "device"), "device.")
    if group == "optimizer":
        rows = []
        for side in ("g", "d"):
            values = _values(cfg, "optimizer")[side]
            rows.append((f"optimizer.{side}.type", values["type"], "chosen by optimizer=OPTION, not set as a key",
                         f"the optimizer: {', '.join(sorted(REGISTRY['optimizer']))}"))
            rows += key_rows(option("optimizer", values["type"]).schema, values, f"optimizer.{side}.")
        return rows
    values = _values(cfg, group)
    return key_rows(option(group, values["type"]).schema, values, f"{group}.")


def recipe_rows(group: str, name: str, compose: Callable) -> list[tuple[str, str, str, str]]:
    """What an option sets beyond its own keys (an experiment: everything it sets): the groups it
    chooses (a loss its optimizer, a toy dataset its model), then each key whose value differs from
    what those groups give on their own, then the tuning files that apply on the default data."""
    cfg = compose([f"{group}={name}"])
    chosen = _choices(cfg)
    # the groups it switches: those whose choice differs from what the others it switches would give
    groups = {g: o for g, o in chosen.items() if g != group and o != DEFAULTS.get(g)}
    for _ in range(len(chosen)):
        given = _choices(compose([f"{g}={o}" for g, o in groups.items()]))
        more = {g: o for g, o in chosen.items() if g != group and g not in groups and given.get(g) != o}
        if not more:
            break
        groups.update(more)
    base = compose([f"{g}={o}" for g, o in groups.items()])
    ours, theirs = flatten(_plain(cfg)), flatten(_plain(base))
    # a key the defaults' own tuning file sets (the digits' DCGAN: 3 000 steps) is not this option's doing
    ours_tuned, base_tuned = tuned_keys(cfg), tuned_keys(base)
    untuned = set(base_tuned) - set(ours_tuned)
    own = "" if group == "experiment" else f"{_node(group)}."
    rows = [(g, o, "", "group") for g, o in groups.items()]
    rows += [(k, shown(v), "", "") for k, v in ours.items()
             if theirs.get(k, object()) != v and not (own and k.startswith(own)) and k not in untuned]
    rows += [(path, "applies on this data", "", "tuning file") for path in ours_tuned.values()
             if path not in base_tuned.values()]
    return list(dict.fromkeys(rows))


def tuned_keys(cfg: DictConfig) -> dict[str, str]:
    """{key: the tuning file that sets it} for the tuning files that apply to a composed config (where
    two set a key, the one applied last: conf/config.yaml applies the model's, the game's, the loss's, then the
    experiment's)."""
    from importlib.resources import files

    keys = {}
    choices = cfg.hydra.runtime.choices
    for kind in TUNING_ORDER:
        name = choices.get(f"tuning/{kind}")
        path = files("ganrun.conf").joinpath("tuning", kind, f"{name}.yaml")
        if name and path.is_file():
            for key in flatten(OmegaConf.to_container(OmegaConf.load(str(path)))):
                keys[key] = f"tuning/{kind}/{name}.yaml"
    return keys


TUNING_ORDER = ("model", "game", "loss", "experiment")     # as conf/config.yaml's defaults list applies them


def _node(group: str) -> str:
    return {"device": "device", "optimizer": "optimizer"}.get(group, group)


def _plain(cfg: DictConfig) -> dict:
    return {k: v for k, v in OmegaConf.to_container(cfg, resolve=False, throw_on_missing=False).items()
            if k != "hydra"}


def section_rows(section: str, compose: Callable) -> list[tuple[str, str, str, str]]:
    cfg = _plain(compose([]))
    values = cfg if section == "run" else cfg[section]
    return key_rows(SECTIONS[section], values, "" if section == "run" else f"{section}.")


# --------------------------------------------------------------------------- the two renderings
def markdown() -> str:
    """docs/options.md."""
    out = ["# Option reference", "",
           "[← README](../README.md) · written from ganrun's registry by `make docs` (do not edit: "
           "tests/test_docs.py checks it is current). `ganrun --help GROUP` and `ganrun --help GROUP=OPTION` "
           "print the same. How options combine: [configuration](configuration.md).", ""]
    with composer() as compose:
        out += ["Each option's values are those `ganrun --cfg job GROUP=OPTION` shows, the other groups at their "
                "defaults (the digits and DCGAN: the digits' tuning files apply, e.g. 3 000 steps and halved "
                "DCGAN widths, and for the unconditional game=gan instance noise 0.1 and G's average 0.995 from step 1 000; "
                "elsewhere both tricks are 0).",
                "", "## Keys of every run", ""]
        for section in SECTIONS:
            out += [f"### `{section}`" if section != "run" else "### top level", "",
                    *_table(section_rows(section, compose)), ""]
        for group in USER_GROUPS:
            out += [f"## `{group}`: {GROUP_TEXT[group]}", ""]
            for name in _ordered(group, built_in=True):
                default = " (default)" if DEFAULTS.get(group) == name else ""
                out += [f"### `{group}={name}`{default}", ""]
                text = summary(group, name)
                if text:
                    out += [text, ""]
                where = declared_in(group, name)
                if where:
                    out += [where, ""]
                rows = option_rows(group, name, compose)
                if rows:
                    out += [*_table(rows), ""]
                recipe = recipe_rows(group, name, compose)
                if recipe:
                    out += ["It sets:" if group == "experiment" else "It also sets:", "", *_table(recipe, "sets"), ""]
    return "\n".join(out).rstrip() + "\n"


def groups_table() -> str:
    """The table of groups and their options in docs/configuration.md."""
    rows = ["| group | options (default first) | what it chooses |", "|---|---|---|"]
    for group in USER_GROUPS:
        options = ", ".join(f"`{o}`" for o in _ordered(group, built_in=True))
        rows.append(f"| `{group}` | {options} | {GROUP_TEXT[group]} |")
    return "\n".join(rows) + "\n"


def _ordered(group: str, built_in: bool = False) -> list[str]:
    """A group's options, the default first: ganrun's own (the docs), or also installed plugins' (--help)."""
    options = group_options(group) if built_in else choices(group)
    default = DEFAULTS.get(group)
    return ([default] if default in options else []) + [o for o in options if o != default]


def _table(rows: list[tuple[str, str, str, str]], kind: str = "keys") -> list[str]:
    def cell(text: str) -> str:
        return text.replace("|", "\\|")

    if kind == "sets":
        return ["| key, group or file | value |", "|---|---|",
                *(f"| `{cell(k)}` | {cell(v) if h == 'tuning file' else f'`{cell(v)}`'} |" for k, v, _, h in rows)]
    return ["| key | value | takes | what |", "|---|---|---|---|",
            *(f"| `{cell(k)}` | `{cell(v)}` | {cell(a)} | {cell(h)} |" for k, v, a, h in rows)]


HELP_TOPICS = "a group (game, model, dataset, loss, optimizer, device, experiment), GROUP=OPTION, train, tricks or eval"
VALUES_NOTE = ("values: as `ganrun --cfg job{topic}` gives them (the other groups at their defaults: on "
               "dataset=digits its tuning files set some; `ganrun --cfg job dataset=NAME` shows another's)")


def help_text(topic: str) -> str:
    """`ganrun --help TOPIC`: a group (its options), GROUP=OPTION (the option and its keys), or a
    block of keys (train, tricks, eval)."""
    group, eq, name = topic.partition("=")
    topics = [*USER_GROUPS, *(s for s in SECTIONS if s != "run")]
    if group == "hydra":
        raise ConfigError("ganrun --help hydra: Hydra's own options are shown by ganrun --hydra-help")
    if group not in topics:
        raise ConfigError(f"ganrun --help {topic}: no such topic; give {HELP_TOPICS}"
                          f"{did_you_mean(group.lower(), topics)}")
    if group in SECTIONS and eq:
        raise ConfigError(f"ganrun --help {topic}: {group} is a block of keys, not a group: ganrun --help {group}")
    with composer() as compose:
        if group in SECTIONS:
            return _text_table(section_rows(group, compose), f"{group}: its keys\n" + VALUES_NOTE.format(topic=""))
        options = _ordered(group)
        if not eq:
            width = max(len(o) for o in options) + 2
            lines = [f"{group}: {GROUP_TEXT[group]} ({group}=OPTION; ganrun --help {group}=OPTION shows its keys)"]
            for o in options:
                default = " (default)" if DEFAULTS.get(group) == o else ""
                lines.append(f"  {o:<{width}}{first_sentence(summary(group, o))}{default}")
            return "\n".join(lines)
        if name not in options:
            raise ConfigError(f"ganrun --help {topic}: no such {group}; choose one of {', '.join(options)}"
                              f"{did_you_mean(name.lower(), options)}")
        text = textwrap.fill(" ".join(filter(None, [summary(group, name), declared_in(group, name)])), 100)
        title = f"{group}={name}" + (f"\n{text}" if text else "")
        if group == "experiment":
            out = title
        else:
            out = _text_table(option_rows(group, name, compose), title + "\n" + VALUES_NOTE.format(topic=" " + topic))
        recipe = recipe_rows(group, name, compose)
        if recipe:
            out += "\n\n" + _text_table(recipe, "it sets:" if group == "experiment" else "it also sets:")
        return out


def _text_table(rows: list[tuple[str, str, str, str]], title: str) -> str:
    """One key per line, `key = value  (what it takes)`, then what it means, wrapped, beneath."""
    if not rows:
        return title + ("" if title.startswith("it ") else "\n\n  (no keys of its own)")
    kw = max(len(r[0]) for r in rows)
    lines = [title, ""]
    for key, value, takes, meaning in rows:
        sign = ":" if meaning == "tuning file" else "="
        lines.append(f"  {key:<{kw}} {sign} {value}" + (f"  ({takes})" if takes else ""))
        if meaning and meaning not in ("group", "tuning file"):
            lines += textwrap.wrap(meaning, 100, initial_indent=" " * 6, subsequent_indent=" " * 6)
    return "\n".join(lines)


# docs/configuration.md holds the groups table between these lines.
TABLE_START, TABLE_END = "<!-- groups table: written by `make docs` -->", "<!-- end of the groups table -->"


def written_docs(docs: Path) -> dict[Path, str]:
    """{page: its text} as `make docs` writes them from the registry."""
    page = (docs / "configuration.md").read_text()
    start, end = page.index(TABLE_START) + len(TABLE_START), page.index(TABLE_END)
    return {docs / "options.md": markdown(),
            docs / "configuration.md": page[:start] + "\n" + groups_table() + page[end:]}


def main() -> None:
    """`python -m ganrun.reference DOCS_FOLDER` (`make docs`): write docs/options.md and the groups
    table of docs/configuration.md from the registry."""
    import sys

    if len(sys.argv) != 2:
        sys.exit("usage: python -m ganrun.reference DOCS_FOLDER")
    for path, text in written_docs(Path(sys.argv[1])).items():
        path.write_text(text)
        print(f"wrote {path}")


if __name__ == "__main__":
    main()
