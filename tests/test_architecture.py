"""The shape every GAN fits in: batch records with labels, games chosen by config, and a registry
of players through which a new network joins checkpoints and exact resume with no other change."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pytest
import torch
from hydra.core.config_store import ConfigStore
from PIL import Image
from torch import nn

from conftest import FAST, REPO, compose_config, make_data
from ganrun.checkpoint import load_checkpoint
from ganrun.config import register
from ganrun.data import Batch, Dataset
from ganrun.games import Phase
from ganrun.games.gan import GAN
from ganrun.loop import train


# --------------------------------------------------------------------------- batch records
def test_labelled_datasets_draw_batch_records_with_their_classes():
    digits = make_data("digits", resolution=8)
    assert isinstance(digits, Dataset) and digits.num_classes == 10
    assert digits.class_names == [str(d) for d in range(10)]
    batch = digits.sample(32)
    assert isinstance(batch, Batch) and batch.x.shape == (32, 1, 8, 8) and batch.y.shape == (32,)
    assert make_data("ring").sample(4).y is None and make_data("ring").num_classes == 0


@pytest.mark.parametrize("memory_limit_mb", [1024, 0])          # held on the device, and streamed
def test_a_folder_with_class_sub_folders_is_labelled_by_them(memory_limit_mb, tmp_path):
    for shade, name in [(0, "cats"), (255, "dogs")]:            # each class its own colour
        (tmp_path / name / "deeper").mkdir(parents=True)
        for i in range(6):
            where = tmp_path / name / ("deeper" if i % 2 else "")
            Image.fromarray(np.full((8, 8), shade, dtype=np.uint8)).save(where / f"{i}.png")
    data = make_data("folder", root=str(tmp_path), resolution=8, channels=1, workers=0,
                     memory_limit_mb=memory_limit_mb)
    assert data.class_names == ["cats", "dogs"] and data.num_classes == 2
    batch = data.sample(12) if memory_limit_mb else data.sample(4, generator=torch.Generator().manual_seed(1))
    assert torch.equal(batch.y, (batch.x.flatten(1).mean(1) > 0).long()), "each label matches its image"
    reference = data.reference(None)
    assert len(reference) == 12 and sorted(reference.y.tolist()) == [0] * 6 + [1] * 6


def test_a_folder_of_loose_images_is_unlabelled(tmp_path):
    for i in range(3):
        Image.fromarray(np.zeros((8, 8), dtype=np.uint8)).save(tmp_path / f"{i}.png")
    data = make_data("folder", root=str(tmp_path), resolution=8, channels=1, workers=0)
    assert data.num_classes == 0 and data.sample(2).y is None


# --------------------------------------------------------------------------- a new player, a new game
class Tally:
    """A stateful part that is not a network: counts the steps it has seen."""

    def __init__(self):
        self.count = 0

    def state_dict(self) -> dict:
        return {"count": self.count}

    def load_state_dict(self, state: dict) -> None:
        self.count = int(state["count"])


@dataclass
class ProbeGameConfig:
    type: str = "probe"


class ProbeGame(GAN):
    """The classic game plus a third network trained each step and a counter: registered, they
    must be saved, restored and moved with everything else, with no change to the loop."""

    def __init__(self, cfg, data, device):
        super().__init__(cfg, data, device)
        self.extra = self.players.add("EXTRA", nn.Linear(2, 1).to(device), cfg.optimizer.d)
        self.tally = Tally()
        self.players.track("tally", self.tally)
        # a third phase after D's and G's: the shared step updates it, no step of its own
        self.phases = self.phases + [Phase("extra", ("EXTRA",), self.extra_loss, after=self.count)]

    def extra_loss(self, step, i, scratch):
        x = torch.randn(16, 2, device=self.device)          # from the run's RNG stream
        return {"loss/extra": ((self.extra.module(x).squeeze(1) - x.sum(1)) ** 2).mean()}

    def count(self, terms, scratch):
        self.tally.count += 1


register("game", ProbeGameConfig, ProbeGame)
ConfigStore.instance().store(group="game", name="probe", node={"defaults": [{"/schema/game@_here_": "probe"}]})
# register_configs (in conftest) ran before this registration: the schema goes to the store too
ConfigStore.instance().store(group="schema/game", name="probe", node=ProbeGameConfig)


def test_a_registered_player_and_part_join_checkpoints_and_exact_resume(tmp_path):
    overrides = FAST + ["dataset=ring", "game=probe", "train.ckpt_every=5", "tricks.ema=0.5"]
    train(compose_config(overrides + ["train.steps=10"]), tmp_path / "straight")
    train(compose_config(overrides + ["train.steps=5"]), tmp_path / "half")
    train(compose_config(overrides + ["train.steps=10"]), tmp_path / "half",
          resume_state=load_checkpoint(tmp_path / "half"))
    a, b = load_checkpoint(tmp_path / "straight"), load_checkpoint(tmp_path / "half")
    assert set(a["players"]) == {"G", "D", "EXTRA"} and a["state"]["tally"] == {"count": 10}
    assert b["state"]["tally"] == {"count": 10}
    for player in ("G", "D", "EXTRA"):
        for k, v in a["players"][player]["module"].items():
            assert torch.equal(v, b["players"][player]["module"][k]), f"{player} {k}"
    assert a["players"]["EXTRA"]["optimizer"]["state"], "its optimizer state is saved too"


def test_resuming_with_another_set_of_players_is_refused(tmp_path):
    from ganrun.errors import CheckpointError

    train(compose_config(FAST + ["dataset=ring", "game=probe"]), tmp_path / "probe")
    with pytest.raises(CheckpointError, match="its players \\(D, EXTRA, G\\) are not this run's \\(D, G\\)"):
        train(compose_config(FAST + ["dataset=ring"]), tmp_path / "gan",
              resume_state=load_checkpoint(tmp_path / "probe"))


# --------------------------------------------------------------------------- the layers
# docs/ARCHITECTURE.md "Layers": a module imports modules of its own layer or below, never above.
LAYERS = [
    ("front ends", {"__init__", "__main__", "commands", "api", "reference", "search", "indexer"}),
    ("the run", {"loop", "means", "stopping", "resume", "callbacks", "report", "health", "trained"}),
    ("building", {"builder", "games", "players"}),
    ("the parts", {"losses", "models", "data", "tricks", "augment", "optimizers", "metrics", "kinds", "terms",
                   "visualize", "pixels", "distributed"}),
    ("the ground", {"config", "option_index", "plugins", "checkpoint", "runfiles", "errors", "conf"}),
]


def ganrun_imports():
    """(importing module, imported module) for every import of a ganrun module in ganrun/, the ones
    inside functions included: a lazy import is still a dependency."""
    import ast

    package = REPO / "ganrun"
    modules = {".".join(p.relative_to(REPO).with_suffix("").parts).removesuffix(".__init__"): p
               for p in package.rglob("*.py")}
    for name, path in modules.items():
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom) and node.level == 0 and (node.module or "").startswith("ganrun"):
                # `from ganrun import terms` imports ganrun.terms; `from ganrun.x import f` imports ganrun.x
                names = [f"{node.module}.{a.name}" for a in node.names if f"{node.module}.{a.name}" in modules]
                targets = names or [node.module]
            elif isinstance(node, ast.Import):
                targets = [a.name for a in node.names if a.name.startswith("ganrun")]
            else:
                continue
            yield from ((name, t) for t in targets if t in modules and t != name)


def test_imports_go_down_the_layers_never_up():
    layer_of = {top: i for i, (_, tops) in enumerate(LAYERS) for top in tops}

    def layer(module: str) -> int:
        top = module.split(".")[1] if "." in module else "__init__"
        assert top in layer_of, f"{module}: not in any layer of docs/ARCHITECTURE.md (add it to LAYERS and the page)"
        return layer_of[top]

    upward = sorted(f"{a} ({LAYERS[layer(a)][0]}) imports {b} ({LAYERS[layer(b)][0]})"
                    for a, b in ganrun_imports() if layer(b) < layer(a))
    assert not upward, "\n".join(upward)


def test_the_commands_sit_together_and_the_library_never_imports_them():
    import tomllib

    scripts = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]["scripts"]
    assert all(target.startswith("ganrun.commands.") for target in scripts.values()), scripts
    importers = sorted({a for a, b in ganrun_imports() if b.startswith("ganrun.commands")
                        and not a.startswith("ganrun.commands") and a not in ("ganrun.__main__", "ganrun.api")})
    assert not importers, importers


def test_no_import_circles():
    """No module reaches itself through its imports (lazy ones included): each concern stands on
    the ones below it."""
    graph: dict[str, set[str]] = {}
    for a, b in ganrun_imports():
        graph.setdefault(a, set()).add(b)

    def circle_from(start: str):
        stack, seen = [(start, [start])], set()
        while stack:
            module, path = stack.pop()
            for nxt in graph.get(module, ()):
                if nxt == start:
                    return path + [start]
                if nxt not in seen:
                    seen.add(nxt)
                    stack.append((nxt, path + [nxt]))
        return None

    circles = [" -> ".join(c) for c in map(circle_from, sorted(graph)) if c]
    assert not circles, circles[0]


def test_the_shared_step_runs_a_phase_table_in_order_with_its_players_and_frozen_ones():
    """Game.step: each phase's players update on its total `repeat` times, the frozen ones collect no
    gradients meanwhile, a moving average follows its player's updates, `after` runs after each
    update taken, and the LR schedules advance once a step."""
    from omegaconf import OmegaConf

    from ganrun.games import Game
    from ganrun.players import EMA, Players, Precision

    opt = OmegaConf.create({"type": "sgd", "lr": 0.1, "momentum": 0.0, "weight_decay": 0.0})
    seen = []

    class TwoPlayers(Game):
        def __init__(self):
            self.players = Players(Precision("fp32", torch.device("cpu")))
            self.A = self.players.add("A", nn.Linear(2, 1), opt, "linear", steps=10)
            self.B = self.players.add("B", nn.Linear(1, 1), opt, "linear", steps=10)
            self.A.ema = EMA(self.A.module, 0.0)            # decay 0: the average is the last weights
            self.phases = [Phase("A", "A", self.a_loss, repeat=3, frozen="B", before=self.start, after=self.note),
                           Phase("B", ("B",), self.b_loss)]

        def start(self, step, scratch):
            seen.append(("before", step))

        def a_loss(self, step, i, scratch):
            # B's weights take part but are frozen: no gradient may reach them
            seen.append(("A", i, self.B.module.weight.requires_grad, self.A.module.weight.requires_grad))
            scratch["i"] = i
            return {"loss/A": self.B.module(self.A.module(torch.ones(4, 2))).pow(2).mean()}

        def b_loss(self, step, i, scratch):
            # scratch carries A's last update over; B (frozen through A's three) has no gradient yet
            seen.append(("B", scratch["i"], self.B.module.weight.requires_grad, self.B.module.weight.grad is None))
            return {"loss/B": self.B.module(torch.ones(4, 1)).pow(2).mean()}

        def note(self, terms, scratch):
            seen.append(("after", scratch["i"]))

    game = TwoPlayers()
    logged = game.step(1)
    assert [sorted(t) for t in logged] == [["loss/A"]] * 3 + [["loss/B"]]
    assert game.phases[0].players == ("A",) and game.phases[0].frozen == ("B",), "a name is one player"
    assert seen == [("before", 1), ("A", 0, False, True), ("after", 0), ("A", 1, False, True), ("after", 1),
                    ("A", 2, False, True), ("after", 2), ("B", 2, True, True)]
    for a, b in zip(game.A.ema.module.parameters(), game.A.module.parameters()):
        assert torch.equal(a, b), "A's moving average followed its last update"
    assert game.A.scheduler.last_epoch == 1 and game.B.scheduler.last_epoch == 1, "schedules count steps"


def test_a_phase_table_naming_a_player_the_game_lacks_is_refused_when_the_game_is_built():
    from ganrun.games import Game
    from ganrun.players import Players, Precision

    game = Game()
    game.players = Players(Precision("fp32", torch.device("cpu")))
    game.players.add("G", nn.Linear(1, 1))
    game.phases = [Phase("D", ("D",), lambda step, i, scratch: {})]
    with pytest.raises(TypeError, match="phase 'D' names no player D \\(its players: G"):
        game.check_phases()
    game.phases = [Phase("G", ("G",), lambda step, i, scratch: {}, repeat=0)]
    with pytest.raises(TypeError, match="repeats 0 times"):
        game.check_phases()
    game.phases = [Phase("G", ("G",), lambda step, i, scratch: {}, frozen=("G",))]
    with pytest.raises(TypeError, match="both updates and freezes G"):
        game.check_phases()
    game.phases = []
    with pytest.raises(TypeError, match="Game has no phase table: set self.phases in __init__"):
        game.check_phases()
