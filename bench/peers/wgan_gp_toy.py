"""WGAN-GP's toy experiment (the authors' gan_toy.py), on ganrun's ring.

Original: igul222/improved_wgan_training@fa66c574a54c4916d27c55441d33753dcc78f6bc:gan_toy.py
(TensorFlow; its Linear layer and initialisations are in tflib/ops/linear.py at the same commit).
Settings there: MODE wgan-gp, DIM 512, LAMBDA 0.1, CRITIC_ITERS 5, BATCH_SIZE 256, ITERS 100000.

Nets, as there (no normalisation anywhere):
- G: z (2-d, N(0, I)) -> Linear 512 -> ReLU -> Linear 512 -> ReLU -> Linear 512 -> ReLU -> Linear 2.
- D: x (2-d) -> the same three ReLU layers of 512 -> Linear 1.
- Init (tflib Linear): layers followed by ReLU use 'he', weights U(-a, a) with
  a = sqrt(3) * sqrt(2 / fan_in); the output layers use the default 'glorot',
  a = sqrt(3) * sqrt(2 / (fan_in + fan_out)); biases 0.
- Losses: D: mean D(G(z)) - mean D(x) + LAMBDA * mean (||grad_x^ D(x^)||_2 - 1)^2 with
  x^ = t x + (1 - t) G(z), t ~ U[0, 1] per sample (the same fakes as in the D term); G: -mean D(G(z)).
- Adam lr 1e-4, beta1 0.5, beta2 0.9 for both.
- Iteration i: if i > 0, one G step on a fresh noise batch of 256; then CRITIC_ITERS critic
  steps, each with a fresh real batch of 256 and fresh noise.

Deliberate differences from the original (nothing else differs):
- Data: ganrun's `ring` option (8 Gaussians at angles 2*pi*k/8 on a circle of radius 1, std
  0.01, used as drawn: no further scaling) instead of the original's 8gaussians (centres at
  radius 2 with std 0.02, the points then divided by 1.414). As there, a fresh batch is drawn
  for every critic step (torch's RNG instead of numpy's).
- Length: --steps G updates. The original runs ITERS iterations, the first without a G step;
  here iteration 0 is the same (critic steps only) and the loop stops right after the
  --steps-th G step, leaving out the critic steps that would follow it (they cannot change G).
- Adam: torch.optim.Adam (eps 1e-8 added to sqrt(v_hat)) where TF's AdamOptimizer adds its
  eps 1e-8 to sqrt(v) before the bias correction: the same update up to that epsilon.
- Samples: G(z) for --n fresh z ~ N(0, I) (G has no batch norm or dropout, so no mode question).
"""

import math

import torch
import torch.nn as nn

import common

REFERENCE = "igul222/improved_wgan_training@fa66c574a54c4916d27c55441d33753dcc78f6bc:gan_toy.py"

args = common.parse_args(__doc__.splitlines()[0], batch_size=256)
data = common.dataset({"type": "ring"})

DIM, LAMBDA, CRITIC_ITERS = 512, 0.1, 5


def linear(n_in, n_out, init):
    """tflib's Linear: uniform weights with the std of 'he' or 'glorot', zero biases."""
    layer = nn.Linear(n_in, n_out)
    std = math.sqrt(2.0 / n_in) if init == "he" else math.sqrt(2.0 / (n_in + n_out))
    nn.init.uniform_(layer.weight, -std * math.sqrt(3), std * math.sqrt(3))
    nn.init.zeros_(layer.bias)
    return layer


def mlp(n_in, n_out):
    return nn.Sequential(linear(n_in, DIM, "he"), nn.ReLU(), linear(DIM, DIM, "he"), nn.ReLU(),
                         linear(DIM, DIM, "he"), nn.ReLU(), linear(DIM, n_out, "glorot"))


G, D = mlp(2, 2), mlp(2, 1)
optG = torch.optim.Adam(G.parameters(), lr=1e-4, betas=(0.5, 0.9))
optD = torch.optim.Adam(D.parameters(), lr=1e-4, betas=(0.5, 0.9))

with common.Timer() as timer:
    for iteration in range(args.steps + 1):
        # Train generator (not on the first iteration, as in the original)
        if iteration > 0:
            optG.zero_grad()
            gen_cost = -D(G(torch.randn(args.batch_size, 2))).mean()
            gen_cost.backward()
            optG.step()
        if iteration == args.steps:
            break          # the critic steps that would follow the last G step cannot change G
        # Train critic
        for _ in range(CRITIC_ITERS):
            real = data.sample(args.batch_size).x
            fake = G(torch.randn(args.batch_size, 2)).detach()
            alpha = torch.rand(args.batch_size, 1)
            interpolates = (alpha * real + (1 - alpha) * fake).requires_grad_(True)
            gradients, = torch.autograd.grad(D(interpolates).sum(), interpolates, create_graph=True)
            slopes = gradients.pow(2).sum(dim=1).sqrt()
            gradient_penalty = ((slopes - 1) ** 2).mean()
            disc_cost = D(fake).mean() - D(real).mean() + LAMBDA * gradient_penalty
            optD.zero_grad()
            disc_cost.backward()
            optD.step()

with torch.no_grad():
    samples = G(torch.randn(args.n, 2))
common.save(args, "wgan_gp_toy", REFERENCE, timer.seconds, samples=samples)
