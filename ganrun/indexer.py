"""Writes ganrun/option_index.py: a torch-free copy of the schemas and registrations of ganrun's own options.

An option of ganrun (a loss, a model, a dataset builder, a game, an optimizer) lives in one module:
its schema (a dataclass whose `type` names it), its builder, and `register(group, Schema, builder)`
beside them. Those modules import torch, which takes seconds; `ganrun --help`, `ganrun --cfg job`
and a config error must answer at once. So `make docs` copies each top-level `register(...)` call
of the package, with the schema it names (and the schema's base classes and the module constants
it uses), into ganrun/option_index.py, the builder written as "module:name" (imported when the
option is first built). The copy is read from the source text (ast), nothing is imported, so it is
the same on every machine; tests/test_docs.py fails while it is out of date.
"""

from __future__ import annotations

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parent
INDEX = PACKAGE / "option_index.py"
GROUPS = ("game", "model", "dataset", "loss", "optimizer")
# the names a schema may use besides its module's constants, and where the index imports them from
IMPORTS = {"dataclasses": ("dataclass", "field"), "typing": ("Any", "ClassVar", "Dict", "List", "Optional", "Tuple"),
           "omegaconf": ("MISSING",), "ganrun.config": ("bounded", "choice", "name_field", "path_field", "register")}
HEADER = '''"""ganrun's own options, without torch: written by `make docs` (ganrun/indexer.py); do not edit.

Each schema and registration below is copied from the module named above it, where the option's
builder is: edit that module, then run `make docs`. ganrun/config.py imports this file, so that
`ganrun --help`, `ganrun --cfg job` and a config error answer without importing torch.
"""

from __future__ import annotations
'''


class IndexerError(ValueError):
    """A registration the index cannot copy: said with its file and line."""


class Module:
    """One source file of the package, parsed."""

    def __init__(self, path: Path, package: Path):
        self.path, self.text = path, path.read_text(encoding="utf-8")
        self.where = str(path.relative_to(package.parent))      # ganrun/losses.py
        self.lines = self.text.splitlines()
        parts = path.relative_to(package.parent).with_suffix("").parts
        self.name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
        self.tree = ast.parse(self.text)
        self.classes = {n.name: n for n in self.tree.body if isinstance(n, ast.ClassDef)}
        self.constants = {t.id: n for n in self.tree.body if isinstance(n, (ast.Assign, ast.AnnAssign))
                          for t in (n.targets if isinstance(n, ast.Assign) else [n.target]) if isinstance(t, ast.Name)}
        self.imported = {a.asname or a.name: n.module for n in self.tree.body
                         if isinstance(n, ast.ImportFrom) and n.level == 0 for a in n.names}

    def source(self, node: ast.AST, comments: bool = False) -> str:
        """The lines of a statement (with its decorators, and the comment lines right above it)."""
        first = min([node.lineno, *(d.lineno for d in getattr(node, "decorator_list", []))]) - 1
        while comments and first > 0 and self.lines[first - 1].startswith("#"):
            first -= 1
        return "\n".join(self.lines[first:node.end_lineno])

    def registrations(self) -> list[ast.Call]:
        """The module's top-level `register(...)` calls; one anywhere else (inside an `if`, a function,
        or written `config.register`) is refused: the index copies only what always runs."""
        top = {id(s.value) for s in self.tree.body if isinstance(s, ast.Expr)}
        calls = []
        for node in ast.walk(self.tree):
            if not isinstance(node, ast.Call):
                continue
            func = node.func
            name = func.id if isinstance(func, ast.Name) else func.attr if isinstance(func, ast.Attribute) else ""
            if name != "register":
                continue
            if id(node) not in top or not isinstance(func, ast.Name):
                raise IndexerError(f"{self.where}:{node.lineno}: register an option with a plain top-level "
                                  f"`register(...)` statement (imported from ganrun.config), so that the index copies it")
            calls.append(node)
        return calls


def option_index(package: Path = PACKAGE) -> str:
    """The text of ganrun/option_index.py for the package's sources as they are now."""
    modules = {m.name: m for m in (Module(p, package) for p in sorted(package.rglob("*.py")))}
    top = package.name
    entries = []            # (group's rank, module, call, group, option name)
    for module in modules.values():
        if module.name in (f"{top}.config", f"{top}.option_index", f"{top}.indexer"):
            continue
        for call in module.registrations():
            args = call.args
            if (len(args) != 3 or not isinstance(args[0], ast.Constant) or args[0].value not in GROUPS
                    or not all(isinstance(a, ast.Name) for a in args[1:])
                    or any(k.arg != "legacy_target" or not isinstance(k.value, ast.Constant) for k in call.keywords)):
                raise IndexerError(f"{module.where}:{call.lineno}: write register(\"<group>\", Schema, builder) with "
                                  f"a group of {', '.join(GROUPS)} and the schema class and the builder by name")
            schema = module.classes.get(args[1].id)
            if schema is None:
                raise IndexerError(f"{module.where}:{call.lineno}: the schema {args[1].id} must be a class of that module")
            entries.append((GROUPS.index(args[0].value), module, call, args[0].value, _type_of(schema, module)))
    entries.sort(key=lambda e: e[0])       # stable: each group's options in file and line order
    seen: dict[tuple[str, str], str] = {}
    for _, module, call, group, name in entries:
        where = f"{module.where}:{call.lineno}"
        if (group, name) in seen:
            raise IndexerError(f"{where}: {group}={name} is registered already, at {seen[(group, name)]}: "
                              f"give the option another `type`")
        seen[(group, name)] = where

    constants: dict[str, tuple[str, str]] = {}     # name -> (where, its assignment)
    classes: dict[str, str] = {}                   # name -> where, for the schema classes written
    blocks: list[str] = []

    def uses(node: ast.AST, module: Module) -> None:
        """Copy the constants and classes that `node` names (and theirs), from its module or the ganrun
        module it imports them from."""
        for used in ast.walk(node):
            if isinstance(used, ast.Name) and all(used.id not in names for names in IMPORTS.values()):
                home = _home(used.id, module, modules)
                if home is not None and used.id in home.classes:
                    schema_class(used.id, home)
                elif home is not None and used.id in home.constants:
                    constant(used.id, home)

    def constant(name: str, module: Module) -> None:
        if name in constants:
            if constants[name][0] != module.where:
                raise IndexerError(f"{module.where}: the schemas use two constants named {name} "
                                  f"({constants[name][0]} and {module.where}): rename one")
            return
        node = module.constants[name]
        constants[name] = (module.where, "")          # claimed, before what it names
        uses(node.value if node.value is not None else node, module)
        constants[name] = (module.where, f"# {module.where}\n{module.source(node, comments=True)}")

    def schema_class(name: str, module: Module) -> None:
        """The class, after the classes it derives from and the constants it uses (each once)."""
        if name in classes:
            if classes[name] != module.where:
                raise IndexerError(f"{module.where}: two schema classes named {name} ({classes[name]} and "
                                  f"{module.where}): rename one")
            return
        classes[name] = module.where
        node = module.classes[name]
        for base in node.bases:
            uses(base, module)
        uses(ast.Module(body=node.body, type_ignores=[]), module)
        blocks.append(f"# {module.where}\n{module.source(node)}")

    group = None
    for rank, module, call, _, _ in entries:
        if GROUPS[rank] != group:
            group = GROUPS[rank]
            blocks.append(f"# {'-' * 75} {group}")
        schema_name, builder = call.args[1].id, call.args[2].id
        schema_class(schema_name, module)
        keys = "".join(f", {k.arg}={ast.unparse(k.value)}" for k in call.keywords)
        blocks.append(f"register({GROUPS[rank]!r}, {schema_name}, \"{module.name}:{builder}\"{keys})".replace("'", '"'))

    body = "\n\n\n".join([*(text for _, text in constants.values()), *blocks])
    used = {n.id for n in ast.walk(ast.parse(body)) if isinstance(n, ast.Name)}
    imports = []
    for source, names in IMPORTS.items():
        wanted = [n for n in names if n in used]
        if wanted:
            imports.append(("\n" if source in ("omegaconf", "ganrun.config") else "")
                           + f"from {source} import {', '.join(wanted)}")
    text = HEADER + "\n" + "\n".join(imports) + "\n\n\n" + body + "\n"
    _try(text)
    return text


def _type_of(schema: ast.ClassDef, module: Module) -> str:
    """The option's name: the schema's `type` default, as written."""
    for node in schema.body:
        if (isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name) and node.target.id == "type"
                and isinstance(node.value, ast.Constant) and isinstance(node.value.value, str)):
            return node.value.value
    raise IndexerError(f"{module.where}:{schema.lineno}: {schema.name} needs `type: str = \"<option name>\"`")


def _home(name: str, module: Module, modules: dict[str, Module]) -> Module | None:
    """The module that defines `name` as `module` sees it: itself, or the ganrun module it imports it from."""
    if name in module.classes or name in module.constants:
        return module
    source = module.imported.get(name)
    return _home(name, modules[source], modules) if source in modules else None


def _try(text: str) -> None:
    """Run the index as ganrun will (with `register` left out), so that a schema it cannot copy (one
    that names something beyond its module's constants and classes) fails here, not at start-up."""
    import sys
    import types

    trial = types.ModuleType("_ganrun_option_index_trial")     # dataclasses look their module up
    trial._registered = lambda *args, **kwargs: None
    sys.modules[trial.__name__] = trial
    try:
        exec(compile(text.replace("\nregister(", "\n_registered("), str(INDEX), "exec"), trial.__dict__)
    except Exception as e:
        raise IndexerError(f"the index would not run ({type(e).__name__}: {e}): a schema may use the names "
                          f"of {', '.join(IMPORTS)} and its own or imported ganrun constants and classes") from None
    finally:
        del sys.modules[trial.__name__]


def main() -> None:
    """`python -m ganrun.indexer` (`make docs`): write ganrun/option_index.py."""
    try:
        text = option_index()
    except IndexerError as e:
        raise SystemExit(f"ganrun.indexer: {e}") from None
    INDEX.write_text(text, encoding="utf-8")
    print(f"wrote {INDEX}")


if __name__ == "__main__":
    main()
