"""Options of the `game` group: what is trained and how one step goes (ganrun/games/)."""

from __future__ import annotations

from dataclasses import dataclass

from ganrun.config import bounded, choice, register


@dataclass
class GANGameConfig:
    type: str = "gan"


@dataclass
class ConditionalGameConfig:
    type: str = "conditional"
    # cgan: class embeddings joined to z and to D's input; projection: conditional BN in G and a
    # projection D; acgan: D also classifies
    form: str = choice("cgan", "projection", "acgan")
    embed_dim: int = bounded(32, ge=1, le=4096)                   # class embedding joined to z / to D's input (cgan)
    aux_weight: float = bounded(1.0, ge=0)               # AC-GAN: weight of the class cross-entropies
    aux_fake: bool = False                               # AC-GAN: D's classifier also learns on fakes (the paper: true)
    fake_labels: str = choice("uniform", "frequency")    # classes asked of G: uniform, or as in the data
    columns: int = bounded(8, ge=1, le=64)               # class grid: samples per class (one z per column)


@dataclass
class InfoGANGameConfig:
    type: str = "infogan"
    categorical: int = bounded(10, ge=0, le=1000)    # K values of the categorical code (0: none)
    continuous: int = bounded(2, ge=0, le=64)        # continuous codes, each U[-1, 1]
    lambda_cat: float = bounded(1.0, ge=0)           # weight of the categorical term
    lambda_cont: float = bounded(0.1, ge=0)          # weight of the continuous term (its NLL has another scale)
    cont_std: str = choice("learned", "fixed")       # Q's Gaussian for continuous codes: learned std or 1 (official)
    q_hidden: int = bounded(128, ge=1, le=16384)               # Q's hidden layer on D's features
    sweep: int = bounded(9, ge=2, le=33)             # traversal pictures: values of a continuous code, -2 to 2


@dataclass
class MixGANGameConfig:
    type: str = "mixgan"
    components: int = bounded(5, ge=1, le=32)       # T generators and T discriminators (the paper's 5)
    entropy: float = bounded(0.01, ge=0)            # weight of the entropy regulariser on the weights


@dataclass
class Pix2PixGameConfig:
    type: str = "pix2pix"
    lambda_l1: float = bounded(100.0, ge=0)       # weight of |G(a) - b|_1 in G's loss


@dataclass
class CycleGANGameConfig:
    type: str = "cyclegan"
    lambda_cycle: float = bounded(10.0, ge=0)      # lambda_A = lambda_B
    lambda_identity: float = bounded(0.5, ge=0)    # identity weight, times lambda_cycle (0.5 x 10 = 5)
    pool_size: int = bounded(50, ge=0, le=1000)             # past fakes per D (0: none)


register("game", GANGameConfig, "ganrun.games.gan:GAN")
register("game", ConditionalGameConfig, "ganrun.games.conditional:ConditionalGAN")
register("game", InfoGANGameConfig, "ganrun.games.infogan:InfoGAN")
register("game", MixGANGameConfig, "ganrun.games.mixgan:MixGAN")
register("game", Pix2PixGameConfig, "ganrun.games.translation:Pix2Pix")
register("game", CycleGANGameConfig, "ganrun.games.translation:CycleGAN")
