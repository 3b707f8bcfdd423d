"""Classical baselines are restoration modules like any other: by name, in restore, in the CLI."""
import numpy as np
import pytest
import torch
from PIL import Image

from nca_zoo import cli
from nca_zoo.restoration import (
    CLASSICAL_RESTORERS,
    classical_baselines,
    held_out_metrics,
    load_restorer,
    restore,
)


def smooth_image(h: int = 40, w: int = 48) -> torch.Tensor:
    """A colour gradient ``(3, h, w)`` in [0.2, 0.8]: nothing a filter should change much."""
    y, x = torch.meshgrid(torch.linspace(0, 1, h), torch.linspace(0, 1, w), indexing="ij")
    return 0.2 + 0.6 * torch.stack([x, y, (x + y) / 2])


@pytest.mark.parametrize("name", list(CLASSICAL_RESTORERS))
def test_classical_restorer_keeps_shape_and_range(name):
    model = CLASSICAL_RESTORERS[name]()
    assert model.card["kind"] == "classical" and model.card["name"] == name
    assert name in classical_baselines(model.card["task"])
    x = torch.rand(2, 3, 21, 30)
    y = model(x)
    assert y.shape == x.shape and y.dtype == x.dtype and 0 <= y.min() and y.max() <= 1
    out = restore(model, smooth_image()[:, :37, :45])   # padded to a multiple of 4, cropped back
    assert out.shape == (3, 37, 45) and torch.isfinite(out).all()


def test_median3_removes_impulse_noise_better_than_identity():
    clean = smooth_image()
    gen = torch.Generator().manual_seed(0)
    mask = torch.rand(1, *clean.shape[1:], generator=gen) < 0.08
    noisy = torch.where(mask, torch.randint(0, 2, mask.shape, generator=gen).float(), clean)
    restored = restore(load_restorer("median3"), noisy)
    assert (restored - clean).pow(2).mean() < 0.2 * (noisy - clean).pow(2).mean()


def test_baselines_per_task():
    assert classical_baselines("noise") == ("median3", "median5", "tv", "nlmeans", "wavelet")
    assert classical_baselines("blur") == ("unsharp",)
    with pytest.raises(ValueError, match="unknown restoration task"):
        classical_baselines("rain")


def test_held_out_protocol_measures_a_classical_filter():
    rng = np.random.default_rng(0)
    photos = {"p": np.full((48, 64, 3), 120, np.uint8) + rng.integers(0, 8, (48, 64, 3), np.uint8)}
    out = held_out_metrics(load_restorer("median3"), "noise", sizes=("32",), photos=photos)
    assert out["32"]["psnr_model"] > out["32"]["psnr_input"]


def test_unknown_restorer_is_one_line_listing_the_choices():
    with pytest.raises(FileNotFoundError, match="no restorer 'median4': choose a classical filter "
                                                r"\(median3, median5, tv, nlmeans, wavelet"):
        load_restorer("median4")


def test_cli_restores_with_a_classical_filter(tmp_path, capsys):
    rgb = (np.random.default_rng(0).random((20, 24, 3)) * 255).astype(np.uint8)
    Image.fromarray(rgb).save(tmp_path / "in.png")
    out = tmp_path / "out.png"
    assert cli.run("restore", [str(tmp_path / "in.png"), "-o", str(out), "--model",
                               "median3"]) == 0
    assert Image.open(out).size == (24, 20) and "restored with median3" in capsys.readouterr().out


def test_cli_refuses_an_unknown_restorer_in_one_line(tmp_path, capsys):
    Image.fromarray(np.zeros((16, 16, 3), np.uint8)).save(tmp_path / "in.png")
    outdir = tmp_path / "out"
    outdir.mkdir()
    assert cli.run("restore", [str(tmp_path / "in.png"), "-o", str(outdir / "x.png"), "--model",
                               "median4"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: no restorer 'median4'") and err.count("\n") == 1
    assert "median3" in err and not list(outdir.iterdir())
