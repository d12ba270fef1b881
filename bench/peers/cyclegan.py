"""CycleGAN as in junyanz/pytorch-CycleGAN-and-pix2pix, on ganrun's built-in digits2bold.

Original: junyanz/pytorch-CycleGAN-and-pix2pix@48ced5e8e3af621acca066a70203a196ba571bed:models/cycle_gan_model.py
(nets from models/networks.py at the same commit: junyanz_networks.py here), with the defaults of
options/base_options.py and train_options.py: netG resnet_9blocks, no dropout, norm instance
(no affine, no running statistics), netD basic (70x70 PatchGAN, n_layers 3), ngf = ndf = 64,
init normal 0.02, gan_mode lsgan (MSE against 1 / 0 on the patch map), pool_size 50 per D,
lambda_A = lambda_B = 10, lambda_identity 0.5, batch size 1, Adam lr 2e-4 betas (0.5, 0.999)
(one optimizer over G_A and G_B, one over D_A and D_B), lr_policy linear (constant for
n_epochs 100, then linear to 0 over n_epochs_decay 100; epoch_count 1).

One step, as optimize_parameters: forward fake_B = G_A(A), rec_A = G_B(fake_B), fake_A = G_B(B),
rec_B = G_A(fake_A); G step with both Ds frozen:
  MSE(D_A(fake_B), 1) + MSE(D_B(fake_A), 1) + 10 |rec_A - A|_1 + 10 |rec_B - B|_1
  + 0.5 * 10 |G_A(B) - B|_1 + 0.5 * 10 |G_B(A) - A|_1;
then D step: D_A on B (1) and on a fake_B from its pool (0), D_B on A (1) and on a fake_A from its
pool (0), each D's loss halved, one optimizer step for both.

Deliberate differences from the original (nothing else differs):
- Data: ganrun's `digits2bold` (dataset=unpaired, name digits2bold): A = digits, B = bold
  digits from a disjoint half of the training digits, 32x32, 1 channel, in [-1, 1]. As the
  original's unaligned loader: epochs of max(|A|, |B|) shuffled A images, each with a B image
  drawn uniformly at random, batch 1; the original's resize 286 / crop 256 / flip is not used
  (ganrun's images are used as they are). Training length is --steps iterations instead of 200
  epochs; the learning-rate rule is applied per epoch as there (short runs never reach the decay).
- Image size (forced by the data): the ResNet generator is the original's with 6 residual blocks
  (resnet_6blocks) instead of the default 9: the CycleGAN paper uses 6 blocks for 128x128
  training images and 9 for 256x256 and up, so the smaller count is the one its rule gives for
  small images; at 32 px the two stride-2 convs leave an 8x8 bottleneck that 6 blocks already
  cover many times over. The PatchGAN is unchanged (a 2x2 map at 32x32).
- Translations: test.py runs G without model.eval() and batch size 1; with instance norm and no
  dropout the mode and the batch size change nothing, so the held-out images are translated in
  chunks, in training mode, without gradients: samples = G_A(held-out A), reverse =
  G_B(held-out B), reconstruction = G_B(G_A(A)), reverse_reconstruction = G_A(G_B(B)).
"""

import itertools
import random

import torch
import torch.nn as nn

import common
import junyanz_networks as nets

REFERENCE = ("junyanz/pytorch-CycleGAN-and-pix2pix@48ced5e8e3af621acca066a70203a196ba571bed:"
             "models/cycle_gan_model.py")

args = common.parse_args(__doc__.splitlines()[0], batch_size=1)
data = common.dataset({"type": "unpaired", "name": "digits2bold"})
train = data.reference(None)                    # source = domain A images, x = domain B images
test = data.heldout().reference(None)
A, B = train.source, train.x
loader = common.loader((torch.arange(max(len(A), len(B))),), args.batch_size, args.seed)

input_nc, output_nc = A.shape[1], B.shape[1]
lr, beta1 = 2e-4, 0.5
lambda_A, lambda_B, lambda_idt = 10.0, 10.0, 0.5
n_epochs, n_epochs_decay, epoch_count = 100, 100, 1
n_blocks = 6

# naming as in the code: G_A: A -> B, G_B: B -> A, D_A judges B images, D_B judges A images
netG_A = nets.resnet(input_nc, output_nc, n_blocks, ngf=64, norm="instance", use_dropout=False)
netG_B = nets.resnet(output_nc, input_nc, n_blocks, ngf=64, norm="instance", use_dropout=False)
netD_A = nets.patchgan(output_nc, ndf=64, n_layers=3, norm="instance")
netD_B = nets.patchgan(input_nc, ndf=64, n_layers=3, norm="instance")
fake_A_pool, fake_B_pool = nets.ImagePool(50), nets.ImagePool(50)
criterionGAN = nets.GANLoss("lsgan")
criterionCycle, criterionIdt = nn.L1Loss(), nn.L1Loss()
optimizer_G = torch.optim.Adam(itertools.chain(netG_A.parameters(), netG_B.parameters()), lr=lr, betas=(beta1, 0.999))
optimizer_D = torch.optim.Adam(itertools.chain(netD_A.parameters(), netD_B.parameters()), lr=lr, betas=(beta1, 0.999))


def set_lr(epoch):
    """lr_policy linear: 1 - max(0, epoch + epoch_count - n_epochs) / (n_epochs_decay + 1)."""
    for opt in (optimizer_G, optimizer_D):
        for group in opt.param_groups:
            group["lr"] = lr * (1.0 - max(0, epoch + epoch_count - n_epochs) / float(n_epochs_decay + 1))


def backward_D_basic(netD, real, fake):
    loss_D = (criterionGAN(netD(real), True) + criterionGAN(netD(fake.detach()), False)) * 0.5
    loss_D.backward()
    return loss_D


with common.Timer() as timer:
    for epoch, (index,) in common.batches(loader, args.steps):
        set_lr(epoch)
        real_A = A[index % len(A)]
        real_B = B[[random.randint(0, len(B) - 1) for _ in index]]   # unaligned: a random B per A

        fake_B = netG_A(real_A)
        rec_A = netG_B(fake_B)
        fake_A = netG_B(real_B)
        rec_B = netG_A(fake_A)

        # G_A and G_B, with both Ds frozen
        for net in (netD_A, netD_B):
            net.requires_grad_(False)
        optimizer_G.zero_grad()
        loss_idt_A = criterionIdt(netG_A(real_B), real_B) * lambda_B * lambda_idt
        loss_idt_B = criterionIdt(netG_B(real_A), real_A) * lambda_A * lambda_idt
        loss_G_A = criterionGAN(netD_A(fake_B), True)
        loss_G_B = criterionGAN(netD_B(fake_A), True)
        loss_cycle_A = criterionCycle(rec_A, real_A) * lambda_A
        loss_cycle_B = criterionCycle(rec_B, real_B) * lambda_B
        loss_G = loss_G_A + loss_G_B + loss_cycle_A + loss_cycle_B + loss_idt_A + loss_idt_B
        loss_G.backward()
        optimizer_G.step()

        # D_A and D_B, on fakes drawn through the pools of the 50 latest
        for net in (netD_A, netD_B):
            net.requires_grad_(True)
        optimizer_D.zero_grad()
        backward_D_basic(netD_A, real_B, fake_B_pool.query(fake_B))
        backward_D_basic(netD_B, real_A, fake_A_pool.query(fake_A))
        optimizer_D.step()

with torch.no_grad():
    # the first n held-out images of each side, n the smaller count (179 A, 180 B): one reverse
    # translation per sample, as `ganrun-eval --dataset` pairs them (and as a ganrun run evaluates)
    n = min(len(test.source), len(test.x))
    fake_B = torch.cat([netG_A(a) for a in test.source[:n].split(64)])
    fake_A = torch.cat([netG_B(b) for b in test.x[:n].split(64)])
    rec_A = torch.cat([netG_B(b) for b in fake_B.split(64)])
    rec_B = torch.cat([netG_A(a) for a in fake_A.split(64)])
common.save(args, "cyclegan", REFERENCE, timer.seconds, samples=fake_B, reverse=fake_A,
            reconstruction=rec_A, reverse_reconstruction=rec_B)
