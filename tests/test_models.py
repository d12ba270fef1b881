"""Model shapes and construction rules (GAN_NOTES §3)."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from ganrun.errors import ConfigError
from ganrun.models import dcgan, mlp


@pytest.mark.parametrize("resolution", [8, 16, 32, 64, 128])
@pytest.mark.parametrize("channels", [1, 3])
def test_dcgan_shapes_for_every_resolution_and_channel_count(resolution, channels):
    G, D = dcgan.build(latent_dim=16, g_width=8, d_width=8, g_norm="auto", d_norm="auto", leak=0.2,
                       code_dim=8, attention=0, data_shape=(channels, resolution, resolution))
    x = G(torch.randn(2, 16))
    assert x.shape == (2, channels, resolution, resolution)
    assert x.abs().max() <= 1, "tanh output"
    assert D(x).shape == (2,)
    n = dcgan.stages(resolution)
    convs = [m for m in G.modules() if isinstance(m, nn.ConvTranspose2d)]
    assert len(convs) == n + 1, "4x4 from z, then one 2x up-sampling per stage"
    assert not any(isinstance(m, (nn.MaxPool2d, nn.AvgPool2d, nn.Linear)) for m in [*G.modules(), *D.modules()])


def test_dcgan_follows_the_guidelines():
    G, D = dcgan.build(latent_dim=100, g_width=64, d_width=64, g_norm="auto", d_norm="auto", leak=0.2,
                       code_dim=8, attention=0, data_shape=(3, 64, 64))
    g_layers, d_layers = list(G.net), list(D.net)
    # batch norm in both, but not on G's output or D's input
    assert isinstance(g_layers[-1], nn.Tanh) and isinstance(g_layers[-2], nn.ConvTranspose2d)
    assert isinstance(d_layers[0], nn.Conv2d) and isinstance(d_layers[1], nn.LeakyReLU)
    assert sum(isinstance(m, nn.BatchNorm2d) for m in G.modules()) == 4
    assert sum(isinstance(m, nn.BatchNorm2d) for m in D.modules()) == 3
    assert all(isinstance(m, nn.ReLU) for m in G.modules() if isinstance(m, (nn.ReLU, nn.LeakyReLU)))
    assert all(m.negative_slope == 0.2 for m in D.modules() if isinstance(m, nn.LeakyReLU))
    assert not any(isinstance(m, nn.Sigmoid) for m in D.modules()), "the loss owns the link function"
    # the classic channel progression: 512, 256, 128, 64 in G; 64, 128, 256, 512 in D
    assert [m.out_channels for m in G.modules() if isinstance(m, nn.ConvTranspose2d)] == [512, 256, 128, 64, 3]
    assert [m.out_channels for m in D.modules() if isinstance(m, nn.Conv2d)] == [64, 128, 256, 512, 1]


def test_dcgan_weights_are_drawn_from_n_0_002():
    G, D = dcgan.build(latent_dim=100, g_width=64, d_width=64, g_norm="batch", d_norm="batch", leak=0.2,
                       code_dim=8, attention=0, data_shape=(3, 64, 64))
    weights = torch.cat([m.weight.detach().flatten() for m in [*G.modules(), *D.modules()]
                         if isinstance(m, (nn.Conv2d, nn.ConvTranspose2d))])
    assert abs(weights.mean()) < 1e-3 and float(weights.std()) == pytest.approx(0.02, rel=0.02)
    scales = torch.cat([m.weight.detach() for m in G.modules() if isinstance(m, nn.BatchNorm2d)])
    assert float(scales.mean()) == pytest.approx(1.0, abs=0.01)


@pytest.mark.parametrize("norm,layer", [("batch", nn.BatchNorm2d), ("layer", nn.GroupNorm),
                                        ("instance", nn.InstanceNorm2d)])
def test_dcgan_normalisation_choices(norm, layer):
    G, D = dcgan.build(latent_dim=8, g_width=8, d_width=8, g_norm=norm, d_norm=norm, leak=0.2,
                       code_dim=8, attention=0, data_shape=(1, 32, 32))
    assert any(isinstance(m, layer) for m in G.modules()) and any(isinstance(m, layer) for m in D.modules())
    if norm == "layer":
        assert all(m.num_groups == 1 for m in D.modules() if isinstance(m, nn.GroupNorm)), "per-sample"


def test_spectral_and_no_normalisation():
    G, D = dcgan.build(latent_dim=8, g_width=8, d_width=8, g_norm="none", d_norm="spectral", leak=0.2,
                       code_dim=8, attention=0, data_shape=(1, 16, 16))
    norms = (nn.BatchNorm2d, nn.GroupNorm, nn.InstanceNorm2d)
    assert not any(isinstance(m, norms) for m in [*G.modules(), *D.modules()])
    convs = [m for m in D.modules() if isinstance(m, nn.Conv2d)]
    assert all(hasattr(m, "parametrizations") and "weight" in m.parametrizations for m in convs)
    D(G(torch.randn(2, 8)))
    # spectral norm keeps each conv's largest singular value near 1 after a few power iterations
    for _ in range(20):
        D(torch.randn(4, 1, 16, 16))
    D.eval()
    w = convs[1].weight.detach().flatten(1)
    assert float(torch.linalg.matrix_norm(w, ord=2)) == pytest.approx(1.0, abs=0.1)


def test_d_norm_auto_follows_the_loss():
    _, D = dcgan.build(latent_dim=8, g_width=8, d_width=8, g_norm="auto", d_norm="auto", leak=0.2,
                       code_dim=8, attention=0, data_shape=(1, 16, 16), preferred_d_norm="layer")
    assert any(isinstance(m, nn.GroupNorm) for m in D.modules())
    assert not any(isinstance(m, nn.BatchNorm2d) for m in D.modules())


def test_dcgan_autoencoder_form_scores_reconstruction_error():
    G, D = dcgan.build(latent_dim=8, g_width=8, d_width=8, g_norm="auto", d_norm="none", leak=0.2,
                       code_dim=16, attention=0, data_shape=(3, 32, 32), autoencoder=True)
    x = torch.randn(5, 3, 32, 32)
    recon = D.autoencoder(x)
    assert recon.shape == x.shape
    assert torch.allclose(D(x), (x - recon).abs().flatten(1).mean(1))


def test_packing_multiplies_d_input_channels():
    _, D = dcgan.build(latent_dim=8, g_width=8, d_width=8, g_norm="auto", d_norm="auto", leak=0.2,
                       code_dim=8, attention=0, data_shape=(1, 16, 16), pack=4)
    assert D(torch.randn(2, 4, 16, 16)).shape == (2,)
    _, D = mlp.build(8, [16], [16], "relu", "leaky_relu", 0.2, "none", "none", 5, 0.0, data_shape=(2,), pack=3)
    assert D(torch.randn(5, 6)).shape == (5,)


def test_dcgan_refuses_unsupported_shapes():
    with pytest.raises(ConfigError, match="resolutions 8, 16, 32, 64, 128 and 256, not 48"):
        dcgan.build(8, 8, 8, "auto", "auto", 0.2, 8, 0, data_shape=(3, 48, 48))
    with pytest.raises(ConfigError, match="use model=mlp for toy data"):
        dcgan.build(8, 8, 8, "auto", "auto", 0.2, 8, 0, data_shape=(2,))


def test_the_notes_anime_pair():
    G, D = dcgan.build_notes(latent_dim=100, leak=0.2, data_shape=(3, 64, 64))
    x = G(torch.randn(2, 100))
    assert x.shape == (2, 3, 64, 64)
    assert D(x).shape == (2,)
    g_convs = [m for m in G.modules() if isinstance(m, nn.ConvTranspose2d)]
    assert [m.out_channels for m in g_convs] == [512, 256, 128, 64, 3]
    assert all(m.bias is None for m in g_convs), "no biases in the notes' G"
    d_convs = [m for m in D.modules() if isinstance(m, nn.Conv2d)]
    assert [(m.out_channels, m.kernel_size, m.stride) for m in d_convs] == [
        (64, (4, 4), (2, 2)), (128, (4, 4), (2, 2)), (256, (4, 4), (2, 2)),
        (512, (3, 3), (1, 1)), (1024, (3, 3), (1, 1))]
    assert isinstance(D.fc, nn.Linear) and D.fc.out_features == 1
    with pytest.raises(ConfigError, match="dataset.resolution=64"):
        dcgan.build_notes(latent_dim=100, leak=0.2, data_shape=(3, 32, 32))


def test_mlp_flattens_images_and_has_an_autoencoder_form():
    G, D = mlp.build(8, [32], [32, 16], "relu", "leaky_relu", 0.2, "tanh", "none", 5, 0.0, data_shape=(1, 8, 8))
    x = G(torch.randn(3, 8))
    assert x.shape == (3, 1, 8, 8) and D(x).shape == (3,)
    _, AE = mlp.build(8, [32], [32, 16], "relu", "leaky_relu", 0.2, "none", "none", 5, 0.0, data_shape=(2,),
                      autoencoder=True)
    v = torch.randn(4, 2)
    assert torch.allclose(AE(v), (v - AE.autoencoder(v)).abs().mean(1))
