"""Diff-NCA / FourierDiff-NCA: parameter counts, embedding shapes, Fourier window, locality."""
import pytest
import torch

import nca_zoo
from nca_zoo.cells.diffusion import DiffusionCell
from nca_zoo.diffusion import TiledDenoiser
from nca_zoo.layers import octave_encoding
from nca_zoo.models.diff_nca import FourierDiffNCA, fourier_window

# Paper counts (Tables 1-2, §5).  Ours omit the authors' unused BatchNorm2d(h) (2h parameters),
# which is not in the appendix-E listings; everything else (weight-normed convs, affine
# GroupNorm) is as there, so each count is exactly 2h below the paper's.
PAPER = {"fourierdiff_nca": (1_101_216, 512), "fourierdiff_nca_c48": (525_792, 512),
         "fourierdiff_nca_h256": (737_184, 256), "fourierdiff_nca_1m85": (1_849_632, 640),
         "diff_nca": (331_464, 512)}


def n_params(m):
    return sum(p.numel() for p in m.parameters())


@pytest.mark.parametrize("name", sorted(PAPER))
def test_param_counts_match_paper(name):
    paper, hidden = PAPER[name]
    n = n_params(nca_zoo.create_model(name))
    assert abs(n - paper) / paper < 0.01
    assert n == paper - 2 * hidden


def test_listing_layer_shapes():
    m = nca_zoo.create_model("fourierdiff_nca")
    four, img = m.fourier_cell, m.cell
    assert four.perceive.weight.shape == (192, 196, 3, 3) and four.perceive.padding_mode == "zeros"
    assert img.perceive.weight.shape == (96, 100, 3, 3) and img.perceive.padding_mode == "reflect"
    assert four.fc0.weight.shape == (512, 388, 1, 1) and img.fc0.weight.shape == (512, 196, 1, 1)
    assert four.mulCond0[2].weight.shape == (388, 128, 1, 1)
    assert img.mulCond1[2].weight.shape == (512, 128, 1, 1)
    assert (img.embedding[0].weight.shape == (256, 16, 1, 1)
            and img.embedding[2].weight.shape == (4, 256, 1, 1))
    d = nca_zoo.create_model("diff_nca").cell
    assert d.perceive.weight.shape == (96, 98, 3, 3) and d.fc0.weight.shape == (512, 194, 1, 1)
    assert (d.embedding[0].weight.shape == (256, 4, 1, 1)
            and d.mulCond0[2].weight.shape == (194, 128, 1, 1))


def test_embedding_shapes_and_values():
    cell = DiffusionCell(16, 32, embed_inputs=("x", "y", "t", "step"), n_freqs=2, embed_dim=4)
    state = torch.zeros(2, 16, 7, 5)
    maps = cell.scalar_maps(state, torch.tensor([0.0, 0.5]), step=10)
    assert maps.shape == (2, 4, 7, 5)
    assert torch.allclose(maps[0, 0, 0], torch.linspace(1, 0, 5))       # x: 1 -> 0 across
    assert torch.allclose(maps[0, 1, :, 0], torch.linspace(1, 0, 7))    # y: 1 -> 0 down
    assert maps[1, 2].unique().tolist() == [0.5] and maps[0, 3].unique().tolist() == [0.5]
    enc = octave_encoding(maps, 2)
    assert enc.shape == (2, 16, 7, 5)
    assert torch.allclose(enc[1, 8], torch.sin(torch.tensor(torch.pi * 0.5)).expand(7, 5))
    assert cell.embed(state, torch.tensor([0.0, 0.5]), 3).shape == (2, 4, 7, 5)
    assert cell(state, torch.tensor([0.1, 0.2]), step=1).shape == (2, 13, 7, 5)
    with pytest.raises(ValueError):
        DiffusionCell(16, 32, embed_inputs=("z",))


@pytest.mark.parametrize("size,anchor,expect", [(64, "dc", (32, 16)), (64, "centred", (24, 16)),
                                                (65, "centred", (24, 16)), (20, "dc", (10, 10)),
                                                (8, "centred", (0, 8))])
def test_fourier_window(size, anchor, expect):
    assert fourier_window(size, 16, anchor) == expect


@pytest.mark.parametrize("anchor", ["dc", "centred"])
def test_fourier_crop_inverse_round_trip(anchor):
    """Crop -> uncrop -> crop is the identity on the window (complex inverse)."""
    m = FourierDiffNCA(channels=8, hidden=16, fourier_anchor=anchor)
    x = torch.randn(2, 3, 64, 48)
    win_spec, win = m.crop(x)
    assert win_spec.shape == (2, 3, 16, 16)
    back = m.uncrop(win_spec, win, (64, 48), real=False)
    torch.testing.assert_close(m.crop(back)[0], win_spec, atol=1e-6, rtol=1e-5)


def test_centred_window_keeps_low_pass_image_real_dc_window_does_not():
    """A real image band-limited to |k| <= 7 survives the centred crop + real inverse exactly.

    The paper's DC-anchored window (one quadrant) does not hold it.
    """
    spec = torch.fft.fftshift(torch.fft.fft2(torch.randn(1, 3, 32, 32), norm="forward"),
                              dim=(-2, -1))
    keep = torch.zeros(32, 32)
    keep[16 - 7:16 + 8, 16 - 7:16 + 8] = 1
    low = torch.fft.ifft2(torch.fft.ifftshift(spec * keep, dim=(-2, -1)), norm="forward").real
    centred = FourierDiffNCA(channels=8, hidden=16, fourier_anchor="centred")
    torch.testing.assert_close(centred.uncrop(*centred.crop(low), (32, 32)), low, atol=1e-5,
                               rtol=1e-4)
    dc = FourierDiffNCA(channels=8, hidden=16, fourier_anchor="dc")
    assert (dc.uncrop(*dc.crop(low), (32, 32)) - low).abs().max() > 1e-3


def test_fourier_stage_only_writes_hidden_channels():
    m = FourierDiffNCA(channels=10, hidden=16).eval()
    x = torch.randn(2, 3, 32, 32)
    hidden = m.fourier_stage(x, torch.tensor([0.2, 0.9]))
    assert hidden.shape == (2, 7, 32, 32) and hidden.abs().sum() > 0
    assert m(x, torch.tensor([0.2, 0.9])).shape == (2, 3, 32, 32)


@pytest.mark.parametrize("name", ["diff_nca", "fourierdiff_nca"])
def test_odd_sizes(name):
    m = nca_zoo.create_model(name, channels=10, hidden=16, steps=3).eval()
    with torch.no_grad():
        assert m(torch.randn(1, 3, 78, 64), torch.tensor(0.5)).shape == (1, 3, 78, 64)
        assert m(torch.randn(1, 3, 17, 9), torch.tensor(0.5)).shape == (1, 3, 17, 9)


def _perturb_reach(model, size=40, steps=4):
    """Max distance (Chebyshev) from a perturbed centre pixel at which the output changes."""
    x = torch.randn(1, 3, size, size)
    y = x.clone()
    y[..., size // 2, size // 2] += 1.0
    with torch.no_grad():
        d = (model(x, torch.tensor(0.5)) - model(y, torch.tensor(0.5))).abs().amax(1)[0]
    rr, cc = torch.nonzero(d > 1e-6, as_tuple=True)
    return max((rr - size // 2).abs().max().item(), (cc - size // 2).abs().max().item())


def test_locality_per_cell_norm_vs_groupnorm():
    torch.manual_seed(1)
    local = nca_zoo.create_model("diff_nca", channels=10, hidden=16, steps=4, norm="cell",
                                 update_rate=1.0).eval()
    assert local.is_local and _perturb_reach(local) <= 4
    glob = nca_zoo.create_model("diff_nca", channels=10, hidden=16, steps=4, norm="group",
                                update_rate=1.0).eval()
    assert not glob.is_local and _perturb_reach(glob) > 4   # GroupNorm: a global dependency


def test_tiled_prediction_equals_full_rollout():
    m = nca_zoo.create_model("diff_nca", channels=10, hidden=16, steps=5, norm="cell",
                             update_rate=1.0).eval()
    x = torch.randn(2, 3, 45, 70)
    t = torch.tensor([0.1, 0.7])
    with torch.no_grad():
        torch.testing.assert_close(TiledDenoiser(m, tile=16)(x, t), m(x, t), atol=1e-5, rtol=1e-4)
    with pytest.raises(ValueError, match="not local"):
        TiledDenoiser(nca_zoo.create_model("diff_nca", channels=10, hidden=16))


def test_checkpointing_gives_equal_gradients():
    torch.manual_seed(0)
    plain = nca_zoo.create_model("fourierdiff_nca", channels=10, hidden=16, steps=4,
                                 fourier_steps=3, update_rate=0.7)
    ckpt = nca_zoo.create_model("fourierdiff_nca", channels=10, hidden=16, steps=4,
                                fourier_steps=3, update_rate=0.7, checkpoint_every=2)
    ckpt.load_state_dict(plain.state_dict())
    x, t = torch.randn(2, 3, 24, 24), torch.tensor([0.3, 0.6])
    grads = []
    for m in (plain, ckpt):
        torch.manual_seed(5)
        m(x, t).square().mean().backward()
        grads.append([p.grad.clone() for p in m.parameters()])
    for a, b in zip(*grads):
        torch.testing.assert_close(a, b, atol=1e-6, rtol=1e-4)
