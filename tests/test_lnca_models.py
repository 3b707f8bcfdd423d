"""LNCA autoencoder and models, baselines, registry, checkpointed BPTT, input errors."""
import pytest
import torch
from torch import nn

import nca_zoo.models  # noqa: F401  (registers the variants)
from nca_zoo._registry import create_model, list_models
from nca_zoo.models.lnca import AdjConv, LNCAAutoencoder


def test_registered_variants():
    for name in ("vitca", "lnca_vitca", "lnca_nafca", "nafnet_small", "restormer_small"):
        assert name in list_models()


def test_autoencoder_shapes_and_blocks():
    ae = LNCAAutoencoder()
    x = torch.rand(2, 3, 32, 24)
    skip, z = ae.encode(x)
    assert skip.shape == (2, 8, 16, 12) and z.shape == (2, 16, 8, 6)  # latent / 4 per side
    out = ae.decode(z, skip)
    assert out.shape == x.shape and out.min() >= 0 and out.max() <= 1  # sigmoid output
    blocks = [m for m in ae.modules() if isinstance(m, AdjConv)]
    assert len(blocks) == 6
    for b in blocks:  # conv 3x3 (no activation) -> BatchNorm -> swish / sigmoid
        assert b[0].kernel_size == (3, 3) and isinstance(b[1], nn.BatchNorm2d)
    assert isinstance(ae.out[2], nn.Sigmoid) and all(isinstance(b[2], nn.SiLU) for b in blocks[:-1])


def test_decoder_uses_the_skip_connection_and_encoder_side_channel():
    ae = LNCAAutoencoder().eval()
    x = torch.rand(1, 3, 16, 16)
    skip, z = ae.encode(x)
    assert not torch.allclose(ae.decode(z, skip), ae.decode(z, torch.zeros_like(skip)))
    with torch.no_grad():
        ae.side[0].weight.zero_()
        ae.side[0].bias.zero_()
    assert not torch.allclose(z, ae.encode(x)[1])


@pytest.mark.parametrize("name", ["lnca_vitca", "lnca_nafca"])
def test_latent_nca_bypass_is_the_autoencoder(name):
    m = create_model(name).eval()
    x = torch.rand(2, 3, 16, 16)
    assert torch.allclose(m(x, steps=0), m.autoencoder(x))
    state = m.seed(m.autoencoder.encode(x)[1])
    assert (state.shape == (2, 64, 4, 4) and torch.all(m.output(state) == 0.5)
            and torch.all(m.hidden(state) == 0))


@pytest.mark.parametrize("name", ["lnca_vitca", "lnca_nafca"])
def test_residual_readout_adds_the_decoded_latent_change_to_the_input(name):
    decode = create_model(name).eval()
    residual = create_model(name, readout="residual").eval()
    residual.load_state_dict(decode.state_dict())  # same weights: only the read-out differs
    x = torch.rand(2, 3, 16, 16)
    ae = residual.autoencoder
    skip, z = ae.encode(x)
    state = residual.seed(z)  # output channels start at the input latent ...
    assert torch.equal(residual.output(state), z) and torch.all(residual.hidden(state) == 0)
    # ... so an NCA that leaves the latent unchanged returns the input exactly
    assert torch.allclose(residual.read_out(x, state, skip), x, atol=1e-6)
    state[:, 16:32] = z + 0.3  # otherwise: input + D(output) - D(z)
    expected = x + ae.decode(z + 0.3, skip) - ae.decode(z, skip)
    assert torch.allclose(residual.read_out(x, state, skip), expected, atol=1e-6)
    assert torch.allclose(decode.read_out(x, state, skip), ae.decode(z + 0.3, skip))
    with torch.no_grad():  # forward() uses the read-out (same rollout: same seed of the masks)
        torch.manual_seed(0)
        out = residual(x, steps=2)
        torch.manual_seed(0)
        state = residual.automaton(residual.seed(z), 2)
    assert torch.allclose(out, residual.read_out(x, state, skip), atol=1e-6)
    with pytest.raises(ValueError, match="readout must be one of"):
        create_model(name, readout="add")


def test_pixel_vitca_keeps_its_input_channels():
    m = create_model("vitca", embed_dim=16, mlp_dim=8, hidden_channels=4, update_rate=1.0)
    x = torch.rand(1, 3, 8, 8)
    for p in m.cell.head.parameters():
        nn.init.normal_(p)
    state = m.automaton(m.seed(x), 3)
    assert (torch.equal(state[:, :3], x)
            and not torch.allclose(m.output(state), torch.full_like(x, 0.5)))


@pytest.mark.parametrize("name", ["nafnet_small", "restormer_small"])
def test_baselines_any_size(name):
    m = create_model(name)
    x = torch.rand(1, 3, 20, 28)
    assert m(x).shape == x.shape


def test_baseline_blocks():
    from nca_zoo.models.nafnet import NAFBlock
    from nca_zoo.models.restormer import GDFN, MDTA

    net = create_model("nafnet_small")
    assert any(isinstance(m, NAFBlock) for m in net.modules())
    assert any(isinstance(m, nn.AdaptiveAvgPool2d) for m in net.modules())  # SCA (global)
    rest = create_model("restormer_small")
    assert (any(isinstance(m, MDTA) for m in rest.modules())
            and any(isinstance(m, GDFN) for m in rest.modules()))
    # MDTA attention map is C x C per head (transposed attention), independent of the image size
    att = MDTA(8, heads=2)
    seen = []
    orig = torch.Tensor.softmax

    def spy(t, *a, **k):
        seen.append(t.shape)
        return orig(t, *a, **k)

    torch.Tensor.softmax = spy
    try:
        att(torch.rand(1, 8, 32, 32))
    finally:
        torch.Tensor.softmax = orig
    assert seen == [torch.Size([1, 2, 4, 4])]


@pytest.mark.parametrize("name,kw", [
    ("lnca_nafca", {"embed_dim": 16}),
    ("lnca_vitca", {"embed_dim": 16, "mlp_dim": 8}),
    ("vitca", {"embed_dim": 16, "mlp_dim": 8, "hidden_channels": 4}),
])
def test_checkpointed_bptt_gives_the_same_gradients(name, kw):
    grads = []
    for every in (0, 2):
        torch.manual_seed(0)
        m = create_model(name, update_rate=0.5, checkpoint_every=every, **kw)
        for p in m.cell.parameters():  # non-zero heads so that every step matters
            if p.abs().sum() == 0:
                nn.init.normal_(p, std=0.1)
        m.train()
        torch.manual_seed(1)
        x = torch.rand(2, 3, 16, 16)
        m(x, steps=5).square().mean().backward()
        grads.append([p.grad.clone() for p in m.cell.parameters()])
    for a, b in zip(*grads):
        assert torch.allclose(a, b, atol=1e-6, rtol=1e-5)


@pytest.mark.parametrize("name", ["lnca_nafca", "vitca", "nafnet_small", "restormer_small"])
def test_bad_input_is_a_one_line_value_error(name):
    m = create_model(name)
    call = (lambda x: m(x, steps=1)) if "ca" in name else m
    with pytest.raises(ValueError, match=r"RGB batch"):
        call(torch.rand(3, 16, 16))
    with pytest.raises(ValueError, match=r"float"):
        call(torch.zeros(1, 3, 16, 16, dtype=torch.uint8))
    if name.startswith("lnca"):
        with pytest.raises(ValueError, match="multiples of 4"):
            call(torch.rand(1, 3, 18, 16))


def test_cell_and_latent_mismatch():
    from nca_zoo.cells.nafca import NAFCACell
    from nca_zoo.models.lnca import LatentNCA

    with pytest.raises(ValueError, match="latent channels"):
        LatentNCA(NAFCACell(8, 8, 8), LNCAAutoencoder(latent_channels=16))


@pytest.mark.parametrize("name", ["lnca_nafca", "lnca_vitca"])
def test_autoencoder_width_is_a_model_option(name):
    """``ae_width`` widens the autoencoder (its H/2 skip and decoder), not the NCA cell."""
    tiny = dict(embed_dim=16, steps=[1, 1], eval_steps=1)
    narrow, wide = create_model(name, **tiny), create_model(name, ae_width=32, **tiny)
    assert narrow.autoencoder.conv1[0].out_channels == 8
    assert wide.autoencoder.conv1[0].out_channels == 32
    assert wide.autoencoder.latent_channels == narrow.autoencoder.latent_channels == 16
    cell_params = [sum(p.numel() for p in m.cell.parameters()) for m in (narrow, wide)]
    assert cell_params[0] == cell_params[1]
    x = torch.rand(2, 3, 16, 16)
    assert wide(x).shape == x.shape == wide(x, steps=0).shape


@pytest.mark.parametrize("name", ["lnca_nafca", "lnca_vitca"])
def test_latent_channels_is_a_model_option(name):
    """``latent_channels`` widens the latent the encoder writes and the cell reads and writes."""
    tiny = dict(embed_dim=16, steps=[1, 1], eval_steps=1)
    model = create_model(name, ae_width=8, latent_channels=24, **tiny)
    assert model.autoencoder.latent_channels == 24
    assert model.cell.in_channels == model.cell.out_channels == 24
    x = torch.rand(2, 3, 16, 16)
    skip, z = model.autoencoder.encode(x)
    assert z.shape == (2, 24, 4, 4)
    assert model(x).shape == x.shape == model(x, steps=0).shape


@pytest.mark.parametrize("name", ["lnca_nafca", "lnca_vitca"])
def test_ae_depth_is_a_model_option(name):
    """``ae_depth`` adds residual blocks at H/2 on both sides; 1 keeps the paper's names."""
    tiny = dict(embed_dim=16, steps=[1, 1], eval_steps=1)
    paper = create_model(name, ae_width=8, **tiny).autoencoder
    deep = create_model(name, ae_width=8, ae_depth=3, **tiny).autoencoder
    assert not any("blocks" in k for k in paper.state_dict())
    assert len(deep.encoder_blocks) == len(deep.decoder_blocks) == 2
    assert set(paper.state_dict()) < set(deep.state_dict())
    x = torch.rand(2, 3, 16, 16)
    skip, z = deep.encode(x)
    assert skip.shape == (2, 8, 8, 8) and z.shape == (2, 16, 4, 4)
    assert deep(x).shape == x.shape
    # every added block is on the path: each receives a gradient
    deep(x).mean().backward()
    for block in (*deep.encoder_blocks, *deep.decoder_blocks):
        assert block[0].weight.grad.abs().sum() > 0
    with pytest.raises(ValueError, match="ae_depth must be at least 1"):
        create_model(name, ae_depth=0, **tiny)


def test_autoencoder_from_state_dict_reads_its_shape():
    """Phase 1's saved autoencoder comes back with its width, latent channels and depth."""
    from nca_zoo.models.lnca import LNCAAutoencoder

    saved = LNCAAutoencoder(width=8, latent_channels=12, depth=3).eval()
    loaded = LNCAAutoencoder.from_state_dict(saved.state_dict()).eval()
    assert (loaded.conv1[0].out_channels, loaded.latent_channels) == (8, 12)
    assert len(loaded.encoder_blocks) == len(loaded.decoder_blocks) == 2
    x = torch.rand(1, 3, 16, 16)
    assert torch.equal(loaded(x), saved(x))
    for bad in ({"weight": torch.zeros(1)}, torch.zeros(1),
                {**saved.state_dict(), "extra": torch.zeros(1)}):
        with pytest.raises(ValueError, match="not an LNCA autoencoder state_dict"):
            LNCAAutoencoder.from_state_dict(bad)
