"""InfoGAN as in eriklindernoren/PyTorch-GAN, on ganrun's 32x32 digits.

Original: eriklindernoren/PyTorch-GAN@36d3c77e5ff20ebe0aeefd322326a134a279b93e:implementations/infogan/infogan.py
(62 noise dims N(0, 1), a 10-way categorical code (one-hot), 2 continuous codes U(-1, 1),
32x32x1 images, batch 64, Adam lr 2e-4 betas (0.5, 0.999)).

Nets, as there:
- G: [z, one-hot code, continuous codes] (74) -> Linear to 128 x 8 x 8 -> BN(128) -> upsample x2
  -> conv3x3 128 -> BN(128, eps 0.8) -> LReLU(0.2) -> upsample x2 -> conv3x3 64 -> BN(64, eps 0.8)
  -> LReLU -> conv3x3 to 1 channel -> tanh.
- D (with Q as extra heads on the same body): 4 blocks [conv3x3 stride 2, LReLU(0.2),
  Dropout2d(0.25), BN(eps 0.8) except in the first], 16-32-64-128 channels; heads on the 512
  features: Linear 1 (raw, for the least-squares loss), Linear 10 + softmax (categorical code),
  Linear 2 (continuous codes).
- Init (weights_init_normal): Conv weights N(0, 0.02); BatchNorm weights N(1, 0.02), biases 0;
  Linear layers keep PyTorch's defaults.
- Three Adam optimizers: G's, D's, and an "info" optimizer over G's and D's parameters together
  (its own moment estimates).
- One iteration: (1) G step: MSE(D(G(z, c)), 1); (2) D step: (MSE(D(x), 1) + MSE(D(fakes of
  step 1, detached), 0)) / 2; (3) info step on a fresh draw of z and codes:
  lambda_cat * CE(Q_cat(G(z, c)), c_cat) + lambda_con * MSE(Q_con(G(z, c)), c_con) with
  lambda_cat = 1, lambda_con = 0.1, back-propagated into both G and D (incl. D's body), stepped
  by the info optimizer. CrossEntropyLoss is applied to the softmax output (a second
  log-softmax inside the loss, as in the original).

Deliberate differences from the original (nothing else differs):
- Data: ganrun's `digits` option (1 438 training images of scikit-learn's digits resized to
  32x32, 1 channel, in [-1, 1]; labels unused, as there) instead of torchvision MNIST resized to
  32; a shuffled DataLoader with drop_last=True (the original keeps the short last batch).
  Training length is --steps iterations (each one G update) instead of --n_epochs. No size
  adaptation was needed.
- Noise and codes come from torch's RNG instead of numpy's (same distributions).
- `nn.Softmax()` there (implicit dim, 1 for these 2-D inputs) is written dim=1 here.
- Samples: G in training mode (BN batch statistics), as the original's sample_image runs it,
  100 at a time; the categorical code of sample i is i % 10 (saved as codes.npy), z ~ N(0, 1)
  and the continuous codes are drawn from their prior U(-1, 1) (the original's "static" grid
  sets them to 0 instead; its "varying" grids sweep them over linspace(-1, 1, 10)).
"""

import itertools

import torch
import torch.nn as nn
import torch.nn.functional as F

import common

REFERENCE = ("eriklindernoren/PyTorch-GAN@36d3c77e5ff20ebe0aeefd322326a134a279b93e:"
             "implementations/infogan/infogan.py")

args = common.parse_args(__doc__.splitlines()[0], batch_size=64)
data = common.dataset({"type": "digits", "resolution": 32})
real = data.reference(None)                     # x (N, 1, 32, 32) in [-1, 1]
loader = common.loader((real.x, real.y), args.batch_size, args.seed)

latent_dim, n_classes, code_dim = 62, 10, 2
channels, img_size = real.x.shape[1], real.x.shape[2]
lr, b1, b2 = 2e-4, 0.5, 0.999
lambda_cat, lambda_con = 1, 0.1


def weights_init_normal(m):
    name = m.__class__.__name__
    if "Conv" in name:
        nn.init.normal_(m.weight, 0.0, 0.02)
    elif "BatchNorm" in name:
        nn.init.normal_(m.weight, 1.0, 0.02)
        nn.init.constant_(m.bias, 0.0)


class Generator(nn.Module):
    def __init__(self):
        super().__init__()
        self.init_size = img_size // 4
        self.l1 = nn.Sequential(nn.Linear(latent_dim + n_classes + code_dim, 128 * self.init_size ** 2))
        self.conv_blocks = nn.Sequential(
            nn.BatchNorm2d(128),
            nn.Upsample(scale_factor=2),
            nn.Conv2d(128, 128, 3, stride=1, padding=1), nn.BatchNorm2d(128, 0.8), nn.LeakyReLU(0.2, inplace=True),
            nn.Upsample(scale_factor=2),
            nn.Conv2d(128, 64, 3, stride=1, padding=1), nn.BatchNorm2d(64, 0.8), nn.LeakyReLU(0.2, inplace=True),
            nn.Conv2d(64, channels, 3, stride=1, padding=1), nn.Tanh())

    def forward(self, z, label_onehot, code):
        out = self.l1(torch.cat((z, label_onehot, code), -1))
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
        self.adv_layer = nn.Sequential(nn.Linear(features, 1))
        self.aux_layer = nn.Sequential(nn.Linear(features, n_classes), nn.Softmax(dim=1))
        self.latent_layer = nn.Sequential(nn.Linear(features, code_dim))

    def forward(self, img):
        out = self.conv_blocks(img).flatten(1)
        return self.adv_layer(out), self.aux_layer(out), self.latent_layer(out)


def draw(n, cat=None):
    """z ~ N(0, 1), a categorical code (one-hot) uniform over 10 unless given, codes ~ U(-1, 1)."""
    cat = torch.randint(0, n_classes, (n,)) if cat is None else cat
    return torch.randn(n, latent_dim), cat, F.one_hot(cat, n_classes).float(), torch.rand(n, code_dim) * 2 - 1


generator, discriminator = Generator(), Discriminator()
generator.apply(weights_init_normal)
discriminator.apply(weights_init_normal)
adversarial_loss = nn.MSELoss()
categorical_loss = nn.CrossEntropyLoss()
continuous_loss = nn.MSELoss()
optimizer_G = torch.optim.Adam(generator.parameters(), lr=lr, betas=(b1, b2))
optimizer_D = torch.optim.Adam(discriminator.parameters(), lr=lr, betas=(b1, b2))
optimizer_info = torch.optim.Adam(itertools.chain(generator.parameters(), discriminator.parameters()),
                                  lr=lr, betas=(b1, b2))

with common.Timer() as timer:
    for epoch, (imgs, _) in common.batches(loader, args.steps):
        b = imgs.size(0)
        valid, fake = torch.ones(b, 1), torch.zeros(b, 1)

        # (1) G: least-squares, fakes should score 1
        optimizer_G.zero_grad()
        z, _, label_input, code_input = draw(b)
        gen_imgs = generator(z, label_input, code_input)
        g_loss = adversarial_loss(discriminator(gen_imgs)[0], valid)
        g_loss.backward()
        optimizer_G.step()

        # (2) D: real -> 1, the same fakes (detached) -> 0, averaged
        optimizer_D.zero_grad()
        d_real_loss = adversarial_loss(discriminator(imgs)[0], valid)
        d_fake_loss = adversarial_loss(discriminator(gen_imgs.detach())[0], fake)
        d_loss = (d_real_loss + d_fake_loss) / 2
        d_loss.backward()
        optimizer_D.step()

        # (3) information loss on a fresh draw, into G and all of D, by the third optimizer
        optimizer_info.zero_grad()
        z, gt_labels, label_input, code_input = draw(b)
        _, pred_label, pred_code = discriminator(generator(z, label_input, code_input))
        info_loss = (lambda_cat * categorical_loss(pred_label, gt_labels)
                     + lambda_con * continuous_loss(pred_code, code_input))
        info_loss.backward()
        optimizer_info.step()

# samples: training mode as in the original's sample_image, 100 at a time, categorical code i % 10
codes = torch.arange(args.n) % n_classes
chunks = []
with torch.no_grad():
    for c in codes.split(100):
        z, _, onehot, code = draw(len(c), c)
        chunks.append(generator(z, onehot, code))
samples = torch.cat(chunks)
common.save(args, "infogan", REFERENCE, timer.seconds, samples=samples, codes=codes)
