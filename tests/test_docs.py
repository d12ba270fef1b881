"""The README's tables stay in step with what ganrun ships."""

from __future__ import annotations

import re

import pytest

from conftest import REPO
from test_config import GROUPS, options

README = (REPO / "README.md").read_text()


def group_row(group: str) -> str:
    match = re.search(rf"^\| `{group}` \|(.*)$", README, flags=re.M)
    assert match, f"README's config-group table has no row for {group}"
    return match.group(1)


@pytest.mark.parametrize("group", GROUPS)
def test_readme_lists_every_option_of_every_group(group):
    listed = set(re.findall(r"`([a-z0-9_]+)`", group_row(group).split("|")[0]))
    assert listed == set(options(group))


def test_readme_gives_the_two_setup_commands():
    assert "make run" in README and "make test" in README
    assert "make test" in (REPO / ".ci" / "run").read_text()


def test_ganrun_help_lists_every_option_of_every_group(tmp_path):
    from conftest import ganrun

    help_text = ganrun("--help", cwd=tmp_path).stdout
    for group in GROUPS:
        line = next(line for line in help_text.splitlines() if line.startswith(f"{group}:"))
        listed = set(re.findall(r"([a-z0-9_]+)", line.split(":", 1)[1])) - {"default"}
        assert listed == set(options(group)), group
    assert "schema/" not in help_text and "tuning/" not in help_text
