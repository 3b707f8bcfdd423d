"""The encoder's code range (``code_max``): codes in ``[-N, N]``, smaller files, same decoder."""
import lightning as L
import numpy as np
import pytest
import torch
from nca_file_helpers import skewed_bank

from nca_zoo.compression.nca_file import _parse, decode, encode
from nca_zoo.data.patch_bank import PatchBankDataModule
from nca_zoo.layers.quantize import QMAX, check_code_max, dequantize, quantize
from nca_zoo.models.gnca import GNCA
from nca_zoo.tasks import GNCACompression


@pytest.mark.parametrize("per", ["column", "tensor"])
@pytest.mark.parametrize("scales", ["log", "float16"])
def test_codes_stay_in_range_and_reach_it(per, scales):
    torch.manual_seed(0)
    w = torch.randn(3, 5, 7)
    for code_max in (127, 63, 1):
        codes, scale = quantize(w, per, scales, code_max=code_max)
        peak = codes.abs().amax(dim=1) if per == "column" else codes.flatten(1).abs().amax(1)
        assert int(codes.abs().max()) <= code_max
        # the largest weight of each group lands on the top code (log grid: at most 4.4 % below)
        assert int(peak.min()) >= (code_max * 0.95 if code_max > 1 else 1)
        err = (dequantize(codes, scale) - w).abs().max()
        assert float(err) <= float(scale.float().max()) / 2 + 1e-6


def test_a_smaller_range_is_coarser():
    torch.manual_seed(0)
    w = torch.randn(2, 16, 48)
    errors = [float((dequantize(*quantize(w, code_max=m)) - w).pow(2).mean())
              for m in (127, 63, 31)]
    assert errors[0] < errors[1] < errors[2]


@pytest.mark.parametrize("bad", [0, 128, -5, 2.5, True, "63"])
def test_bad_code_max_is_a_one_line_error(bad):
    with pytest.raises(ValueError, match=rf"code_max must be an integer from 1 to {QMAX}"):
        check_code_max(bad)
    with pytest.raises(ValueError, match="code_max must be an integer"):
        quantize(torch.ones(1, 2, 2), code_max=bad)
    with pytest.raises(ValueError, match="code_max must be an integer"):
        GNCACompression(model="gnca_small", code_max=bad)


@pytest.mark.parametrize("version", [1, 2, 3, 4])
def test_every_version_stores_a_smaller_range_exactly_and_smaller(version):
    torch.manual_seed(0)
    model = GNCA(16, 32, 4, 8, 4)  # w1 and b1 spread out (w2 starts at zero)
    full, half = (encode(model, 16, 16, 4, version, code_max=m) for m in (127, 63))
    _, bank = _parse(half, None)
    assert int(np.abs(bank.codes.astype(int)).max()) <= 63
    state = decode(half).state_dict
    for name in ("w1", "b1", "w2"):
        per = "column" if version >= 3 else "tensor"
        scales = "log" if version >= 4 else "float16"
        expected = dequantize(*quantize(getattr(model.cell, name), per, scales, code_max=63))
        assert torch.equal(state[name], expected), name
    if version == 1:
        assert len(half) == len(full)  # raw bytes: one per weight whatever the range
    else:
        assert len(half) < 0.95 * len(full)


def test_skewed_columns_keep_their_precision_at_a_smaller_range():
    model = skewed_bank()
    state = decode(encode(model, 16, 16, 4, 4, code_max=63)).state_dict
    for name in ("w1", "w2"):
        w = getattr(model.cell, name).detach()
        step = (w.abs().amax(dim=1) / 63 * 2 ** (1 / 16)).clamp_min(2.0**-14)  # grid's floor
        err = (state[name] - w).abs().amax(dim=1)
        assert bool((err <= step / 2 + 1e-7).all()), name  # half a step per column


def test_compression_task_uses_its_range_everywhere(tmp_path):
    L.seed_everything(0, verbose=False)
    dm = PatchBankDataModule(["embedded:astronaut"], size=16, patch_size=8,
                             iterations_per_epoch=2)
    task = GNCACompression(model="gnca_small", rollout={"steps": 10}, batch_size=1, lr=5e-3,
                           code_max=31, qat_from=0.0)
    trainer = L.Trainer(max_steps=2, logger=False, enable_checkpointing=False,
                        default_root_dir=tmp_path,
                        enable_progress_bar=False, enable_model_summary=False,
                        limit_val_batches=0, num_sanity_val_steps=0)
    trainer.fit(task, datamodule=dm)
    assert task.bank.cell.code_max == 31
    data = task.to_nca(0)
    _, bank = _parse(data, None)
    assert int(np.abs(bank.codes.astype(int)).max()) <= 31
    decoded = decode(data).state_dict
    quantized = task.quantized_bank().cell.state_dict()
    for name in ("w1", "b1", "w2"):  # the metrics' weights are the file's
        assert torch.equal(decoded[name], quantized[name])
    # quantisation-aware training at this range: test_gnca's QAT test runs code_max 31 too
    # a checkpoint keeps the range
    trainer.save_checkpoint(tmp_path / "bank.ckpt")
    loaded = GNCACompression.load_from_checkpoint(tmp_path / "bank.ckpt")
    loaded.layout = task.layout
    assert loaded.bank.cell.code_max == 31 and loaded.to_nca(0) == data


def test_compress_command_refuses_a_bad_range_in_one_line(tmp_path, capsys):
    from PIL import Image

    from nca_zoo.cli import compress as compress_cli
    from nca_zoo.cli import run_cli

    image = tmp_path / "tiny.png"
    Image.fromarray(np.zeros((16, 16, 3), np.uint8)).save(image)
    out = tmp_path / "x.nca"
    argv = [str(image), "-o", str(out), "--codec", "gnca", "--size", "small", "--patch", "8",
            "--iterations", "1",
            "--code-max", "200", "--quiet"]
    assert run_cli(compress_cli.main, argv) == 2
    assert capsys.readouterr().err.strip() == \
        "error: --code-max must be an integer from 1 to 127, got 200"
    assert not out.exists()
