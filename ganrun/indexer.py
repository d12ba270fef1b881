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
IMPORTS = {"dataclasses": ("dataclass",), "typing": ("Any", "ClassVar", "Dict", "List", "Optional", "Tuple"),
           "omegaconf": ("MISSING",), "ganrun.config": ("bounded", "choice", "name_field", "path_field", "register")}
HEADER = '''"""ganrun's own options, without torch: written by `make docs` (ganrun/indexer.py); do not edit.

Each schema and registration below is copied from the module named above it, where the option's
builder is: edit that module, then run `make docs`. ganrun/config.py imports this file, so that
`ganrun --help`, `ganrun --cfg job` and a config error answer without importing torch.
"""

from __future__ import annotations
'''


class Module:
    """One source file of the package, parsed."""

    def __init__(self, path: Path, package: Path):
        self.path, self.text = path, path.read_text()
        self.where = str(path.relative_to(package.parent))      # ganrun/losses.py
        self.lines = self.text.splitlines()
        parts = path.relative_to(package.parent).with_suffix("").parts
        self.name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
        self.tree = ast.parse(self.text)
        self.classes = {n.name: n for n in self.tree.body if isinstance(n, ast.ClassDef)}
        self.constants = {t.id: n for n in self.tree.body if isinstance(n, ast.Assign)
                          for t in n.targets if isinstance(t, ast.Name)}
        self.imported = {a.asname or a.name: n.module for n in self.tree.body
                         if isinstance(n, ast.ImportFrom) and n.level == 0 for a in n.names}

    def source(self, node: ast.AST, comments: bool = False) -> str:
        """The lines of a statement (with its decorators, and the comment lines right above it)."""
        first = min([node.lineno, *(d.lineno for d in getattr(node, "decorator_list", []))]) - 1
        while comments and first > 0 and self.lines[first - 1].startswith("#"):
            first -= 1
        return "\n".join(self.lines[first:node.end_lineno])

    def registrations(self) -> list[ast.Call]:
        return [s.value for s in self.tree.body if isinstance(s, ast.Expr) and isinstance(s.value, ast.Call)
                and isinstance(s.value.func, ast.Name) and s.value.func.id == "register"]


def option_index(package: Path = PACKAGE) -> str:
    """The text of ganrun/option_index.py for the package's sources as they are now."""
    modules = {m.name: m for m in (Module(p, package) for p in sorted(package.rglob("*.py")))}
    top = package.name
    entries = []            # (group's rank, module, call)
    for module in modules.values():
        if module.name in (f"{top}.config", f"{top}.option_index"):
            continue
        for call in module.registrations():
            group = ast.literal_eval(call.args[0])
            if group not in GROUPS or not isinstance(call.args[1], ast.Name) or not isinstance(call.args[2], ast.Name):
                raise ValueError(f"{module.where}:{call.lineno}: write register(\"<group>\", Schema, builder) "
                                 f"with a group of {', '.join(GROUPS)} and the schema and builder by name")
            entries.append((GROUPS.index(group), module, call))
    entries.sort(key=lambda e: e[0])       # stable: each group's options in file and line order

    constants: dict[str, str] = {}        # name -> its assignment, for the constants schemas use
    blocks: list[str] = []
    written: set[tuple[str, str]] = set()

    def constant(name: str, module: Module) -> None:
        if name in constants:
            return
        if name in module.constants:
            constants[name] = f"# {module.where}\n{module.source(module.constants[name], comments=True)}"
        elif module.imported.get(name) in modules:
            constant(name, modules[module.imported[name]])

    def schema(name: str, module: Module) -> list[str]:
        """The schema's class, after the schema classes it derives from (each once)."""
        if (module.name, name) in written:
            return []
        written.add((module.name, name))
        node = module.classes[name]
        out = [text for base in node.bases if isinstance(base, ast.Name) and base.id in module.classes
               for text in schema(base.id, module)]
        for used in ast.walk(node):
            if isinstance(used, ast.Name) and all(used.id not in names for names in IMPORTS.values()):
                constant(used.id, module)
        return out + [f"# {module.where}\n{module.source(node)}"]

    group = None
    for rank, module, call in entries:
        if GROUPS[rank] != group:
            group = GROUPS[rank]
            blocks.append(f"# {'-' * 75} {group}")
        schema_name, builder = call.args[1].id, call.args[2].id
        if schema_name not in module.classes:
            raise ValueError(f"{module.where}:{call.lineno}: the schema {schema_name} must be a class of that module")
        keys = "".join(f", {k.arg}={ast.unparse(k.value)}" for k in call.keywords)
        blocks += schema(schema_name, module)
        blocks.append(f"register({GROUPS[rank]!r}, {schema_name}, \"{module.name}:{builder}\"{keys})".replace("'", '"'))

    body = "\n\n\n".join([*constants.values(), *blocks])
    used = {n.id for n in ast.walk(ast.parse(body)) if isinstance(n, ast.Name)}
    imports = []
    for source, names in IMPORTS.items():
        wanted = [n for n in names if n in used]
        if wanted:
            imports.append(("\n" if source in ("omegaconf", "ganrun.config") else "")
                           + f"from {source} import {', '.join(wanted)}")
    return HEADER + "\n" + "\n".join(imports) + "\n\n\n" + body + "\n"


def main() -> None:
    """`python -m ganrun.indexer` (`make docs`): write ganrun/option_index.py."""
    INDEX.write_text(option_index())
    print(f"wrote {INDEX}")


if __name__ == "__main__":
    main()
