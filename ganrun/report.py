"""A sweep's comparison table (or any folder of runs'): rows of settings, mean ± std over seeds.

Runs are grouped by their command-line overrides with `seed` left out, so each row pools the
seeds of one setting and shows mean ± std over them (GAN_NOTES §6: compare distributions over
seeds, not single runs). The table is written as report.md and report.csv in the folder. Every
sweep writes its own at the end (ganrun/callbacks.py); `ganrun-report` (commands/report.py)
writes one for any folder.
"""

from __future__ import annotations

import csv
import math
import statistics
from pathlib import Path
from typing import Iterable, Optional

from ganrun.errors import GanrunError, did_you_mean, printable
from ganrun.runfiles import StoredFileError, read_metrics, read_yaml

IGNORED_OVERRIDES = ("seed", "resume", "quiet")
BOOKKEEPING = ("steps", "diverged_step", "skipped")
COLUMNS = ("setting", "runs", "finished")     # the table's own columns: a metric of these names is not one


def cell(text) -> str:
    """A text cell of report.csv: printable, and never read as a formula by a spreadsheet (a stranger's
    override "=cmd|..." or metric name "=HYPERLINK(...)" would run as one when the file is opened):
    a leading = + - @ is kept as text by a leading apostrophe, the usual escape."""
    text = printable(text)
    return "'" + text if text[:1] in ("=", "+", "-", "@") else text


def find_runs(root: Path) -> list[Path]:
    """Run folders under `root` (a run folder itself counts) that have a metrics.json."""
    return sorted({p.parent for p in Path(root).glob("**/metrics.json")})


def run_overrides(run: Path) -> list[str]:
    """The run's own command-line overrides (the first .hydra/ of a run, not a resume's); [] when it
    has none. A file ganrun cannot have written (aliases, too large) is a StoredFileError."""
    path = run / ".hydra" / "overrides.yaml"
    try:
        items = read_yaml(path) or []
    except OSError:
        return []
    return [str(o) for o in items] if isinstance(items, list) else []


def setting(overrides: Iterable[str], by: Optional[list[str]], common: set[str]) -> str:
    keep = []
    for item in overrides:
        key = item.split("=", 1)[0].lstrip("+~")
        if key in IGNORED_OVERRIDES or (by and key not in by) or item in common:
            continue
        keep.append(item)
    return " ".join(sorted(keep)) or "(defaults)"


def number(value) -> Optional[float]:
    """A metric's value as a finite float, or None (text, null, NaN, an integer too large for a float)."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    try:
        value = float(value)
    except OverflowError:
        return None
    return value if math.isfinite(value) else None


def summarize(runs: list[Path], by: Optional[list[str]] = None,
              metrics: Optional[list[str]] = None) -> tuple[list[str], list[dict], list[str], list[str]]:
    """(metric names, one row per setting with n, finished and mean/std per metric, the overrides
    every run shares, which the rows leave out, notes on runs that did not finish or were skipped)."""
    loaded, notes = [], []
    for run in runs:
        try:
            values = read_metrics(run)
            overrides = run_overrides(run)
        except ValueError as e:
            notes.append(f"skipped {run / 'metrics.json'}: {e}")
            continue
        except StoredFileError as e:
            notes.append(f"skipped {e}")
            continue
        loaded.append((overrides, values))
        status = values.get("status", "finished")
        if status != "finished":
            why = values.get("error") or values.get("diverged_term") or values.get("signal") or ""
            notes.append(f"{status}: {run.name}" + (f" ({why})" if why else ""))
    common = set.intersection(*(set(o) for o, _ in loaded)) if len(loaded) > 1 else set()
    common = {c for c in common if c.split("=", 1)[0].lstrip("+~") not in IGNORED_OVERRIDES}
    groups: dict[str, list[dict]] = {}
    seen: dict[str, None] = {}          # the metrics' names in order of appearance (a set's speed: a
    for overrides, values in loaded:    # stranger's metrics.json may hold tens of thousands)
        groups.setdefault(setting(overrides, by, common), []).append(values)
        for k, v in values.items():
            if isinstance(v, (int, float)) and not isinstance(v, bool) and k not in BOOKKEEPING and k not in COLUMNS:
                seen[k] = None
    # X_std is the CSV's column for X's spread: a metric of that name beside X would be a second one
    names = [k for k in seen if not (k.endswith("_std") and k[:-4] in seen)]
    keys = {item.split("=", 1)[0].lstrip("+~") for overrides, _ in loaded for item in overrides}
    for asked, known, flag in ((by or [], keys, "--by"), (metrics or [], seen, "--metrics")):
        for key in asked:
            if key not in known:
                raise GanrunError(f"{flag} {key}: no run has it{did_you_mean(key, known)}; "
                                  f"these runs have {', '.join(sorted(known)) or 'nothing to choose from'}")
    kept = set(names)
    names = [m for m in (metrics or names) if m in kept]
    rows = []
    for label in sorted(groups):
        members = groups[label]
        row = {"setting": label, "runs": len(members),
               "finished": sum(m.get("status", "finished") == "finished" for m in members)}
        for name in names:
            xs = [x for x in (number(m.get(name)) for m in members) if x is not None]
            row[name] = (statistics.mean(xs), statistics.stdev(xs) if len(xs) > 1 else None) if xs else None
        rows.append(row)
    return names, rows, sorted(common), notes


def _escaped(text: str) -> str:
    """A table cell's text: a `|` (an override's value may hold one) would end the cell, a line break the row."""
    return printable(text.replace("\\", "\\\\").replace("|", "\\|"))


def _cell(value) -> str:
    if value is None:
        return "n/a"
    mean, std = value
    return f"{mean:.4g}" if std is None else f"{mean:.4g} ± {std:.2g}"


def markdown(names: list[str], rows: list[dict], common: list[str] = (), notes: list[str] = ()) -> str:
    header = ["setting", "runs", "finished", *map(_escaped, names)]
    lines = [f"Every run: {_escaped(' '.join(common))}", ""] if common else []
    lines += ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    for row in rows:
        cells = [_escaped(row["setting"]), str(row["runs"]), str(row["finished"]), *(_cell(row[n]) for n in names)]
        lines.append("| " + " | ".join(cells) + " |")
    if notes:
        lines += ["", *(f"- {printable(note)}" for note in notes)]
    return "\n".join(lines)


def write(folder: Path, names: list[str], rows: list[dict], common: list[str],
          notes: list[str] = ()) -> tuple[Path, Path]:
    """report.md and report.csv, each written to a new file that replaces the old one (never through
    a link: a sweep folder may hold one), its text from the runs' files made printable."""
    import io

    from ganrun.checkpoint import atomic_write_text

    md, table = folder / "report.md", folder / "report.csv"
    atomic_write_text(md, markdown(names, rows, common, notes) + "\n")
    buffer = io.StringIO()
    w = csv.writer(buffer)
    w.writerow(["setting", "runs", "finished"] + [cell(c) for n in names for c in (n, f"{n}_std")])
    for row in rows:
        cells = [cell(row["setting"]), row["runs"], row["finished"]]
        for n in names:
            cells += list(row[n]) if row[n] else ["", ""]
        w.writerow(["" if c is None else c for c in cells])
    atomic_write_text(table, buffer.getvalue())
    return md, table


def report(folder: Path, runs: Optional[list[Path]] = None, by: Optional[list[str]] = None,
           metrics: Optional[list[str]] = None) -> Optional[str]:
    """Summarize the runs (default: every run under `folder`) into folder/report.{md,csv}."""
    runs = runs if runs is not None else find_runs(folder)
    names, rows, common, notes = summarize(runs, by, metrics)
    if not rows:
        return None
    write(Path(folder), names, rows, common, notes)
    return markdown(names, rows, common, notes)
