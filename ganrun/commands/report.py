"""`ganrun-report`: one comparison table for a sweep (or any folder of runs).

    ganrun-report outputs/multirun/2026-01-01/12-00-00-000000
    ganrun-report outputs --metrics fd_digits is_digits --by loss

Runs are grouped by their command-line overrides with `seed` left out, so each row pools the
seeds of one setting and shows mean ± std over them (GAN_NOTES §6: compare distributions over
seeds, not single runs). The table is printed and written as report.md and report.csv in the
folder. Every sweep writes its own at the end (ganrun/callbacks.py).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Optional

from ganrun.errors import GanrunError, entry_point
from ganrun.report import report


def main(argv=None) -> int:
    p = argparse.ArgumentParser(prog="ganrun-report", description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter,
                                epilog="\n\n".join(__doc__.split("\n\n")[1:]))
    p.add_argument("folder", help="a sweep folder, or any folder holding runs")
    p.add_argument("--by", nargs="+", help="group by these override keys only (default: all but seed)")
    p.add_argument("--metrics", nargs="+", help="columns to show (default: every metric)")
    args = p.parse_args(argv)
    return entry_point("ganrun-report", lambda: report_command(Path(args.folder), args.by, args.metrics))


def report_command(folder: Path, by: Optional[list[str]], metrics: Optional[list[str]]) -> int:
    if not folder.is_dir():
        raise GanrunError(f"{folder} is not a folder")
    table = report(folder, by=by, metrics=metrics)
    if table is None:
        raise GanrunError(f"no runs with a metrics.json under {folder}")
    print(table)
    print(f"\nwritten to {folder / 'report.md'} and {folder / 'report.csv'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
