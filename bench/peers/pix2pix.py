"""pix2pix as in junyanz/pytorch-CycleGAN-and-pix2pix, on ganrun's built-in edges2digits.

Original: junyanz/pytorch-CycleGAN-and-pix2pix@48ced5e8e3af621acca066a70203a196ba571bed:models/pix2pix_model.py
(nets from models/networks.py at the same commit: junyanz_networks.py here), with the defaults of
options/base_options.py and train_options.py and pix2pix's overrides: netG unet_256, norm batch,
dropout on, netD basic (70x70 PatchGAN, n_layers 3), ngf = ndf = 64, init normal 0.02,
gan_mode vanilla (BCE with logits on the patch map), pool_size 0, lambda_L1 100, batch size 1,
Adam lr 2e-4 betas (0.5, 0.999) for G and D, lr_policy linear (constant for n_epochs 100, then
linear to 0 over n_epochs_decay 100; epoch_count 1).

One step, as optimize_parameters: fake_B = G(A) once; D step: 0.5 * (BCE(D([A, fake_B].detach()), 0)
+ BCE(D([A, B]), 1)); then G step with D frozen: BCE(D([A, fake_B]), 1) + 100 * L1(fake_B, B).
D sees input and output stacked on channels. The U-Net's activations are in-place as there, so
each skip carries the LeakyReLU of a level's input (see junyanz_networks.py).

Deliberate differences from the original (nothing else differs):
- Data: ganrun's `edges2digits` (dataset=paired, name edges2digits): A = a digit's outline,
  B = the digit, 32x32, 1 channel, in [-1, 1]; the 1 438 training pairs, iterated in shuffled
  epochs of batch 1 (drop_last, trivially). The original's loading (resize to 286, random 256
  crop, random flip) is not used: ganrun's pairs are used as they are (digits must not flip).
  Training length is --steps iterations instead of 200 epochs; the learning-rate rule is
  applied per epoch as there (decay would start after epoch 100, so short runs never reach it).
- Image size (forced by the data): a U-Net of num_downs = 5 (32 -> 1 at the bottleneck, as
  unet_256 has 8 for 256 px). Its levels are those of unet_256 without the three extra
  ngf*8 levels, and those are the only levels that carry dropout: this U-Net has no dropout.
  The PatchGAN is unchanged; at 32x32 it gives a 2x2 map whose receptive field (70 px) covers
  the whole image.
- Translations: test.py runs G without model.eval() (opt.eval is off by default: batch norm on
  the test image's own statistics, dropout on) with batch size 1; so do we, one held-out
  source at a time, in held-out order, without gradients.
"""

import torch
import torch.nn as nn

import common
import junyanz_networks as nets

REFERENCE = ("junyanz/pytorch-CycleGAN-and-pix2pix@48ced5e8e3af621acca066a70203a196ba571bed:"
             "models/pix2pix_model.py")

args = common.parse_args(__doc__.splitlines()[0], batch_size=1)
data = common.dataset({"type": "paired", "name": "edges2digits"})
train = data.reference(None)                    # source = A (outlines), x = B (digits), aligned
test = data.heldout().reference(None)
loader = common.loader((train.source, train.x), args.batch_size, args.seed)

input_nc, output_nc = train.source.shape[1], train.x.shape[1]
lr, beta1, lambda_L1 = 2e-4, 0.5, 100.0
n_epochs, n_epochs_decay, epoch_count = 100, 100, 1

netG = nets.unet(input_nc, output_nc, num_downs=5, ngf=64, norm="batch", use_dropout=True)
netD = nets.patchgan(input_nc + output_nc, ndf=64, n_layers=3, norm="batch")
criterionGAN = nets.GANLoss("vanilla")
criterionL1 = nn.L1Loss()
optimizer_G = torch.optim.Adam(netG.parameters(), lr=lr, betas=(beta1, 0.999))
optimizer_D = torch.optim.Adam(netD.parameters(), lr=lr, betas=(beta1, 0.999))


def set_lr(epoch):
    """lr_policy linear: 1 - max(0, epoch + epoch_count - n_epochs) / (n_epochs_decay + 1)."""
    for opt in (optimizer_G, optimizer_D):
        for group in opt.param_groups:
            group["lr"] = lr * (1.0 - max(0, epoch + epoch_count - n_epochs) / float(n_epochs_decay + 1))


with common.Timer() as timer:
    for epoch, (real_A, real_B) in common.batches(loader, args.steps):
        set_lr(epoch)
        fake_B = netG(real_A)

        # update D (pool_size 0: the fakes as they are); D's loss halved
        netD.requires_grad_(True)
        optimizer_D.zero_grad()
        loss_D_fake = criterionGAN(netD(torch.cat((real_A, fake_B), 1).detach()), False)
        loss_D_real = criterionGAN(netD(torch.cat((real_A, real_B), 1)), True)
        loss_D = (loss_D_fake + loss_D_real) * 0.5
        loss_D.backward()
        optimizer_D.step()

        # update G with D frozen: fool D, and stay close to B in L1
        netD.requires_grad_(False)
        optimizer_G.zero_grad()
        loss_G_GAN = criterionGAN(netD(torch.cat((real_A, fake_B), 1)), True)
        loss_G_L1 = criterionL1(fake_B, real_B) * lambda_L1
        loss_G = loss_G_GAN + loss_G_L1
        loss_G.backward()
        optimizer_G.step()

# as test.py: no eval(), batch size 1, the held-out sources in order
with torch.no_grad():
    samples = torch.cat([netG(a[None]) for a in test.source])
common.save(args, "pix2pix", REFERENCE, timer.seconds, samples=samples)
