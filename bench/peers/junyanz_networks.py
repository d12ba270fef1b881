"""The networks of junyanz/pytorch-CycleGAN-and-pix2pix (models/networks.py), written anew.

Read at junyanz/pytorch-CycleGAN-and-pix2pix@48ced5e8e3af621acca066a70203a196ba571bed:models/networks.py.
Used by pix2pix.py and cyclegan.py. Same layers, sizes, biases and init as there:
- norm 'batch' = BatchNorm2d (affine, running stats); 'instance' = InstanceNorm2d without affine
  parameters or running statistics. Convolutions next to a norm have a bias only when the norm
  is instance norm (PatchGAN: whenever the norm is not batch norm).
- init 'normal', gain 0.02: every Conv*/Linear weight N(0, 0.02), bias 0; BatchNorm2d weight
  N(1, 0.02), bias 0.
- The activations are in-place, as there. In the U-Net this has a visible effect that is kept:
  a level's first op is an in-place LeakyReLU on its input x, so the skip torch.cat([x, model(x)])
  carries LeakyReLU(x), not x.
Nothing differs; the U-Net's depth and the ResNet's block count are arguments, as there.
"""

import random

import torch
import torch.nn as nn


def norm_layer(kind):
    return {"batch": lambda c: nn.BatchNorm2d(c, affine=True, track_running_stats=True),
            "instance": lambda c: nn.InstanceNorm2d(c, affine=False, track_running_stats=False)}[kind]


def init_weights(net, gain=0.02):
    def init(m):
        name = m.__class__.__name__
        if hasattr(m, "weight") and ("Conv" in name or "Linear" in name):
            nn.init.normal_(m.weight, 0.0, gain)
            if getattr(m, "bias", None) is not None:
                nn.init.zeros_(m.bias)
        elif "BatchNorm2d" in name:
            nn.init.normal_(m.weight, 1.0, gain)
            nn.init.zeros_(m.bias)
    net.apply(init)
    return net


class UnetBlock(nn.Module):
    """One level of the U-Net: down, the inner levels, up; the output joins the input (skip)."""

    def __init__(self, outer_nc, inner_nc, input_nc=None, submodule=None, outermost=False, innermost=False,
                 norm="batch", use_dropout=False):
        super().__init__()
        self.outermost = outermost
        Norm, bias = norm_layer(norm), norm == "instance"
        input_nc = outer_nc if input_nc is None else input_nc
        downconv = nn.Conv2d(input_nc, inner_nc, kernel_size=4, stride=2, padding=1, bias=bias)
        if outermost:       # no norm, no activation before the first conv; tanh out
            upconv = nn.ConvTranspose2d(inner_nc * 2, outer_nc, kernel_size=4, stride=2, padding=1)
            layers = [downconv, submodule, nn.ReLU(True), upconv, nn.Tanh()]
        elif innermost:     # the bottleneck: no norm after its down conv, nothing inside
            upconv = nn.ConvTranspose2d(inner_nc, outer_nc, kernel_size=4, stride=2, padding=1, bias=bias)
            layers = [nn.LeakyReLU(0.2, True), downconv, nn.ReLU(True), upconv, Norm(outer_nc)]
        else:
            upconv = nn.ConvTranspose2d(inner_nc * 2, outer_nc, kernel_size=4, stride=2, padding=1, bias=bias)
            layers = [nn.LeakyReLU(0.2, True), downconv, Norm(inner_nc), submodule,
                      nn.ReLU(True), upconv, Norm(outer_nc)]
            if use_dropout:
                layers.append(nn.Dropout(0.5))
        self.model = nn.Sequential(*layers)

    def forward(self, x):
        return self.model(x) if self.outermost else torch.cat([x, self.model(x)], 1)


def unet(input_nc, output_nc, num_downs, ngf=64, norm="batch", use_dropout=False):
    """UnetGenerator: num_downs halvings down to 1x1 (unet_256: 8, unet_128: 7)."""
    block = UnetBlock(ngf * 8, ngf * 8, innermost=True, norm=norm)
    for _ in range(num_downs - 5):      # the ngf*8 levels: the only ones with dropout
        block = UnetBlock(ngf * 8, ngf * 8, submodule=block, norm=norm, use_dropout=use_dropout)
    block = UnetBlock(ngf * 4, ngf * 8, submodule=block, norm=norm)
    block = UnetBlock(ngf * 2, ngf * 4, submodule=block, norm=norm)
    block = UnetBlock(ngf, ngf * 2, submodule=block, norm=norm)
    return init_weights(UnetBlock(output_nc, ngf, input_nc=input_nc, submodule=block, outermost=True, norm=norm))


class ResnetBlock(nn.Module):
    """x + [reflect-pad, conv3x3, norm, ReLU, (dropout), reflect-pad, conv3x3, norm](x)."""

    def __init__(self, dim, norm, use_dropout):
        super().__init__()
        Norm, bias = norm_layer(norm), norm == "instance"
        layers = [nn.ReflectionPad2d(1), nn.Conv2d(dim, dim, 3, bias=bias), Norm(dim), nn.ReLU(True)]
        if use_dropout:
            layers.append(nn.Dropout(0.5))
        layers += [nn.ReflectionPad2d(1), nn.Conv2d(dim, dim, 3, bias=bias), Norm(dim)]
        self.conv_block = nn.Sequential(*layers)

    def forward(self, x):
        return x + self.conv_block(x)


def resnet(input_nc, output_nc, n_blocks, ngf=64, norm="instance", use_dropout=False):
    """ResnetGenerator: c7s1-64, two stride-2 convs, n_blocks residual blocks, two stride-2
    transposed convs, c7s1 to output_nc, tanh (resnet_9blocks / resnet_6blocks)."""
    Norm, bias = norm_layer(norm), norm == "instance"
    layers = [nn.ReflectionPad2d(3), nn.Conv2d(input_nc, ngf, 7, bias=bias), Norm(ngf), nn.ReLU(True)]
    for i in range(2):
        mult = 2 ** i
        layers += [nn.Conv2d(ngf * mult, ngf * mult * 2, 3, stride=2, padding=1, bias=bias),
                   Norm(ngf * mult * 2), nn.ReLU(True)]
    layers += [ResnetBlock(ngf * 4, norm, use_dropout) for _ in range(n_blocks)]
    for i in range(2):
        mult = 2 ** (2 - i)
        layers += [nn.ConvTranspose2d(ngf * mult, ngf * mult // 2, 3, stride=2, padding=1, output_padding=1,
                                      bias=bias),
                   Norm(ngf * mult // 2), nn.ReLU(True)]
    layers += [nn.ReflectionPad2d(3), nn.Conv2d(ngf, output_nc, 7), nn.Tanh()]
    return init_weights(nn.Sequential(*layers))


def patchgan(input_nc, ndf=64, n_layers=3, norm="batch"):
    """NLayerDiscriminator ('basic' = n_layers 3, the 70x70 PatchGAN): a map of raw scores."""
    Norm, bias = norm_layer(norm), norm != "batch"
    layers = [nn.Conv2d(input_nc, ndf, 4, stride=2, padding=1), nn.LeakyReLU(0.2, True)]
    mult = 1
    for n in range(1, n_layers):
        prev, mult = mult, min(2 ** n, 8)
        layers += [nn.Conv2d(ndf * prev, ndf * mult, 4, stride=2, padding=1, bias=bias), Norm(ndf * mult),
                   nn.LeakyReLU(0.2, True)]
    prev, mult = mult, min(2 ** n_layers, 8)
    layers += [nn.Conv2d(ndf * prev, ndf * mult, 4, stride=1, padding=1, bias=bias), Norm(ndf * mult),
               nn.LeakyReLU(0.2, True),
               nn.Conv2d(ndf * mult, 1, 4, stride=1, padding=1)]
    return init_weights(nn.Sequential(*layers))


class GANLoss(nn.Module):
    """'vanilla': BCE-with-logits, 'lsgan': MSE, against a target map of 1s (real) or 0s (fake)."""

    def __init__(self, mode):
        super().__init__()
        self.loss = {"vanilla": nn.BCEWithLogitsLoss(), "lsgan": nn.MSELoss()}[mode]

    def forward(self, prediction, target_is_real):
        return self.loss(prediction, torch.full_like(prediction, 1.0 if target_is_real else 0.0))


class ImagePool:
    """util/image_pool.py: the last `size` fakes; once full, each new fake is, with p 1/2, swapped
    for a random stored one (which is returned instead), else returned as is."""

    def __init__(self, size):
        self.size, self.images = size, []

    def query(self, images):
        if self.size == 0:
            return images
        out = []
        for image in images.detach():
            image = image.unsqueeze(0)
            if len(self.images) < self.size:
                self.images.append(image)
                out.append(image)
            elif random.uniform(0, 1) > 0.5:
                i = random.randint(0, self.size - 1)
                out.append(self.images[i].clone())
                self.images[i] = image
            else:
                out.append(image)
        return torch.cat(out, 0)
