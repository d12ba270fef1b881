"""PacGAN's 2-D experiments (GAN = --pack 1, PacGAN-K = --pack K), on ganrun's ring or grid.

Original: fjxmlzn/PacGAN@190853e56d6e7843c0d991dc64658cfb3311135e, Theano/Blocks code:
synthetic_data_experiments/2DRing_GAN&PacGAN/{config.py,pacgan_task.py} (the 2DGrid folder is the
same but for the data), synthetic_data_experiments/PacGAN/pacgan/{bricks.py,datasets.py,
distributions.py,extensions.py}; the update rule is ali_algorithm in
IshmaelBelghazi/ALI@a2ed32512d9c0a5799247386d72fb0a3aa767350:ali/algorithms.py; the layers and Adam
are Blocks' (mila-iqia/blocks@c69c2dc2b9c90a8eac9e432690eb59ff99d2f28a: blocks/bricks/bn.py,
blocks/bricks/simple.py (LinearMaxout), blocks/algorithms/__init__.py (Adam)).

As there:
- Data: 100 000 points drawn once per run; each of the K pack slots is an independent
  with-replacement resample of them (indices drawn once), the slots concatenated feature-wise
  into 100 000 rows of 2K numbers; training iterates shuffled epochs over these rows, 100 rows
  (packs) per minibatch.
- G: z (2-d, N(0, I)) -> 4 x [Linear 400 without bias -> batch norm -> ReLU] -> Linear 2 with bias.
  Blocks' batch norm: learned scale (1) and shift (0); in training it normalises with the
  minibatch mean and sqrt(biased variance + 1e-4); the population mean / stdev (initially 0 / 1)
  are moving averages, new = 0.95 old + 0.05 (minibatch estimate averaged over the K
  applications of G in the step); inference uses them with no further epsilon.
  For a batch of packs G runs K times, once per slot (each call normalised on its own 100 samples).
- D: 3 maxout layers (Linear to 200 x 5 pieces, max over the pieces) -> Linear 1; input 2K.
- Init: every Linear weight N(0, 0.02^2), biases 0.
- Loss on D(concat[real packs, fake packs]) (D has no batch norm): D: mean softplus(-D(x)) +
  softplus(D(x~)); G: mean softplus(D(x)) + softplus(-D(x~)) (non-saturating; the first term
  has no gradient for G).
- Update: D's and G's gradients are taken at the same parameters on the same minibatch and both
  nets are stepped at once (simultaneous), each parameter with Adam lr 1e-4, beta1 0.8, beta2
  0.999; the population statistics are updated in the same step.
- Samples: G in inference mode (population statistics) on 2 500 z ~ N(0, I), after the
  end-of-epoch monitoring pass over 5 000 points (50 batches of 100) that also applies the
  population updates (DataStreamMonitoring(..., updates=bn_updates) runs before GraphLogger).

Deliberate differences from the original (nothing else differs):
- Data: ganrun's `ring` (8 modes on the unit circle, std 0.01) or `grid` (25 modes on
  {-4,-2,0,2,4}^2, std 0.05) option: the same mixtures as the original's config.py; the
  100 000 points, pack indices and epoch shuffles come from torch's RNG seeded by --seed
  (numpy / fuel RNGs there).
- Length: --steps minibatches (simultaneous D+G updates) instead of 400 epochs x 1 000; the
  monitoring pass is applied once, right before sampling (there it follows every epoch; its
  effect on earlier epochs is forgotten by the moving average long before the end).
- Adam: torch.optim.Adam adds eps 1e-8 to sqrt(v_hat); Blocks adds it to sqrt(v) before the
  bias correction: the same update up to that epsilon.
- The fixed sampling noise is drawn from --seed (the original's GraphLogger seeds it with 2333).
"""

import torch
import torch.nn as nn
import torch.nn.functional as F

import common

REFERENCE = ("fjxmlzn/PacGAN@190853e56d6e7843c0d991dc64658cfb3311135e:"
             "synthetic_data_experiments/2DRing_GAN&PacGAN/pacgan_task.py")


def extra(p):
    p.add_argument("--dataset", choices=["ring", "grid"], default="ring")
    p.add_argument("--pack", type=int, default=1, help="K: 1 = GAN, 2-4 = PacGAN-K")


args = common.parse_args(__doc__.splitlines()[0], batch_size=100, extra=extra)
K = args.pack
data = common.dataset({"type": args.dataset})
if args.dataset == "grid":
    REFERENCE = REFERENCE.replace("2DRing", "2DGrid")

NUM_SAMPLE, GEN_HIDDEN, DISC_HIDDEN, PIECES = 100_000, 400, 200, 5
INIT_STD, LR, BETA1 = 0.02, 1e-4, 0.8

# the fixed training set and its K with-replacement resamples, concatenated feature-wise
points = data.sample(NUM_SAMPLE).x
slots = torch.randint(NUM_SAMPLE, (K, NUM_SAMPLE))
packed = torch.cat([points[ids] for ids in slots], dim=1)          # (100 000, 2K)
loader = common.loader((packed,), args.batch_size, args.seed)


class BatchNorm(nn.Module):
    """Blocks' BatchNormalization for (batch, features), with its population statistics."""

    def __init__(self, n, eps=1e-4):
        super().__init__()
        self.scale, self.shift = nn.Parameter(torch.ones(n)), nn.Parameter(torch.zeros(n))
        self.register_buffer("population_mean", torch.zeros(n))
        self.register_buffer("population_stdev", torch.ones(n))
        self.eps, self.minibatch = eps, []

    def forward(self, x):
        if self.training:
            mean = x.mean(0)
            stdev = ((x - mean).pow(2).mean(0) + self.eps).sqrt()
            self.minibatch.append((mean.detach(), stdev.detach()))
        else:
            mean, stdev = self.population_mean, self.population_stdev
        return (x - mean) * (self.scale / stdev) + self.shift

    @torch.no_grad()
    def update_population(self, rate=0.05):
        """old * 0.95 + 0.05 * (the step's minibatch estimates, averaged over G's applications)."""
        means, stdevs = zip(*self.minibatch)
        self.population_mean.mul_(1 - rate).add_(rate * torch.stack(means).mean(0))
        self.population_stdev.mul_(1 - rate).add_(rate * torch.stack(stdevs).mean(0))
        self.minibatch.clear()


class Maxout(nn.Module):
    """Blocks' LinearMaxout: a linear map to out x pieces units, then the max over the pieces."""

    def __init__(self, n_in, n_out, pieces):
        super().__init__()
        self.linear, self.n_out, self.pieces = nn.Linear(n_in, n_out * pieces), n_out, pieces

    def forward(self, x):
        return self.linear(x).view(-1, self.n_out, self.pieces).max(-1).values


layers = []
for n_in in (2, GEN_HIDDEN, GEN_HIDDEN, GEN_HIDDEN):
    layers += [nn.Linear(n_in, GEN_HIDDEN, bias=False), BatchNorm(GEN_HIDDEN), nn.ReLU()]
G = nn.Sequential(*layers, nn.Linear(GEN_HIDDEN, 2))
D = nn.Sequential(Maxout(2 * K, DISC_HIDDEN, PIECES), Maxout(DISC_HIDDEN, DISC_HIDDEN, PIECES),
                  Maxout(DISC_HIDDEN, DISC_HIDDEN, PIECES), nn.Linear(DISC_HIDDEN, 1))
for m in list(G.modules()) + list(D.modules()):
    if isinstance(m, nn.Linear):
        nn.init.normal_(m.weight, 0.0, INIT_STD)
        if m.bias is not None:
            nn.init.zeros_(m.bias)
norms = [m for m in G.modules() if isinstance(m, BatchNorm)]

optD = torch.optim.Adam(D.parameters(), lr=LR, betas=(BETA1, 0.999))
optG = torch.optim.Adam(G.parameters(), lr=LR, betas=(BETA1, 0.999))

with common.Timer() as timer:
    for epoch, (x,) in common.batches(loader, args.steps):
        # K fake slots, each from its own z batch through G, concatenated like the real packs
        x_tilde = torch.cat([G(torch.randn(len(x), 2)) for _ in range(K)], dim=1)
        preds = D(torch.cat([x, x_tilde], dim=0))
        data_preds, sample_preds = preds[:len(x)], preds[len(x):]
        d_loss = (F.softplus(-data_preds) + F.softplus(sample_preds)).mean()
        g_loss = (F.softplus(data_preds) + F.softplus(-sample_preds)).mean()
        # simultaneous update: both gradients at the current parameters, then both steps
        optD.zero_grad()
        optG.zero_grad()
        d_loss.backward(inputs=list(D.parameters()), retain_graph=True)
        g_loss.backward(inputs=list(G.parameters()))
        optD.step()
        optG.step()
        for bn in norms:
            bn.update_population()

# the end-of-epoch monitoring pass: 5 000 points in minibatches, each updating the population statistics
with torch.no_grad():
    for _ in range(5000 // args.batch_size):
        for _ in range(K):
            G(torch.randn(args.batch_size, 2))
        for bn in norms:
            bn.update_population()

G.eval()                                       # population statistics, as GraphLogger's graph uses
with torch.no_grad():
    samples = G(torch.randn(args.n, 2))
common.save(args, "pacgan_toy", REFERENCE, timer.seconds, extra={"dataset": args.dataset, "pack": K},
            samples=samples)
