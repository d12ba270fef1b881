"""Options from other packages: your own GAN in one file, without forking ganrun.

A package declares the modules that register its options under the entry-point group
`ganrun.plugins` (pyproject.toml: `[project.entry-points."ganrun.plugins"] name = "my_gans.bigan"`).
ganrun imports them when it first looks up an option, after its own, and whatever they register
with `ganrun.config.register` (a game, a model, a dataset, a loss) or `register_metric` is an
option like a built-in: `pip install -e ./my_gans && ganrun game=bigan`. examples/bigan/ is one.

Code is chosen here, by what is installed, never by a file: a stored run names an option's `type`,
and a run whose option no installed package provides is refused in one line that names the
package the run recorded (`providers`). A plugin's option module should import no torch (name
its builder as "package.module:name", imported when the option is first built): ganrun's start-up
answers (`--help`, a config error) stay fast.
"""

from __future__ import annotations

import importlib
import logging
from typing import Optional

log = logging.getLogger(__name__)
GROUP = "ganrun.plugins"
PROVIDERS: dict[tuple[str, str], str] = {}     # (group, option) -> "distribution version" that registered it
_loading: list[str] = []                       # the distribution whose module is being imported
_loaded: list[bool] = []


def load() -> None:
    """Import every installed plugin module (once). A plugin that fails to import is said in one
    warning and left out: ganrun's own options still work."""
    if _loaded:
        return
    _loaded.append(True)
    from importlib.metadata import entry_points

    for ep in sorted(entry_points(group=GROUP), key=lambda e: e.name):
        dist = f"{ep.dist.name} {ep.dist.version}" if ep.dist is not None else ep.value
        _loading.append(dist)
        try:
            importlib.import_module(ep.value.partition(":")[0])
        except Exception as e:
            log.warning("ganrun plugin %s (%s) did not load and is left out: %s", ep.name, dist,
                        str(e).splitlines()[0] if str(e) else type(e).__name__)
        finally:
            _loading.pop()


def loading() -> Optional[str]:
    """The distribution whose plugin module is being imported now, if any."""
    return _loading[-1] if _loading else None


def provided(options: dict[str, str]) -> dict[str, str]:
    """{group: distribution} for the options of a run config ({group: type}) that a plugin provides:
    what a checkpoint records, so that a run of a missing plugin can say what to install."""
    return {group: PROVIDERS[(group, type_)] for group, type_ in options.items() if (group, type_) in PROVIDERS}
