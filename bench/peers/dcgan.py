"""DCGAN as in pytorch/examples, re-implemented for ganrun's 32x32 digits.

Original: pytorch/examples@77f55b912142e11fcfdf5b530231fb9c52f181e8:dcgan/main.py
(ngf = ndf = 64, nz 100, Adam 2e-4 with betas (0.5, 0.999) for both nets, BCE on a sigmoid
output, weights_init: conv weights N(0, 0.02), BN weights N(1, 0.02) and BN biases 0,
batch size 64, step order: D on real, D on G(z).detach(), D step; then G through the updated D
on the same fakes, G step).

Deliberate differences from the original (nothing else differs):
- Data: ganrun's `digits` option (scikit-learn's 8x8 digits resized to 32x32, 1 channel, the
  fixed 1 438-image train split, in [-1, 1]) instead of a torchvision dataset at --imageSize 64;
  iterated with a shuffled DataLoader with drop_last=True (the original keeps the short last
  batch of each epoch). Training length is --steps G updates instead of --niter epochs.
- Image size (forced by the data): the original nets are built for 64x64. For 32x32 one
  up-sampling stage of G and one down-sampling stage of D are dropped: the innermost,
  widest ones (ngf*8 / ndf*8). G is ConvT(nz->4*ngf, 4x4) -> 8 -> 16 -> 32 (ngf*4, ngf*2,
  ngf, nc); D is conv(nc->ndf) -> ndf*2 -> ndf*4 -> 4x4 conv to 1 + sigmoid. Everything
  else in each layer (kernel 4, stride 2, padding 1, no biases, BN placement, ReLU / LeakyReLU
  0.2, tanh) is the original's. nc = 1.
- Samples: the original only draws samples (from fixed noise) with G in training mode, i.e.
  batch-norm on the batch's own statistics, in batches of --batchSize; so do we, in chunks of
  --batch-size, without gradients.
"""

import torch
import torch.nn as nn

import common

REFERENCE = "pytorch/examples@77f55b912142e11fcfdf5b530231fb9c52f181e8:dcgan/main.py"

args = common.parse_args(__doc__.splitlines()[0], batch_size=64)
data = common.dataset({"type": "digits", "resolution": 32})
real = data.reference(None)                     # every training image: x (N, 1, 32, 32) in [-1, 1]
loader = common.loader((real.x, real.y), args.batch_size, args.seed)

nz, ngf, ndf, nc = 100, 64, 64, real.x.shape[1]
lr, beta1 = 2e-4, 0.5


def weights_init(m):
    # the original's init: every Conv* weight N(0, 0.02); BatchNorm weight N(1, 0.02), bias 0
    name = m.__class__.__name__
    if "Conv" in name:
        nn.init.normal_(m.weight, 0.0, 0.02)
    elif "BatchNorm" in name:
        nn.init.normal_(m.weight, 1.0, 0.02)
        nn.init.zeros_(m.bias)


netG = nn.Sequential(
    nn.ConvTranspose2d(nz, ngf * 4, 4, 1, 0, bias=False),       # 4x4   (the ngf*8 stage is dropped)
    nn.BatchNorm2d(ngf * 4), nn.ReLU(True),
    nn.ConvTranspose2d(ngf * 4, ngf * 2, 4, 2, 1, bias=False),  # 8x8
    nn.BatchNorm2d(ngf * 2), nn.ReLU(True),
    nn.ConvTranspose2d(ngf * 2, ngf, 4, 2, 1, bias=False),      # 16x16
    nn.BatchNorm2d(ngf), nn.ReLU(True),
    nn.ConvTranspose2d(ngf, nc, 4, 2, 1, bias=False),           # 32x32
    nn.Tanh(),
)
netD = nn.Sequential(
    nn.Conv2d(nc, ndf, 4, 2, 1, bias=False),                    # 16x16
    nn.LeakyReLU(0.2, inplace=True),
    nn.Conv2d(ndf, ndf * 2, 4, 2, 1, bias=False),               # 8x8
    nn.BatchNorm2d(ndf * 2), nn.LeakyReLU(0.2, inplace=True),
    nn.Conv2d(ndf * 2, ndf * 4, 4, 2, 1, bias=False),           # 4x4   (the ndf*8 stage is dropped)
    nn.BatchNorm2d(ndf * 4), nn.LeakyReLU(0.2, inplace=True),
    nn.Conv2d(ndf * 4, 1, 4, 1, 0, bias=False),                 # 1x1
    nn.Sigmoid(),
)
netG.apply(weights_init)
netD.apply(weights_init)

criterion = nn.BCELoss()
real_label, fake_label = 1.0, 0.0
optimizerD = torch.optim.Adam(netD.parameters(), lr=lr, betas=(beta1, 0.999))
optimizerG = torch.optim.Adam(netG.parameters(), lr=lr, betas=(beta1, 0.999))

with common.Timer() as timer:
    for epoch, (x, _) in common.batches(loader, args.steps):
        # (1) Update D: maximize log D(x) + log(1 - D(G(z))); real and fake backward separately
        netD.zero_grad()
        b = x.size(0)
        label = torch.full((b,), real_label)
        output = netD(x).view(-1)
        errD_real = criterion(output, label)
        errD_real.backward()

        noise = torch.randn(b, nz, 1, 1)
        fake = netG(noise)
        label.fill_(fake_label)
        output = netD(fake.detach()).view(-1)
        errD_fake = criterion(output, label)
        errD_fake.backward()
        optimizerD.step()

        # (2) Update G: maximize log D(G(z)), on the same fakes, through the just-updated D
        netG.zero_grad()
        label.fill_(real_label)
        output = netD(fake).view(-1)
        errG = criterion(output, label)
        errG.backward()
        optimizerG.step()

# samples as the original draws them: G in training mode, batches of the training batch size
with torch.no_grad():
    samples = torch.cat([netG(torch.randn(min(args.batch_size, args.n - i), nz, 1, 1))
                         for i in range(0, args.n, args.batch_size)])
common.save(args, "dcgan", REFERENCE, timer.seconds, samples=samples)
