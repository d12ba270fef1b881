"""The classic game (GAN_NOTES §1): one generator G against one discriminator D.

Each step (the phase table in `phase_table`): (1) update D `train.n_critic` times on fresh real
and fake batches, D seeing the fakes detached; (2) update G (`train.g_steps` times, once by
default) through a frozen D, reusing the last fake batch with its graph (as pytorch/examples'
DCGAN does) instead of running G a second time. With `train.updates=simultaneous` (the ALI and
PacGAN authors' rule) G's gradient is taken first, through D as it was, and D's on the same real
and fake batches: both at the same weights, as if the two had stepped at once. The loss is any
of the family (ganrun/losses.py); the tricks of GAN_NOTES §5 sit around it: PacGAN packing
and instance noise in front of D, the replay buffer, label tricks, G_ema, MSGAN's mode-seeking term.

The conditional games and InfoGAN (ganrun/games/conditional.py, infogan.py) are this game with
labels or codes among G's inputs and extra terms in both updates: they override the hooks
`conditioning`, `g_inputs`, `real_labels`, `d_extra` and `g_extra` (InfoGAN also adds its Q
head to D's phase).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Optional

import torch
from torch import Tensor

from ganrun.augment import Augment, parse_policy
from ganrun.config import make, option, register
from ganrun.data import Batch
from ganrun.errors import ConfigError
from ganrun.games import Game, Phase, latent
from ganrun.kinds import KINDS
from ganrun.losses import GANLoss, Labels, call, r1_penalty
from ganrun.models import Conditioning, add_spectral_norm, score_of
from ganrun.models.attention import orthogonal_penalty
from ganrun.players import EMA, Players, Precision
from ganrun.terms import Terms, now
from ganrun.tricks import DView, ReplayBuffer, instance_noise_std


@dataclass
class GInputs:
    """What one fake batch is drawn from: G's input vector z (noise, and InfoGAN's codes) and the
    classes asked for (conditional games)."""
    z: Tensor
    y: Optional[Tensor] = None
    codes: Optional[Tensor] = None      # InfoGAN: the codes inside z, as the Q head must recover them


@dataclass
class GANGameConfig:
    """The classic game (GAN_NOTES §1): one G against one D, unconditional.
    Each step: (1) update D train.n_critic times, (2) update G once."""
    type: str = "gan"


class GAN(Game):
    simultaneous_updates = True

    def __init__(self, cfg, data, device: torch.device):
        self.cfg, self.data, self.device = cfg, data, device
        t, train = cfg.tricks, cfg.train
        # Plain values for the step (reading an OmegaConf node costs tens of microseconds).
        self.batch_size, self.n_critic, self.prior = train.batch_size, train.n_critic, t.prior
        self.g_steps = train.g_steps
        self.simultaneous = train.updates == "simultaneous"
        self.noise_start, self.noise_steps = t.instance_noise, t.instance_noise_steps or train.steps
        self.precision = Precision(cfg.device.precision, device)
        labels = Labels(smoothing=t.label_smoothing, noisy=t.noisy_labels, flip=t.label_flip)
        self.loss: GANLoss = make("loss", cfg.loss, joint_batches=t.joint_batches, labels=labels).to(device)
        self.check(cfg)
        G, D = self.networks(cfg, data)
        if t.spectral_norm:
            add_spectral_norm(D)
        G, D = G.to(device), D.to(device)
        self.players = Players(self.precision, skip_nonfinite=train.nonfinite == "skip")
        self.G = self.players.add("G", G, cfg.optimizer.g, train.lr_schedule, train.steps,
                                  hold=train.lr_hold_steps)
        self.D = self.players.add("D", D, cfg.optimizer.d, train.lr_schedule, train.steps,
                                  hold=train.lr_hold_steps)
        self.replay = ReplayBuffer(t.replay_size, t.replay, shape=data.shape).to(device)
        if t.ema > 0:
            self.G.ema = EMA(G, t.ema, t.ema_start)
        self.truncation: Optional[float] = None
        self.augment = self.augmentation(cfg, data)
        # D as the losses call it: augmentation, instance noise, packing.
        self.d_view = DView(D, t.pack, self.augment)
        self.ortho = t.ortho
        self.mode_seeking = t.mode_seeking
        self.r1, self.r1_every = t.r1, t.r1_every
        self.players.track("loss", self.loss)     # BEGAN's k_t
        self.players.track("replay", self.replay)
        if self.augment is not None:
            self.players.track("augment", self.augment, optional=True)     # ADA's p
        self.phases = self.phase_table(d_players=("D",))

    @property
    def double_backward(self) -> bool:
        return self.loss.double_backward or self.r1 > 0     # tricks.r1 is a gradient penalty too

    # -- hooks of the conditional games and InfoGAN ---------------------------
    def check(self, cfg) -> None:
        """Trick combinations that cannot work, refused before anything trains."""
        t = cfg.tricks
        label_tricks = [k for k, on in [("tricks.label_smoothing", t.label_smoothing > 0),
                                        ("tricks.noisy_labels", t.noisy_labels),
                                        ("tricks.label_flip", t.label_flip > 0)] if on]
        if label_tricks and not self.loss.uses_labels:
            raise ConfigError(f"{label_tricks[0]} changes D's real/fake targets, but {type(self.loss).__name__} "
                              f"has none: use it with loss=ns, mm, lsgan or dragan")
        if self.simultaneous and (cfg.train.n_critic > 1 or cfg.train.g_steps > 1):
            raise ConfigError(f"train.updates=simultaneous steps D and G once each on one minibatch, and this run has "
                              f"train.n_critic={cfg.train.n_critic}, train.g_steps={cfg.train.g_steps}: set both to 1, "
                              f"or train.updates=alternating")
        if cfg.train.batch_size % t.pack:
            raise ConfigError(f"tricks.pack={t.pack} must divide train.batch_size={cfg.train.batch_size}")
        if t.mode_seeking > 0 and cfg.train.batch_size % 2:
            raise ConfigError(f"tricks.mode_seeking compares the two halves of G's batch, and train.batch_size="
                              f"{cfg.train.batch_size} is odd: make it even")
        if t.mode_seeking > 0 and (self.takes_classes or self.takes_codes) and type(self).paired is GAN.paired:
            raise ConfigError(f"tricks.mode_seeking pairs fakes asked for the same classes or codes, and "
                              f"game={cfg.game.type} does not say how to pair its inputs: give the game a "
                              f"`paired` method (docs/extending.md), or leave tricks.mode_seeking=0")
        if t.r1 > 0 and self.loss.autoencoder:
            raise ConfigError(f"tricks.r1 penalises the slope of D's score on real data, and loss={cfg.loss.type}'s "
                              f"D is an autoencoder with no such score: leave tricks.r1=0")
        translating = getattr(option("model", cfg.model.type).schema, "trained_by", "")
        if translating:
            raise ConfigError(f"model={cfg.model.type} is image-to-image: use it with game={translating} "
                              f"(or experiment={translating})")
        game = KINDS[self.data.kind].trained_by
        if game:
            raise ConfigError(f"dataset={cfg.dataset.type} holds image pairs or domains for translation: use it "
                              f"with game={game} (or experiment={game}), not game={cfg.game.type}")

    def augmentation(self, cfg, data) -> Optional[Augment]:
        """DiffAugment's T (with ADA's adaptive probability when tricks.ada is on), or None."""
        t = cfg.tricks
        policy = parse_policy(t.diffaug)
        if t.ada and not policy:
            raise ConfigError("tricks.ada adapts how often the augmentations of tricks.diffaug are applied, "
                              "and tricks.diffaug is none: set e.g. tricks.diffaug=color,translation,cutout")
        if not policy:
            return None
        if len(data.shape) != 3:
            raise ConfigError(f"tricks.diffaug augments images, and {cfg.dataset.type} gives samples of shape "
                              f"{tuple(data.shape)}: leave tricks.diffaug=none")
        if t.ada and not self.loss.logit_zero_point:
            from ganrun.config import REGISTRY, _load

            fit = sorted(name for name, opt in REGISTRY["loss"].items() if isinstance(opt.builder, str)
                         and getattr(_load(opt.builder), "logit_zero_point", False))
            raise ConfigError(f"tricks.ada steers by the sign of D's logits on real images, which loss={cfg.loss.type} "
                              f"does not give (its scores have another zero point): use loss={', '.join(fit)}, "
                              f"or tricks.ada=false")
        return Augment(policy, t.ada_target if t.ada else None, t.ada_kimg, t.ada_interval,
                       cfg.train.batch_size * cfg.train.n_critic).to(self.device)

    def conditioning(self) -> Conditioning:
        return Conditioning()

    def networks(self, cfg, data) -> tuple[torch.nn.Module, torch.nn.Module]:
        """G and D, built by the model option for this data (and this game's conditioning)."""
        d_norm = self.loss.preferred_d_norm
        if cfg.tricks.r1 > 0 and d_norm == "batch":
            d_norm = "layer"    # R1 penalises each real sample's slope: batch norm would mix the samples
        return make("model", cfg.model, data_shape=tuple(data.shape), pack=cfg.tricks.pack,
                    autoencoder=self.loss.autoencoder, preferred_d_norm=d_norm, cond=self.conditioning())

    def z(self, n: int, generator: torch.Generator | None = None) -> Tensor:
        # The truncation threshold is set only while `generate` draws samples to keep.
        return latent(n, self.G.module.latent_dim, self.prior, self.device, generator, self.truncation)

    def g_inputs(self, n: int, generator: torch.Generator | None = None) -> GInputs:
        return GInputs(self.z(n, generator))

    def real_labels(self, batch: Batch) -> Optional[Tensor]:
        """The labels D sees with real data (None: D is not conditional)."""
        return None

    def paired(self, g_in: GInputs) -> GInputs:
        """The same inputs with the batch's second half asked for the first half's classes or codes
        (tricks.mode_seeking compares the halves). The classic game has none to share."""
        return g_in

    def d_extra(self, terms: Terms, outputs: dict, batch: Batch, g_in: GInputs) -> None:
        """Terms a game adds to D's loss (terms["loss/D"]), from D's full outputs."""

    def g_extra(self, terms: Terms, outputs: dict, g_in: GInputs) -> None:
        """Terms a game adds to G's loss (terms["loss/G"])."""

    # -- the step -------------------------------------------------------------
    def phase_table(self, d_players: tuple[str, ...]) -> list[Phase]:
        """(1) update D (and the players that learn from D's loss, InfoGAN's Q) n_critic times;
        (2) update G g_steps times through a frozen D. Simultaneous: G's update through D as it was,
        then D's on the same batches (G's step does not change the fakes D sees)."""
        if self.simultaneous:
            return [Phase("G", ("G",), self.g_loss, frozen=d_players, before=self.before_both),
                    Phase("D", d_players, self.d_loss, after=self.after_d_update)]
        return [Phase("D", d_players, self.d_loss, repeat=self.n_critic, before=self.before_d,
                      after=self.after_d_update),
                Phase("G", ("G",), self.g_loss, repeat=self.g_steps, frozen=d_players, before=self.before_g)]

    def before_d(self, step: int, scratch: dict) -> None:
        self.d_view.noise_std = instance_noise_std(self.noise_start, self.noise_steps, step - 1)

    def before_g(self, step: int, scratch: dict) -> None:
        if self.augment is not None:
            self.augment.adjust(step)       # ADA's p moves once a step, after D's updates

    def before_both(self, step: int, scratch: dict) -> None:
        self.before_d(step, scratch)
        self.before_g(step, scratch)

    def draw(self, scratch: dict, keep_graph: bool) -> None:
        """A fresh real batch and a fake batch for one update (the fakes with G's graph when G's update
        will use them), into `scratch`."""
        batch = self.data.sample(self.batch_size)
        g_in = self.g_inputs(self.batch_size)
        if self.mode_seeking > 0:
            g_in = self.paired(g_in)
        with torch.set_grad_enabled(keep_graph), self.precision.autocast():
            fake = g_forward(self.G.module, g_in)
        scratch.update(batch=batch, g_in=g_in, fake=fake, y_real=self.real_labels(batch))

    def d_loss(self, step: int, i: int, scratch: dict) -> Terms:
        """D's loss on fresh real and fake batches (simultaneous: those of G's update); D sees the fakes
        detached (some of them swapped for past fakes when the replay buffer is on)."""
        if not self.simultaneous:
            self.draw(scratch, keep_graph=i == self.n_critic - 1)     # the last fakes: G's update reuses them
        batch, g_in, fake, y_real = scratch["batch"], scratch["g_in"], scratch["fake"], scratch["y_real"]
        with self.precision.autocast():
            outputs: dict = {}
            terms = self.loss.discriminator(self.d_view, batch.x, self.replay.mix(fake), y_real, g_in.y, outputs)
            self.d_extra(terms, outputs, batch, g_in)
            if self.r1 > 0 and ((step - 1) * self.n_critic + i) % self.r1_every == 0:
                # R1: gamma / 2 * E||grad D(x)||^2 on this update's reals; the lazy form weighs the
                # penalty by r1_every on the updates that take it, the same push on average
                terms["loss/r1"] = (self.r1 / 2 * self.r1_every) * r1_penalty(self.d_view, batch.x, y_real)
                terms["loss/D"] = terms["loss/D"] + terms["loss/r1"]
        return terms

    def after_d_update(self, terms: Terms, scratch: dict) -> None:
        self.loss.after_d_step(self.D.module, terms)       # WGAN's clipping, BEGAN's k_t
        if self.augment is not None and "health/r_t" in terms:
            self.augment.observe(now(terms["health/r_t"]))

    def g_loss(self, step: int, j: int, scratch: dict) -> Terms:
        """G's loss on the inputs of D's last fake batch: the first time on that batch itself, then
        (train.g_steps > 1: DCGAN-tensorflow runs G twice so that D's loss never reaches 0) on the
        batch drawn again from the updated G. Simultaneous: on fresh batches, which D's update reuses."""
        if self.simultaneous:
            self.draw(scratch, keep_graph=True)
        autocast, g_in = self.precision.autocast, scratch["g_in"]
        if j == 0:
            fake = scratch["fake"]
        else:
            with autocast():
                fake = g_forward(self.G.module, g_in)
        with autocast():
            outputs: dict = {}
            terms = self.loss.generator(self.d_view, scratch["batch"].x, fake, scratch["y_real"], g_in.y, outputs)
            self.g_extra(terms, outputs, g_in)
            if self.ortho > 0:          # BigGAN: beta * sum ||W W^T * (1 - I)||_F^2 over G's weights
                terms["loss/ortho"] = self.ortho * orthogonal_penalty(self.G.module)
                terms["loss/G"] = terms["loss/G"] + terms["loss/ortho"]
            if self.mode_seeking > 0:      # MSGAN: the z distance over the noise, not InfoGAN's codes
                noise = g_in.z[:, :self.G.module.latent_dim]
                terms["loss/mode_seeking"] = self.mode_seeking * mode_seeking(fake, noise)
                terms["loss/G"] = terms["loss/G"] + terms["loss/mode_seeking"]
        return terms

    @torch.no_grad()
    def real_scores(self, batch: Batch) -> Optional[Tensor]:
        if self.loss.autoencoder or self.d_view.pack > 1:
            return None
        with self.players.evaluating():
            return score_of(call(self.D.module, batch.x, self.real_labels(batch)))

    # -- pictures and samples -------------------------------------------------
    def status(self) -> dict[str, float]:
        out = {"tricks/instance_noise": self.d_view.noise_std} if self.d_view.noise_std > 0 else {}
        if self.augment is not None and self.augment.adaptive:
            out["tricks/ada_p"] = float(self.augment.p)
        return out

    def fixed_inputs(self, seed: int) -> dict:
        rng = torch.Generator(self.device).manual_seed(seed)
        return {"g_in": self.g_inputs(KINDS[self.data.kind].preview, generator=rng)}

    @torch.no_grad()
    def pictures(self, fixed: dict) -> list[tuple[str, Tensor]]:
        kind = KINDS[self.data.kind]
        with self.players.evaluating():
            fake = g_forward(self.G.eval_module, fixed["g_in"])
            # D(x) along the picture's axis, where D scores single samples (not PacGAN packs)
            d_curve = None if self.d_view.pack > 1 or self.conditioning().d_outputs else \
                (lambda x: self.loss.link(self.D.module(x)))
            return [(kind.tag, kind.picture(self.data, fake, d_curve))]

    def sample_inputs(self, n: int, generator: torch.Generator, label: Optional[int] = None,
                      code: Optional[int] = None) -> GInputs:
        """G's inputs for samples to keep (metrics, ganrun-sample); `label`/`code` fix the class or
        InfoGAN's categorical code where the game has them."""
        return self.g_inputs(n, generator)

    @torch.no_grad()
    def generate(self, n: int, seed: int, batch_size: int = 500, label: Optional[int] = None,
                 code: Optional[int] = None, truncation: Optional[float] = None) -> Batch:
        rng = torch.Generator(self.device).manual_seed(seed)
        G = self.G.eval_module
        xs, ys, codes = [], [], []
        self.truncation = truncation
        try:
            with self.players.evaluating():
                for start in range(0, n, batch_size):
                    g_in = self.sample_inputs(min(batch_size, n - start), rng, label, code)
                    if g_in.y is not None:          # round robin over the classes, whatever the batch size
                        g_in.y = self.round_robin(start, len(g_in.z)) if label is None else g_in.y
                    xs.append(g_forward(G, g_in))
                    ys.append(g_in.y)
                    codes.append(self.categorical_code(g_in))
        finally:
            self.truncation = None
        cat = (lambda parts: None if parts[0] is None else torch.cat(parts))
        return Batch(torch.cat(xs), cat(ys), cat(codes))

    def round_robin(self, start: int, n: int) -> Tensor:
        return (torch.arange(start, start + n, device=self.device) % self.data.num_classes)

    def categorical_code(self, g_in: GInputs) -> Optional[Tensor]:
        return None


register("game", GANGameConfig, GAN)


def mode_seeking(fake: Tensor, noise: Tensor, eps: float = 1e-5) -> Tensor:
    """MSGAN's term (Mao et al. 2019): 1 / (d_I / d_z + eps), d_I the mean absolute difference of the
    batch's two halves of fakes and d_z that of their noise. Small when different z give different
    samples; it grows as G ignores z (the two halves have the same classes or codes)."""
    h = len(fake) // 2
    ratio = (fake[:h] - fake[h:2 * h]).abs().mean() / (noise[:h] - noise[h:2 * h]).abs().mean()
    return 1 / (ratio + eps)


def g_forward(G: torch.nn.Module, g_in: GInputs) -> Tensor:
    """G's samples for these inputs (G(z), or G(z, y) for a conditional G)."""
    return G(g_in.z) if g_in.y is None else G(g_in.z, g_in.y)

