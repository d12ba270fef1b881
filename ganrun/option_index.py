"""ganrun's own options, without torch: written by `make docs` (ganrun/indexer.py); do not edit.

Each schema and registration below is copied from the module named above it, where the option's
builder is: edit that module, then run `make docs`. ganrun/config.py imports this file, so that
`ganrun --help`, `ganrun --cfg job` and a config error answer without importing torch.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar, List, Optional, Tuple

from omegaconf import MISSING

from ganrun.config import bounded, choice, name_field, path_field, register


# ganrun/models/dcgan.py
# G's and D's normalisation (model.g_norm, model.d_norm; `norm_layer`). auto: batch norm in G; in D,
# what the loss prefers (layer norm for gradient penalties)
NORMS = ("batch", "layer", "instance", "spectral", "none")


# ganrun/models/__init__.py
# the hidden activations of the MLPs (model.g_activation, model.d_activation)
ACTIVATIONS = ("relu", "leaky_relu", "elu", "gelu", "silu", "tanh")


# --------------------------------------------------------------------------- game


# ganrun/games/conditional.py
@dataclass
class ConditionalGameConfig:
    """Class-conditional GANs (GAN_NOTES §7.1): G(z, y) and D(x, y) on labelled data.
    game.form: cgan (default; a class embedding joined to z and to D's input), projection (cBN in
    G, projection D) or acgan (D also classifies; game.aux_weight weighs the class cross-entropies)."""
    type: str = "conditional"
    # cgan: class embeddings joined to z and to D's input; projection: conditional BN in G and a
    # projection D; acgan: D also classifies
    form: str = choice("cgan", "projection", "acgan")
    embed_dim: int = bounded(32, ge=1, le=4096)                   # class embedding joined to z / to D's input (cgan)
    aux_weight: float = bounded(1.0, ge=0)               # AC-GAN: weight of the class cross-entropies
    aux_fake: bool = False                               # AC-GAN: D's classifier also learns on fakes (the paper: true)
    fake_labels: str = choice("uniform", "frequency")    # classes asked of G: uniform, or as in the data
    columns: int = bounded(8, ge=1, le=64)               # class grid: samples per class (one z per column)


register("game", ConditionalGameConfig, "ganrun.games.conditional:ConditionalGAN")


# ganrun/games/gan.py
@dataclass
class GANGameConfig:
    """The classic game (GAN_NOTES §1): one G against one D, unconditional.
    Each step: (1) update D train.n_critic times, (2) update G once."""
    type: str = "gan"


register("game", GANGameConfig, "ganrun.games.gan:GAN")


# ganrun/games/infogan.py
@dataclass
class InfoGANGameConfig:
    """InfoGAN (GAN_NOTES §7.2): categorical and continuous codes beside z, a Q head on D's features
    recovering them. The paper's setting: experiment=infogan."""
    type: str = "infogan"
    categorical: int = bounded(10, ge=0, le=1000)    # K values of each categorical code (0: none)
    cat_codes: int = bounded(1, ge=1, le=16)         # categorical codes of K values each (the paper's SVHN: 4)
    continuous: int = bounded(2, ge=0, le=64)        # continuous codes, each U[-1, 1]
    lambda_cat: float = bounded(1.0, ge=0)           # weight of the categorical term
    lambda_cont: float = bounded(0.1, ge=0)          # weight of the continuous term (its NLL has another scale)
    cont_std: str = choice("learned", "fixed")       # Q's Gaussian for continuous codes: learned std or 1 (official)
    q_hidden: int = bounded(128, ge=1, le=16384)               # Q's hidden layer on D's features
    sweep: int = bounded(9, ge=2, le=33)             # traversal pictures: values of a continuous code, -2 to 2


register("game", InfoGANGameConfig, "ganrun.games.infogan:InfoGAN")


# ganrun/games/mixgan.py
@dataclass
class MixGANGameConfig:
    """MIX+GAN (Arora et al. 2017, GAN_NOTES §7.5): T generators against T discriminators, each side a
    mixture with learned weights, trained on the payoff averaged over the mixtures, with an entropy
    regulariser on the weights."""
    type: str = "mixgan"
    components: int = bounded(5, ge=1, le=32)       # T generators and T discriminators (the paper's 5)
    entropy: float = bounded(0.01, ge=0)            # weight of the entropy regulariser on the weights


register("game", MixGANGameConfig, "ganrun.games.mixgan:MixGAN")


# ganrun/games/translation.py
@dataclass
class Pix2PixGameConfig:
    """pix2pix (Isola et al. 2017): D on (input, output) pairs, G's loss = the adversarial loss +
    game.lambda_l1 (100) x L1 to the target. Use with dataset=paired (experiment=pix2pix sets the
    paper's recipe)."""
    type: str = "pix2pix"
    lambda_l1: float = bounded(100.0, ge=0)       # weight of |G(a) - b|_1 in G's loss


register("game", Pix2PixGameConfig, "ganrun.games.translation:Pix2Pix")


# ganrun/games/translation.py
@dataclass
class CycleGANGameConfig:
    """CycleGAN (Zhu et al. 2017): G_AB, G_BA, D_A, D_B; cycle consistency (game.lambda_cycle 10),
    identity (game.lambda_identity 0.5 x lambda), pools of 50 past fakes. Use with dataset=unpaired
    (experiment=cyclegan sets the recipe)."""
    type: str = "cyclegan"
    lambda_cycle: float = bounded(10.0, ge=0)      # lambda_A = lambda_B
    lambda_identity: float = bounded(0.5, ge=0)    # identity weight, times lambda_cycle (0.5 x 10 = 5)
    pool_size: int = bounded(50, ge=0, le=1000)             # past fakes per D (0: none)


register("game", CycleGANGameConfig, "ganrun.games.translation:CycleGAN")


# --------------------------------------------------------------------------- model


# ganrun/models/dcgan.py
@dataclass
class DCGANConfig:
    """DCGAN (Radford et al. 2015, GAN_NOTES §3), generated for the dataset's resolution
    (8-256, powers of two) and channels: transposed convs in G, strided convs in D,
    ReLU/tanh in G, LeakyReLU in D, weights ~ N(0, 0.02)."""
    resolutions: ClassVar[tuple[int, ...]] = (8, 16, 32, 64, 128, 256)
    type: str = "dcgan"
    latent_dim: int = bounded(100, ge=1, le=8192)   # size of z
    g_width: int = bounded(64, ge=1, le=1024)        # G's channels at its last hidden layer (doubling inwards)
    d_width: int = bounded(64, ge=1, le=1024)        # D's channels at its first layer (doubling inwards)
    g_norm: str = choice("auto", *NORMS)            # G's normalisation; auto: batch norm
    # D's normalisation; auto: what the loss's recipe asks (batch; layer under gradient penalties; none for BEGAN)
    d_norm: str = choice("auto", *NORMS)
    leak: float = bounded(0.2, ge=0)                # D's LeakyReLU slope
    code_dim: int = bounded(64, ge=1, le=8192)       # BEGAN's autoencoder bottleneck (loss=began only)
    attention: int = bounded(0, ge=0, le=256)   # SAGAN's self-attention at this feature resolution (0: none)


register("model", DCGANConfig, "ganrun.models.dcgan:build")


# ganrun/models/dcgan.py
@dataclass
class DCGANNotesConfig:
    """The notes' exact 64x64 anime-face pair (GAN_NOTES §3): G 512-256-128-64-C transposed
    convs from a 100-d latent; D convs 64-128-256 (4x4, stride 2) and 512-1024 (3x3,
    stride 1), global average pooling, one linear unit. Batch norm throughout."""
    type: str = "dcgan_notes"
    latent_dim: int = bounded(100, ge=1, le=8192)   # size of z
    leak: float = bounded(0.2, ge=0)                # D's LeakyReLU slope


register("model", DCGANNotesConfig, "ganrun.models.dcgan:build_notes")


# ganrun/models/mlp.py
@dataclass
class MLPConfig:
    """Fully connected G and D; on image data they flatten the images (the original GAN paper's set-up)."""
    type: str = "mlp"
    latent_dim: int = bounded(8, ge=1, le=8192)     # size of z
    g_hidden: List[int] = bounded([128, 128], ge=1, le=16384, max_length=32)  # G's hidden layer widths
    d_hidden: List[int] = bounded([128, 128], ge=1, le=16384, max_length=32)  # D's hidden layer widths
    g_activation: str = choice("relu", *ACTIVATIONS)  # G's hidden activation
    # D's hidden activation (maxout: each unit the maximum of `pieces` linear units)
    d_activation: str = choice("leaky_relu", *ACTIVATIONS, "maxout")
    leak: float = bounded(0.2, ge=0)          # LeakyReLU slope
    out_activation: str = choice("none", "tanh")   # tanh for data in [-1, 1]
    g_norm: str = choice("none", "batch")     # batch: G's hidden layers are linear (no bias), BN, activation
    pieces: int = bounded(5, ge=2, le=64)     # maxout: linear pieces per unit (d_activation=maxout)
    init_std: float = bounded(0.0, ge=0)      # >0: weights ~ N(0, init_std^2), biases 0; 0: PyTorch's default


register("model", MLPConfig, "ganrun.models.mlp:build")


# ganrun/models/resnet.py
@dataclass
class ResNetConfig:
    """SNGAN's ResNet G and D (Miyato et al. 2018, GAN_NOTES §7.4, §9.5) for 32, 64 and 128 px:
    up-sampling residual blocks with batch norm in G, down-sampling residual blocks with spectral
    norm on every layer of D, global sum pooling. Options: SAGAN's self-attention
    (model.attention=RES), spectral norm in G (model.g_spectral), BigGAN's hierarchical latent with
    a shared class embedding (model.hierarchical)."""
    resolutions: ClassVar[tuple[int, ...]] = (32, 64, 128)      # one up-sampling block per doubling from 4x4
    type: str = "resnet"
    latent_dim: int = bounded(128, ge=1, le=8192)   # size of z
    g_width: int = bounded(256, ge=8, le=2048)        # G's channels in every block (SNGAN CIFAR: 256)
    d_width: int = bounded(128, ge=8, le=2048)        # D's channels in every block (SNGAN CIFAR: 128)
    g_spectral: bool = False                 # spectral norm in G too (SAGAN, BigGAN)
    d_spectral: bool = True                  # spectral norm on every D layer (SNGAN)
    attention: int = bounded(0, ge=0, le=256)   # SAGAN's self-attention at this feature resolution (0: none)
    hierarchical: bool = False               # BigGAN: z split per block, joined to a shared class embedding
    shared_dim: int = bounded(128, ge=1, le=4096)     # BigGAN's shared class embedding size


register("model", ResNetConfig, "ganrun.models.resnet:build")


# ganrun/models/translation.py
@dataclass
class Pix2PixModelConfig:
    """pix2pix's pair (GAN_NOTES §7.3, §9.4): a U-Net G with skip connections and dropout, whose depth
    follows the resolution, and a PatchGAN D on (input, output) pairs."""
    trained_by: ClassVar[str] = "pix2pix"   # image-to-image: only this game uses it
    type: str = "pix2pix"
    g_width: int = bounded(64, ge=4, le=1024)     # ngf
    d_width: int = bounded(64, ge=4, le=1024)     # ndf
    d_layers: int = bounded(3, ge=1, le=6)   # n_layers_D: 3 gives 70x70 patches at 256 px
    norm: str = choice("batch", "instance")         # norm_layer of the official code
    dropout: bool = True                 # dropout 0.5 in G's inner decoder layers (its noise)


register("model", Pix2PixModelConfig, "ganrun.models.translation:pix2pix_networks")


# ganrun/models/translation.py
@dataclass
class CycleGANModelConfig:
    """CycleGAN's networks (GAN_NOTES §7.3, §9.4): two ResNet generators (6 blocks up to 128 px, 9
    above), two PatchGAN discriminators, instance norm."""
    trained_by: ClassVar[str] = "cyclegan"  # image-to-image: only this game uses it
    type: str = "cyclegan"
    g_width: int = bounded(64, ge=4, le=1024)       # ngf
    d_width: int = bounded(64, ge=4, le=1024)       # ndf
    d_layers: int = bounded(3, ge=1, le=6)          # n_layers_D: 3 gives 70x70 patches at 256 px
    generator: str = choice("resnet", "unet")   # the official code's netG: resnet_Nblocks, or unet_R
    blocks: int = bounded(0, ge=0, le=32)   # residual blocks; 0: 6 up to 128 px, 9 above (the paper)
    norm: str = choice("instance", "batch")         # norm_layer of the official code (instance, not affine)


register("model", CycleGANModelConfig, "ganrun.models.translation:cyclegan_networks")


# --------------------------------------------------------------------------- dataset


# ganrun/data/images.py
@dataclass
class DigitsConfig:
    """scikit-learn's bundled 8x8 handwritten digits (1 797 images, 10 classes), resized."""
    kind: ClassVar[str] = "images"      # what a sample is (ganrun/kinds.py)
    type: str = "digits"
    name: str = name_field("digits")                # the data's name in cache files and metric keys
    resolution: int = bounded(32, ge=8, le=256)     # side in pixels (the 8x8 digits resized)
    split: str = choice("train", "test", "all")   # a fixed 80/20 split; metrics hold out `test`


register("dataset", DigitsConfig, "ganrun.data.images:digits")


# ganrun/data/images.py
@dataclass
class FolderConfig:
    """Every image under `root`, recursively (png, jpg, jpeg, webp, bmp)."""
    kind: ClassVar[str] = "images"      # what a sample is (ganrun/kinds.py)
    type: str = "folder"
    name: str = name_field("folder")                # the data's name in cache files and metric keys
    root: str = path_field(MISSING)                 # the image folder
    resolution: int = bounded(64, ge=8, le=1024)    # shorter side resized to this, then centre-cropped
    channels: int = bounded(3, one_of=(1, 3))   # 3 = RGB, 1 = grayscale
    strict: bool = False               # true: stop at the first unreadable file instead of skipping it
    workers: int = bounded(4, ge=0, le=256)    # decoding threads / DataLoader worker processes
    memory_limit_mb: int = bounded(1024, ge=0)   # hold the decoded set on the device up to this size
    missing_hint: str = ""             # what to tell the user when `root` does not exist


register("dataset", FolderConfig, "ganrun.data.images:folder")


# ganrun/data/images.py
@dataclass
class TorchvisionConfig:
    """MNIST, Fashion-MNIST, CIFAR-10, CelebA through torchvision (downloaded when online)."""
    kind: ClassVar[str] = "images"      # what a sample is (ganrun/kinds.py)
    preset_base: ClassVar[bool] = True  # chosen through its presets: dataset=mnist, fashion_mnist, cifar10, celeba
    type: str = "torchvision"
    name: str = name_field(MISSING)                 # mnist, fashion_mnist, cifar10 or celeba
    root: str = path_field("${oc.env:GANRUN_DATA_DIR,data}")  # where torchvision keeps the files
    resolution: int = bounded(32, ge=8, le=1024)    # side in pixels
    split: str = "train"                            # train or test (CelebA: train, valid, test, all)
    download: bool = True                           # download when the files are missing
    download_timeout: float = bounded(10.0, gt=0)   # seconds to wait for the server before giving up
    workers: int = bounded(4, ge=0, le=256)         # DataLoader worker processes for streamed sets
    memory_limit_mb: int = bounded(1024, ge=0)      # hold the decoded set on the device up to this size


register("dataset", TorchvisionConfig, "ganrun.data.images:torchvision_images")


# ganrun/data/images.py
@dataclass
class StackedDigitsConfig:
    """Three digits as the colour channels: 1000 modes (Stacked MNIST)."""
    kind: ClassVar[str] = "stacked"      # what a sample is (ganrun/kinds.py)
    preset_base: ClassVar[bool] = True   # chosen through its presets: dataset=stacked_digits, stacked_mnist
    type: str = "stacked"
    name: str = name_field("stacked_digits")        # the data's name in cache files and metric keys
    source: str = choice("digits", "mnist")             # the single digits: bundled, or MNIST
    resolution: int = bounded(32, ge=8, le=256)     # side in pixels
    root: str = path_field("${oc.env:GANRUN_DATA_DIR,data}")   # for source=mnist
    download: bool = True                           # download MNIST when missing (source=mnist)
    download_timeout: float = bounded(10.0, gt=0)   # seconds to wait for the server before giving up


register("dataset", StackedDigitsConfig, "ganrun.data.images:stacked_digits")


# ganrun/data/toy.py
@dataclass
class RingConfig:
    """PacGAN's ring: 8 modes at angles 2*pi*i/8 on a circle (GAN_NOTES §4)."""
    kind: ClassVar[str] = "points"      # what a sample is (ganrun/kinds.py)
    type: str = "ring"
    name: str = name_field("ring")                  # the data's name in cache files and metric keys
    modes: int = bounded(8, ge=1, le=100_000)       # Gaussians on the circle
    radius: float = bounded(1.0, gt=0)              # the circle's radius
    std: float = bounded(0.01, gt=0)                # each Gaussian's standard deviation
    # Train on the points divided by their standard deviation per coordinate (0.707 here), samples
    # mapped back; metrics and pictures in the data's units (GAN_NOTES §5 trick 1, "scale the data").
    standardize: bool = False


register("dataset", RingConfig, "ganrun.data.toy:Ring")


# ganrun/data/toy.py
@dataclass
class GridConfig:
    """PacGAN's grid: 25 modes at {-4,-2,0,2,4}^2 (GAN_NOTES §4)."""
    kind: ClassVar[str] = "points"      # what a sample is (ganrun/kinds.py)
    type: str = "grid"
    name: str = name_field("grid")                  # the data's name in cache files and metric keys
    side: int = bounded(5, ge=1, le=300)            # Gaussians per side of the square grid
    spacing: float = bounded(2.0, gt=0)             # distance between neighbouring modes
    std: float = bounded(0.05, gt=0)                # each Gaussian's standard deviation
    # Train on the points divided by their standard deviation per coordinate (2.83 here, as the WGAN-GP
    # authors' gan_toy.py does), samples mapped back; metrics and pictures in the data's units.
    standardize: bool = False


register("dataset", GridConfig, "ganrun.data.toy:Grid")


# ganrun/data/toy.py
@dataclass
class SineConfig:
    """The notes' 10 sine curves sin(a*t), a in linspace(1, 1.2, 10), 32 points (GAN_NOTES §3)."""
    kind: ClassVar[str] = "curves"      # what a sample is (ganrun/kinds.py)
    type: str = "sine"
    name: str = name_field("sine")                  # the data's name in cache files and metric keys
    curves: int = bounded(10, ge=1, le=10_000)      # curves sin(a t), a evenly spaced
    a_min: float = 1.0                              # smallest frequency a
    a_max: float = 1.2                              # largest frequency a
    t_min: float = -2.5                             # first t
    t_max: float = 3.5                              # last t
    length: int = bounded(32, ge=2, le=4096)        # points per curve


register("dataset", SineConfig, "ganrun.data.toy:SineCurves")


# ganrun/data/toy.py
@dataclass
class Gaussian1dConfig:
    """A 1-D Gaussian target N(mean, std^2) (GAN_NOTES §4)."""
    kind: ClassVar[str] = "density1d"      # what a sample is (ganrun/kinds.py)
    type: str = "gaussian1d"
    name: str = name_field("gaussian1d")            # the data's name in cache files and metric keys
    mean: float = 4.0                               # the target's mean
    std: float = bounded(0.5, gt=0)                 # the target's standard deviation
    # Train on (x - mean) / std and map samples back: G's output layer then works
    # at unit scale for any target (see GAN_NOTES §5 trick 1, "scale the data").
    standardize: bool = True


register("dataset", Gaussian1dConfig, "ganrun.data.toy:Gaussian1d")


# ganrun/data/translation.py
@dataclass
class PairedConfig:
    """pix2pix data: a built-in set, a paper's set (downloaded), or a folder (see the module)."""
    kind: ClassVar[str] = "paired"      # what a sample is (ganrun/kinds.py)
    type: str = "paired"
    name: str = name_field("edges2digits")        # edges2digits (built in), facades, maps, edges2shoes, ... or folder
    root: str = path_field("data")    # where downloaded sets live, or the folder itself (name=folder)
    direction: str = choice("AtoB", "BtoA")         # AtoB: learn A -> B; BtoA: the other way
    resolution: int = bounded(32, ge=16, le=1024)    # the crop the networks see
    load_size: int = bounded(32, ge=16, le=2048)     # images are resized to this, then cropped (paper: 286 -> 256)
    flip: bool = False                # mirror pairs half the time (the papers do; digits must not)
    channels: int = bounded(0, one_of=(0, 1, 3))     # 0: the set's own (1 for digits, 3 for photos)
    download: bool = True                           # download a paper's set when missing
    download_timeout: float = bounded(10.0, gt=0)   # seconds to wait for the server before giving up
    workers: int = bounded(4, ge=0, le=256)         # DataLoader worker processes for sets on disk


register("dataset", PairedConfig, "ganrun.data.translation:paired")


# ganrun/data/translation.py
@dataclass
class UnpairedConfig(PairedConfig):
    """CycleGAN data: two domains A and B."""
    kind: ClassVar[str] = "unpaired"      # what a sample is (ganrun/kinds.py)
    type: str = "unpaired"
    name: str = name_field("digits2bold")         # digits2bold (built in), horse2zebra, apple2orange, monet2photo, ... or folder


register("dataset", UnpairedConfig, "ganrun.data.translation:unpaired")


# --------------------------------------------------------------------------- loss


# ganrun/losses.py
@dataclass
class MinimaxLossConfig:
    """Minimax GAN (Goodfellow 2014): G minimises log(1 - D(G(z))), which saturates early on."""
    type: str = "mm"


register("loss", MinimaxLossConfig, "ganrun.losses:Minimax")


# ganrun/losses.py
@dataclass
class NonSaturatingLossConfig:
    """Non-saturating GAN: D as minimax, G maximises log D(G(z)) (GAN_NOTES §2)."""
    type: str = "ns"


register("loss", NonSaturatingLossConfig, "ganrun.losses:NonSaturating")


# ganrun/losses.py
@dataclass
class WGANLossConfig:
    type: str = "wgan"
    clip: float = bounded(0.01, ge=0)        # every D weight clipped to [-clip, clip]


register("loss", WGANLossConfig, "ganrun.losses:Wasserstein")


# ganrun/losses.py
@dataclass
class WGANGPLossConfig:
    type: str = "wgan_gp"
    gp_weight: float = bounded(10.0, ge=0)   # lambda


register("loss", WGANGPLossConfig, "ganrun.losses:WassersteinGP")


# ganrun/losses.py
@dataclass
class LSGANLossConfig:
    """Least-squares GAN (Mao 2017): D regresses real to 1 and fake to 0, G pushes D(x~) to 1.
    Recipe: the DCGAN Adam settings."""
    type: str = "lsgan"


register("loss", LSGANLossConfig, "ganrun.losses:LeastSquares")


# ganrun/losses.py
@dataclass
class DRAGANLossConfig:
    type: str = "dragan"
    gp_weight: float = bounded(10.0, ge=0)   # lambda
    perturb: float = bounded(0.5, ge=0)      # c in x + a * c * std(x) * u


register("loss", DRAGANLossConfig, "ganrun.losses:DRAGAN")


# ganrun/losses.py
@dataclass
class BEGANLossConfig:
    """Boundary equilibrium GAN (Berthelot 2017): D is an autoencoder (the chosen model's
    autoencoder form); k_t balances the two players and is kept in checkpoints.
    Logs began/k and the convergence measure began/M."""
    type: str = "began"
    gamma: float = bounded(0.5, gt=0, le=1)  # diversity ratio E[L(x~)] / E[L(x)] it aims for
    lambda_k: float = bounded(0.001, ge=0)   # learning rate of k_t
    k_init: float = bounded(0.0, ge=0, le=1)        # k_0, the starting weight of L(x~) in D's loss


register("loss", BEGANLossConfig, "ganrun.losses:BEGAN")


# ganrun/losses.py
@dataclass
class HingeLossConfig:
    type: str = "hinge"


register("loss", HingeLossConfig, "ganrun.losses:Hinge")


# ganrun/losses.py
@dataclass
class RSGANLossConfig:
    """Relativistic standard GAN (Jolicoeur-Martineau 2018): D judges whether real looks more real than fake."""
    type: str = "rsgan"


register("loss", RSGANLossConfig, "ganrun.losses:RelativisticStandard")


# ganrun/losses.py
@dataclass
class RaGANLossConfig:
    """Relativistic average GAN (Jolicoeur-Martineau 2018): each sample against the other side's mean score."""
    type: str = "ragan"


register("loss", RaGANLossConfig, "ganrun.losses:RelativisticAverage")


# --------------------------------------------------------------------------- optimizer


# ganrun/optimizers.py
@dataclass
class AdamConfig:
    type: str = "adam"
    lr: float = bounded(2e-4, gt=0)                 # learning rate
    betas: Tuple[float, float] = bounded((0.5, 0.999), ge=0, lt=1)  # decay of the first and second moment estimates
    eps: float = bounded(1e-8, gt=0)                # added to the denominator
    weight_decay: float = bounded(0.0, ge=0)        # L2 penalty
    fused: Optional[bool] = None    # one kernel for all parameters; null: on when they are on a GPU


register("optimizer", AdamConfig, "ganrun.optimizers:Adam", legacy_target="torch.optim.Adam")


# ganrun/optimizers.py
@dataclass
class RMSpropConfig:
    type: str = "rmsprop"
    lr: float = bounded(5e-5, gt=0)                 # learning rate
    alpha: float = bounded(0.99, ge=0, lt=1)        # decay of the squared-gradient average
    momentum: float = bounded(0.0, ge=0, lt=1)      # momentum factor
    eps: float = bounded(1e-8, gt=0)                # added to the denominator
    weight_decay: float = bounded(0.0, ge=0)        # L2 penalty


register("optimizer", RMSpropConfig, "ganrun.optimizers:RMSprop", legacy_target="torch.optim.RMSprop")


# ganrun/optimizers.py
@dataclass
class SGDConfig:
    type: str = "sgd"
    lr: float = bounded(1e-3, gt=0)                 # learning rate
    momentum: float = bounded(0.0, ge=0, lt=1)      # momentum factor
    weight_decay: float = bounded(0.0, ge=0)        # L2 penalty


register("optimizer", SGDConfig, "ganrun.optimizers:SGD", legacy_target="torch.optim.SGD")
