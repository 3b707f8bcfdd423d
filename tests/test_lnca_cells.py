"""ViTCA and NAFCA cells: parameter counts, locality, localized attention, errors."""
from pathlib import Path

import pytest
import torch
import yaml
from torch import nn

from nca_zoo import create_model
from nca_zoo.automaton import Automaton
from nca_zoo.cells.nafca import NAFCACell
from nca_zoo.cells.vitca import LocalizedAttention, ViTCACell


def n_params(m):
    return sum(p.numel() for p in m.parameters())


def test_vitca_param_count_paper_defaults():
    # state 3 + 3 + 32 = 38, embed 128, 4 heads of 32, MLP 64, depth 1, head to 35 channels
    c, e, mlp, out = 38, 128, 64, 35
    expected = (c * e + e)                      # cell embedding
    expected += 2 * e                           # LN before attention
    expected += e * 3 * e                       # to_qkv (no bias)
    expected += e * e + e                       # to_out (4 heads: projection)
    expected += 2 * e                           # LN before MLP
    expected += (e * mlp + mlp) + (mlp * e + e)  # GELU MLP
    expected += 2 * e + (e * out + out)         # head: LN + linear
    assert n_params(ViTCACell()) == expected == 92515


def test_nafca_param_count_reference_sizes():
    c, e, u = 64, 128, 48  # cell_dim 16+16+32, embed 128, update 16+32
    expected = 2 * c                        # LN
    expected += c * e + e                   # conv1 64->128
    expected += 2 * e * 1 + 2 * e           # conv2 128->256, 1x1 grouped (groups=128)
    expected += e * 9 + 1                   # spatial gate C: 128 -> 1, 3x3 (Eq. 2)
    expected += e * c + c + c               # conv3 128->64, beta
    expected += 2 * c                       # LN
    expected += c * 4 * c + 4 * c           # conv4 64->256
    expected += 2 * c * c + c + c           # conv5 128->64, gamma
    expected += 2 * c + c * u + u           # head LN + conv 64->48
    assert n_params(NAFCACell()) == expected


def _randomize_head(cell):
    for p in cell.parameters():
        if p.abs().sum() == 0:
            nn.init.normal_(p, std=0.5)


@pytest.mark.parametrize("make", [
    lambda: ViTCACell(3, 3, 4, embed_dim=16, heads=2, mlp_dim=8),
    lambda: NAFCACell(4, 4, 8, embed_dim=16),
], ids=["vitca", "nafca"])
def test_one_step_reaches_only_the_moore_neighbourhood(make):
    cell = make().eval()
    _randomize_head(cell)  # zero-init heads / skip-init scales would hide any dependence
    auto = Automaton(cell, steps=1, fixed_channels=cell.in_channels)
    s = torch.rand(1, cell.channels, 9, 9)
    s2 = s.clone()
    s2[:, :, 4, 6] = torch.rand(cell.channels)  # not a constant shift: LayerNorm ignores those
    with torch.no_grad():
        diff = (auto(s, 1) - auto(s2, 1)).abs().sum(1)[0]
    changed = diff > 1e-6
    allowed = torch.zeros(9, 9, dtype=torch.bool)
    allowed[3:6, 5:8] = True
    assert not (changed & ~allowed).any(), (f"update leaked outside the 3x3 neighbourhood:\n"
                                            f"{changed.int()}")
    assert changed[4, 5] and changed[3, 7], "the change must reach the neighbours"


def test_localized_attention_equals_dense_masked_attention():
    torch.manual_seed(1)
    att = LocalizedAttention(8, heads=2)
    h, w = 5, 6
    x = torch.randn(2, h * w, 8)
    out = att(x, h, w)
    # dense reference: every token attends to the 9 positions around it; positions outside the
    # image are zero vectors (logit 0, value 0), exactly as the reference's zero padding.
    q, k, v = att.to_qkv(x).chunk(3, -1)
    ref = torch.zeros(2, h * w, 8)
    for b in range(2):
        for i in range(h * w):
            r, c = divmod(i, w)
            heads = []
            for hd in range(2):
                sl = slice(4 * hd, 4 * hd + 4)
                logits, vals = [], []
                for dr in (-1, 0, 1):
                    for dc in (-1, 0, 1):
                        rr, cc = r + dr, c + dc
                        if 0 <= rr < h and 0 <= cc < w:
                            j = rr * w + cc
                            logits.append((q[b, i, sl] * k[b, j, sl]).sum() / 2.0)
                            vals.append(v[b, j, sl])
                        else:
                            logits.append(torch.tensor(0.0))
                            vals.append(torch.zeros(4))
                a = torch.stack(logits).softmax(0)
                heads.append((a[:, None] * torch.stack(vals)).sum(0))
            ref[b, i] = torch.cat(heads)
    ref = att.to_out(ref)
    assert torch.allclose(out, ref, atol=1e-5)


def test_vitca_head_is_zero_initialised_so_the_first_update_is_zero():
    cell = ViTCACell(3, 3, 4, embed_dim=16, heads=2, mlp_dim=8)
    assert torch.count_nonzero(cell(torch.rand(2, 10, 8, 8))) == 0


def test_nafca_zero_head_option_starts_with_no_update():
    state = torch.rand(2, 64, 8, 8)
    assert torch.count_nonzero(NAFCACell(zero_head=True, embed_dim=16)(state)) == 0
    assert torch.count_nonzero(NAFCACell(embed_dim=16)(state)) > 0  # the authors' init
    # with the residual read-out, an untrained zero-head NCA returns its input exactly
    model = create_model("lnca_nafca", embed_dim=16, zero_head=True, readout="residual",
                         steps=[3, 3], eval_steps=3).eval()
    x = torch.rand(1, 3, 16, 16)
    assert torch.allclose(model(x), x, atol=1e-6)


def test_attention_memory_is_linear_in_pixels():
    # The largest intermediate is the unfolded K/V: 9 * 2 * inner per pixel, never N x N.
    cell = ViTCACell(3, 3, 4, embed_dim=16, heads=2, mlp_dim=8)
    sizes = []

    def hook(_m, _i, o):
        sizes.append(o.numel())

    handles = [m.register_forward_hook(hook) for m in cell.modules()]
    cell(torch.rand(1, 10, 64, 64))
    for hd in handles:
        hd.remove()
    n = 64 * 64
    assert max(sizes) <= 9 * 2 * 16 * n, "a tensor larger than 9 neighbours' K/V appeared"


@pytest.mark.parametrize("cell", [ViTCACell(), NAFCACell()], ids=["vitca", "nafca"])
def test_wrong_channel_count_is_one_line_error(cell):
    with pytest.raises(ValueError, match="state channels"):
        cell(torch.rand(1, 5, 8, 8))


def test_bad_cell_options():
    with pytest.raises(ValueError, match="pos_encoding"):
        ViTCACell(pos_encoding="learned2")
    with pytest.raises(ValueError, match="divisible"):
        ViTCACell(embed_dim=30, heads=4)


def test_nafca_has_nothing_global():
    cell = NAFCACell()
    assert not any(isinstance(m, (nn.AdaptiveAvgPool2d, nn.AdaptiveMaxPool2d))
                   for m in cell.modules())
    spatial = [m for m in cell.modules() if isinstance(m, nn.Conv2d) and m.kernel_size != (1, 1)]
    assert len(spatial) == 1 and spatial[0].kernel_size == (3, 3) and spatial[0].out_channels == 1


@pytest.mark.parametrize("kernel, reach", [(1, 1), (3, 2)])
def test_nafca_perception_kernel_sets_how_far_a_cell_sees(kernel, reach):
    """The authors' cell reads its Moore neighbourhood; ``perception_kernel=3`` the 5x5 cells."""
    torch.manual_seed(0)
    cell = NAFCACell(4, 4, 8, embed_dim=16, dropout=0.0, perception_kernel=kernel).eval()
    with torch.no_grad():  # the skip-init scales start at zero: open them
        cell.beta.fill_(1.0)
        cell.gamma.fill_(1.0)
    state = torch.rand(1, 16, 9, 9)
    moved = state.clone()
    moved[:, :, 4, 4] = torch.rand(16)  # change one cell (not by a constant: LayerNorm)
    with torch.no_grad():
        changed = (cell(moved) - cell(state)).abs().sum(1)[0] > 1e-6
    rows, cols = torch.nonzero(changed, as_tuple=True)
    assert changed[4 - reach, 4] and changed[4, 4 + reach]
    assert (rows - 4).abs().max() == reach and (cols - 4).abs().max() == reach
    with pytest.raises(ValueError, match="perception_kernel"):
        NAFCACell(perception_kernel=5)


@pytest.mark.parametrize("pos_encoding, same", [("none", True), ("vit_handcrafted", False)])
def test_vitca_update_depends_on_the_grid_size_only_through_position_encoding(pos_encoding, same):
    """A cell's update on a 16x16 grid and on the same cells inside a 32x32 grid.

    Without a position encoding the rule is local, so the interior cells agree and a model trained
    on 64 px tiles restores any size; the raster encoding numbers cells by ``y * W + x``.
    """
    torch.manual_seed(0)
    cell = ViTCACell(3, 3, 4, embed_dim=16, heads=2, mlp_dim=8, pos_encoding=pos_encoding).eval()
    with torch.no_grad():
        nn.init.normal_(cell.head[-1].weight)  # the zero-initialised head proposes nothing
    big = torch.rand(1, 10, 32, 32)
    with torch.no_grad():
        inner_of_big = cell(big)[..., 1:15, 1:15]
        inner_of_small = cell(big[..., :16, :16])[..., 1:15, 1:15]
    assert torch.allclose(inner_of_big, inner_of_small, atol=1e-5) == same


def test_corpus_lnca_vitca_configs_use_no_position_encoding():
    """Corpus recipes restore whole photos of any size (see the test above)."""
    for cfg in Path("configs/lnca").glob("*_corpus.yaml"):
        args = yaml.safe_load(cfg.read_text())["model"]["init_args"]
        if args.get("model") == "lnca_vitca":
            assert args["model_args"].get("pos_encoding") == "none", cfg.name
