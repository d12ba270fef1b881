"""AC-GAN as in eriklindernoren/PyTorch-GAN, on ganrun's 32x32 digits.

Original: eriklindernoren/PyTorch-GAN@36d3c77e5ff20ebe0aeefd322326a134a279b93e:implementations/acgan/acgan.py
(latent 100, 10 classes, 32x32x1 images, batch 64, Adam lr 2e-4 betas (0.5, 0.999) for both
nets; G step first, then D step on the same fakes detached).

Nets, as there:
- G: z * embedding(10 -> 100)(label) (element-wise product) -> Linear to 128 x 8 x 8 ->
  BN(128) -> upsample x2 -> conv3x3 128 -> BN(128, eps 0.8) -> LReLU(0.2) -> upsample x2 ->
  conv3x3 64 -> BN(64, eps 0.8) -> LReLU -> conv3x3 to 1 channel -> tanh.
- D: 4 blocks [conv3x3 stride 2, LReLU(0.2), Dropout2d(0.25), BN(eps 0.8) except in the first],
  16-32-64-128 channels, 32 -> 2x2; then two heads on the 512 features: Linear 1 + sigmoid
  (source), Linear 10 + softmax (class).
- Losses: BCE on the source probability; CrossEntropyLoss applied to the head's *softmax output*
  (so a second log-softmax is taken inside the loss, as in the original).
  G: 0.5 * (BCE(D_src(G(z,c)), 1) + CE(D_cls(G(z,c)), c)).
  D: ((BCE(real, 1) + CE(real, y)) / 2 + (BCE(fake, 0) + CE(fake, c)) / 2) / 2.
- Init (weights_init_normal): Conv weights N(0, 0.02) (biases left at PyTorch's default);
  BatchNorm2d weights N(1, 0.02), biases 0; Linear and Embedding keep PyTorch's defaults.

Deliberate differences from the original (nothing else differs):
- Data: ganrun's `digits` option (1 438 training images of scikit-learn's digits resized to
  32x32, 1 channel, in [-1, 1], with labels) instead of torchvision MNIST resized to 32;
  a shuffled DataLoader with drop_last=True (the original keeps the short last batch).
  Training length is --steps G updates instead of --n_epochs. No size adaptation was needed.
- Noise and fake labels come from torch's RNG instead of numpy's (same distributions).
- `nn.Softmax()` there (implicit dim, which is 1 for these 2-D inputs) is written dim=1 here.
- Samples: the original's sample_image runs G in training mode (BN batch statistics), 100 at a
  time with labels 0..9 in turn; so do we: chunks of 100, label i % 10, without gradients.
"""

import torch
import torch.nn as nn

import common

REFERENCE = ("eriklindernoren/PyTorch-GAN@36d3c77e5ff20ebe0aeefd322326a134a279b93e:"
             "implementations/acgan/acgan.py")

args = common.parse_args(__doc__.splitlines()[0], batch_size=64)
data = common.dataset({"type": "digits", "resolution": 32})
real = data.reference(None)                     # x (N, 1, 32, 32) in [-1, 1], y labels 0..9
loader = common.loader((real.x, real.y), args.batch_size, args.seed)

latent_dim, n_classes = 100, 10
channels, img_size = real.x.shape[1], real.x.shape[2]
lr, b1, b2 = 2e-4, 0.5, 0.999


def weights_init_normal(m):
    name = m.__class__.__name__
    if "Conv" in name:
        nn.init.normal_(m.weight, 0.0, 0.02)
    elif "BatchNorm2d" in name:
        nn.init.normal_(m.weight, 1.0, 0.02)
        nn.init.constant_(m.bias, 0.0)


class Generator(nn.Module):
    def __init__(self):
        super().__init__()
        self.label_emb = nn.Embedding(n_classes, latent_dim)
        self.init_size = img_size // 4
        self.l1 = nn.Sequential(nn.Linear(latent_dim, 128 * self.init_size ** 2))
        self.conv_blocks = nn.Sequential(
            nn.BatchNorm2d(128),
            nn.Upsample(scale_factor=2),
            nn.Conv2d(128, 128, 3, stride=1, padding=1), nn.BatchNorm2d(128, 0.8), nn.LeakyReLU(0.2, inplace=True),
            nn.Upsample(scale_factor=2),
            nn.Conv2d(128, 64, 3, stride=1, padding=1), nn.BatchNorm2d(64, 0.8), nn.LeakyReLU(0.2, inplace=True),
            nn.Conv2d(64, channels, 3, stride=1, padding=1), nn.Tanh())

    def forward(self, z, labels):
        out = self.l1(self.label_emb(labels) * z)          # the label multiplies the noise
        return self.conv_blocks(out.view(out.size(0), 128, self.init_size, self.init_size))


class Discriminator(nn.Module):
    def __init__(self):
        super().__init__()

        def block(n_in, n_out, bn=True):
            layers = [nn.Conv2d(n_in, n_out, 3, 2, 1), nn.LeakyReLU(0.2, inplace=True), nn.Dropout2d(0.25)]
            if bn:
                layers.append(nn.BatchNorm2d(n_out, 0.8))
            return layers

        self.conv_blocks = nn.Sequential(*block(channels, 16, bn=False), *block(16, 32), *block(32, 64),
                                         *block(64, 128))
        features = 128 * (img_size // 2 ** 4) ** 2
        self.adv_layer = nn.Sequential(nn.Linear(features, 1), nn.Sigmoid())
        self.aux_layer = nn.Sequential(nn.Linear(features, n_classes), nn.Softmax(dim=1))

    def forward(self, img):
        out = self.conv_blocks(img).flatten(1)
        return self.adv_layer(out), self.aux_layer(out)


generator, discriminator = Generator(), Discriminator()
generator.apply(weights_init_normal)
discriminator.apply(weights_init_normal)
adversarial_loss = nn.BCELoss()
auxiliary_loss = nn.CrossEntropyLoss()          # fed softmax probabilities, as in the original
optimizer_G = torch.optim.Adam(generator.parameters(), lr=lr, betas=(b1, b2))
optimizer_D = torch.optim.Adam(discriminator.parameters(), lr=lr, betas=(b1, b2))

with common.Timer() as timer:
    for epoch, (imgs, labels) in common.batches(loader, args.steps):
        b = imgs.size(0)
        valid, fake = torch.ones(b, 1), torch.zeros(b, 1)

        # Train G first: fakes should look real and be classified as the class they were drawn for
        optimizer_G.zero_grad()
        z = torch.randn(b, latent_dim)
        gen_labels = torch.randint(0, n_classes, (b,))
        gen_imgs = generator(z, gen_labels)
        validity, pred_label = discriminator(gen_imgs)
        g_loss = 0.5 * (adversarial_loss(validity, valid) + auxiliary_loss(pred_label, gen_labels))
        g_loss.backward()
        optimizer_G.step()

        # Then D: source and class terms on real and on the same fakes (detached)
        optimizer_D.zero_grad()
        real_pred, real_aux = discriminator(imgs)
        d_real_loss = (adversarial_loss(real_pred, valid) + auxiliary_loss(real_aux, labels)) / 2
        fake_pred, fake_aux = discriminator(gen_imgs.detach())
        d_fake_loss = (adversarial_loss(fake_pred, fake) + auxiliary_loss(fake_aux, gen_labels)) / 2
        d_loss = (d_real_loss + d_fake_loss) / 2
        d_loss.backward()
        optimizer_D.step()

# samples as the original's sample_image draws them: training mode, 100 at a time, labels 0..9 in turn
labels = torch.arange(args.n) % n_classes
with torch.no_grad():
    samples = torch.cat([generator(torch.randn(len(y), latent_dim), y) for y in labels.split(100)])
common.save(args, "acgan", REFERENCE, timer.seconds, samples=samples, labels=labels)
