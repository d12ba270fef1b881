"""Conditional GAN as in eriklindernoren/PyTorch-GAN, on ganrun's 32x32 digits.

Original: eriklindernoren/PyTorch-GAN@36d3c77e5ff20ebe0aeefd322326a134a279b93e:implementations/cgan/cgan.py
(latent 100, 10 classes, 32x32x1 images, batch 64, Adam lr 2e-4 betas (0.5, 0.999) for both
nets, least-squares (MSE) adversarial loss against targets 1 / 0, G step first, then D step on
the same fakes detached, D loss halved).

Nets, as there:
- G: [embedding(10 -> 10) of the label, z] -> Linear 128 -> LReLU(0.2) -> Linear 256 -> BN ->
  LReLU -> Linear 512 -> BN -> LReLU -> Linear 1024 -> BN -> LReLU -> Linear 1024 -> tanh.
  The BN layers are `BatchNorm1d(n, 0.8)`: the 0.8 is the *eps* argument (as written there).
- D: [flattened image, embedding(10 -> 10) of the label] -> Linear 512 -> LReLU -> Linear 512 ->
  Dropout 0.4 -> LReLU -> Linear 512 -> Dropout 0.4 -> LReLU -> Linear 1 (no sigmoid).
- PyTorch's default initialisation (the original calls no init function).

Deliberate differences from the original (nothing else differs):
- Data: ganrun's `digits` option (1 438 training images of scikit-learn's digits resized to
  32x32, 1 channel, in [-1, 1], with their labels) instead of torchvision MNIST resized to 32;
  a shuffled DataLoader with drop_last=True (the original keeps the short last batch).
  Training length is --steps G updates instead of --n_epochs. No size adaptation was needed.
- Noise and fake labels come from torch's RNG instead of numpy's (same distributions).
- Samples: the original draws its sample grid (labels 0..9 in turn, 100 at a time) with G in
  training mode (batch statistics in BN); so do we: chunks of 100, label i % 10 for sample i,
  without gradients.
"""

import torch
import torch.nn as nn

import common

REFERENCE = ("eriklindernoren/PyTorch-GAN@36d3c77e5ff20ebe0aeefd322326a134a279b93e:"
             "implementations/cgan/cgan.py")

args = common.parse_args(__doc__.splitlines()[0], batch_size=64)
data = common.dataset({"type": "digits", "resolution": 32})
real = data.reference(None)                     # x (N, 1, 32, 32) in [-1, 1], y labels 0..9
loader = common.loader((real.x, real.y), args.batch_size, args.seed)

latent_dim, n_classes = 100, 10
img_shape = tuple(real.x.shape[1:])
img_size = real.x[0].numel()
lr, b1, b2 = 2e-4, 0.5, 0.999


def block(n_in, n_out, normalize=True):
    layers = [nn.Linear(n_in, n_out)]
    if normalize:
        layers.append(nn.BatchNorm1d(n_out, 0.8))   # eps=0.8, exactly as the original passes it
    layers.append(nn.LeakyReLU(0.2, inplace=True))
    return layers


class Generator(nn.Module):
    def __init__(self):
        super().__init__()
        self.label_emb = nn.Embedding(n_classes, n_classes)
        self.model = nn.Sequential(
            *block(latent_dim + n_classes, 128, normalize=False),
            *block(128, 256), *block(256, 512), *block(512, 1024),
            nn.Linear(1024, img_size), nn.Tanh())

    def forward(self, z, labels):
        img = self.model(torch.cat((self.label_emb(labels), z), -1))   # label embedding first
        return img.view(img.size(0), *img_shape)


class Discriminator(nn.Module):
    def __init__(self):
        super().__init__()
        self.label_embedding = nn.Embedding(n_classes, n_classes)
        self.model = nn.Sequential(
            nn.Linear(img_size + n_classes, 512), nn.LeakyReLU(0.2, inplace=True),
            nn.Linear(512, 512), nn.Dropout(0.4), nn.LeakyReLU(0.2, inplace=True),
            nn.Linear(512, 512), nn.Dropout(0.4), nn.LeakyReLU(0.2, inplace=True),
            nn.Linear(512, 1))

    def forward(self, img, labels):
        return self.model(torch.cat((img.view(img.size(0), -1), self.label_embedding(labels)), -1))


generator, discriminator = Generator(), Discriminator()
adversarial_loss = nn.MSELoss()
optimizer_G = torch.optim.Adam(generator.parameters(), lr=lr, betas=(b1, b2))
optimizer_D = torch.optim.Adam(discriminator.parameters(), lr=lr, betas=(b1, b2))

with common.Timer() as timer:
    for epoch, (imgs, labels) in common.batches(loader, args.steps):
        b = imgs.size(0)
        valid, fake = torch.ones(b, 1), torch.zeros(b, 1)

        # Train G first: fakes of random classes should score 1 (least squares)
        optimizer_G.zero_grad()
        z = torch.randn(b, latent_dim)
        gen_labels = torch.randint(0, n_classes, (b,))
        gen_imgs = generator(z, gen_labels)
        g_loss = adversarial_loss(discriminator(gen_imgs, gen_labels), valid)
        g_loss.backward()
        optimizer_G.step()

        # Then D: real (with their labels) -> 1, the same fakes (detached) -> 0, averaged
        optimizer_D.zero_grad()
        d_real_loss = adversarial_loss(discriminator(imgs, labels), valid)
        d_fake_loss = adversarial_loss(discriminator(gen_imgs.detach(), gen_labels), fake)
        d_loss = (d_real_loss + d_fake_loss) / 2
        d_loss.backward()
        optimizer_D.step()

# samples as the original's sample_image draws them: training mode, 100 at a time, labels 0..9 in turn
labels = torch.arange(args.n) % n_classes
with torch.no_grad():
    samples = torch.cat([generator(torch.randn(len(y), latent_dim), y) for y in labels.split(100)])
common.save(args, "cgan", REFERENCE, timer.seconds, samples=samples, labels=labels)
