"""GNCA: the Sobel-MLP bank, patches, quantisation, the .nca format and the compression task."""
import struct
import zlib

import lightning as L
import numpy as np
import pytest
import torch

import nca_zoo
from nca_zoo.cells.sobel_mlp import SobelMLPCell, sobel_perception
from nca_zoo.compression.nca_file import NCAFormatError, decode, decode_image, encode
from nca_zoo.data.patch_bank import PatchBankDataModule
from nca_zoo.layers import cut_patches, stitch
from nca_zoo.layers.quantize import dequantize, quantize
from nca_zoo.tasks.compression import GNCACompression, shard_models


@pytest.mark.parametrize("name,expected", [("gnca_small", 1140), ("gnca_medium", 2080),
                                           ("gnca_large", 2600)])
def test_param_counts_match_eq4(name, expected):
    model = nca_zoo.create_model(name)
    assert sum(p.numel() for p in model.parameters()) == expected
    assert SobelMLPCell.params_per_model(model.cell.channels, model.cell.hidden) == expected
    bank = nca_zoo.create_model(name, num_models=9)
    assert sum(p.numel() for p in bank.parameters()) == 9 * expected


def test_registry_errors_and_listing():
    assert {"gnca_small", "gnca_medium", "gnca_large"} <= set(nca_zoo.list_models("gnca*"))
    with pytest.raises(KeyError, match="unknown model"):
        nca_zoo.create_model("gnca_huge")


def test_fused_cell_equals_perception_then_mlp():
    """The grouped-conv bank equals Eq. 1 perception followed by the per-model 1x1 MLP."""
    torch.manual_seed(0)
    cell = SobelMLPCell(5, 7, num_models=3)
    with torch.no_grad():
        cell.w2.normal_()
    state = torch.randn(2, 15, 9, 11)
    got = cell(state)
    for k in range(3):
        s = state[:, 5 * k : 5 * (k + 1)]
        z = sobel_perception(s)  # (2, 15, 9, 11) = [s, Kx s, Ky s]
        h = torch.relu(torch.einsum("hc,bcyx->bhyx", cell.w1[k], z) + cell.b1[k][:, None, None])
        ref = torch.einsum("ch,bhyx->bcyx", cell.w2[k], h)
        torch.testing.assert_close(got[:, 5 * k : 5 * (k + 1)], ref, rtol=1e-5, atol=1e-5)


def test_bank_models_are_independent_and_selectable():
    torch.manual_seed(0)
    bank = nca_zoo.create_model("gnca_small", num_models=4, patch_size=10, steps=6)
    with torch.no_grad():
        bank.cell.w2.normal_(0, 0.05)
    full = bank()
    with torch.no_grad():
        bank.cell.w1[2].add_(1.0)
    changed = bank()
    assert torch.equal(full[[0, 1, 3]], changed[[0, 1, 3]])
    assert not torch.equal(full[2], changed[2])
    sub_state, _ = bank.grow(torch.tensor([3, 1]), steps=6)
    torch.testing.assert_close(bank.rgb(sub_state)[0].clamp(0, 1), changed[[3, 1]])


@pytest.mark.parametrize("h,w,p", [(40, 40, 40), (45, 83, 40), (7, 5, 3), (16, 16, 8)])
def test_tile_stitch_round_trip(h, w, p):
    img = torch.rand(3, h, w)
    patches = cut_patches(img, p, pad=True)
    assert patches.shape == (-(-h // p) * -(-w // p), 3, p, p)
    assert torch.equal(stitch(patches, h, w), img)


@pytest.mark.parametrize("scales, dtype", [("log", torch.float32), ("float16", torch.float16)])
def test_quantisation_error_is_half_a_step(scales, dtype):
    w = torch.randn(5, 20, 30)
    codes, scale = quantize(w, "tensor", scales)
    assert codes.dtype == torch.int8 and scale.dtype == dtype and scale.shape == (5,)
    err = (dequantize(codes, scale) - w).abs().flatten(1).amax(1)
    assert torch.all(err <= scale.float() * 0.5 + 1e-3 * w.abs().flatten(1).amax(1))


def test_per_column_quantisation_has_a_scale_per_input_and_a_smaller_error():
    w = torch.randn(5, 20, 30) * torch.linspace(0.01, 1.0, 30)  # columns of very different size
    codes, scale = quantize(w)  # default: per column, one-byte log scales (.nca version 4)
    assert codes.shape == w.shape and scale.shape == (5, 30) and scale.dtype == torch.float32
    err = (dequantize(codes, scale) - w).abs()
    assert torch.all(err <= scale.float()[:, None] * 0.5 + 1e-3 * w.abs().amax(1, keepdim=True))
    per_tensor = (dequantize(*quantize(w, "tensor")) - w).pow(2).mean()
    assert err.pow(2).mean() < 0.5 * per_tensor
    b_codes, b_scale = quantize(torch.randn(5, 20))  # vectors: one scale per model
    assert b_scale.shape == (5,) and b_codes.shape == (5, 20)
    with pytest.raises(ValueError, match="per must be one of"):
        quantize(w, "row")
    with pytest.raises(ValueError, match="scales must be one of"):
        quantize(w, "column", "bfloat16")


def _trained_task(iterations=40, size=16, patch=8, steps=10, seed=0, **kw):
    L.seed_everything(seed, verbose=False)
    dm = PatchBankDataModule(["embedded:astronaut"], size=size, patch_size=patch,
                             iterations_per_epoch=iterations)
    task = GNCACompression(model="gnca_small", rollout={"steps": steps}, batch_size=1, lr=5e-3,
                           **kw)
    trainer = L.Trainer(max_steps=iterations, logger=False, enable_checkpointing=False,
                        enable_progress_bar=False, enable_model_summary=False,
                        limit_val_batches=0, num_sanity_val_steps=0, deterministic=True)
    trainer.fit(task, datamodule=dm)
    return task, dm, trainer


def test_nca_file_round_trip_and_header_size():
    task, dm, _ = _trained_task(iterations=3)
    data = task.to_nca(0)
    n = dm.num_patches
    assert len(task.to_nca(0, version=1)) == 16 + 4 + n * (6 + 1140)  # raw int8 weights
    # version 4 (default): entropy-coded weights and 3 n_c + 1 + h_s one-byte scales per patch
    assert data[4] == 4 and len(data) - n * 1140 <= 64 + (3 * 14 + 1 + 20) * n
    nca = decode(data)
    assert (nca.height, nca.width, nca.patch_size, nca.channels, nca.hidden, nca.steps) == \
        (16, 16, 8, 14, 20, 10)
    decoded = decode_image(nca)
    assert decoded.shape == (16, 16, 3) and decoded.dtype == np.uint8
    # what the file decodes to is exactly what the task measured after quantisation
    assert np.array_equal(decoded, task.decoded_images(quantized=True)[0])
    assert encode(nca.build(), 16, 16, 10) == data  # re-encoding the decoded weights is stable


def test_corrupted_nca_files_are_rejected():
    task, _, _ = _trained_task(iterations=1)
    data = task.to_nca(0)
    flipped = bytearray(data)
    flipped[40] ^= 0x10
    wrong_version = bytearray(data)
    wrong_version[4] = 7
    wrong_version[-4:] = struct.pack("<I", zlib.crc32(bytes(wrong_version[:-4])))
    cases = {b"": "too short", data[:30]: "checksum", bytes(flipped): "checksum",
             b"JPEG" + data[4:]: "not a .nca", bytes(wrong_version): "version"}
    for bad, msg in cases.items():
        with pytest.raises(NCAFormatError, match=msg):
            decode(bad)


def test_tiny_bank_learns_and_reports_quantised_psnr():
    task, dm, _ = _trained_task(iterations=1)
    before = task.bank_loss().item()
    task, dm, _ = _trained_task(iterations=60)
    after = task.bank_loss().item()
    assert after < 0.5 * before
    from nca_zoo.compression.metrics import image_quality
    q = image_quality(dm.originals[0], task.decoded_images(quantized=True)[0])
    f = image_quality(dm.originals[0], task.decoded_images(quantized=False)[0])
    assert q["psnr"] > 12 and abs(q["psnr"] - f["psnr"]) < 1.5


def test_same_image_and_seed_give_identical_bytes():
    a = _trained_task(iterations=5, seed=3)[0].to_nca(0)
    b = _trained_task(iterations=5, seed=3)[0].to_nca(0)
    c = _trained_task(iterations=5, seed=4)[0].to_nca(0)
    assert a == b and a != c


def test_loss_final_and_checkpointing_agree_with_plain():
    torch.manual_seed(0)
    dm = PatchBankDataModule(["embedded:coffee"], size=12, patch_size=6)
    task = GNCACompression(model="gnca_small", rollout={"steps": 8}, batch_size=1,
                           num_patches=dm.num_patches, patch_size=6)
    task.targets = dm.targets
    with torch.no_grad():
        task.bank.cell.w2.normal_(0, 0.05)
    loss = task.bank_loss()
    loss.backward()
    g = [p.grad.clone() for p in task.bank.parameters()]
    task.bank.zero_grad()
    task.bank.automaton.checkpoint_every = 3
    torch.testing.assert_close(task.bank_loss(), loss)
    task.bank_loss().backward()
    for a, b in zip(g, task.bank.parameters()):
        torch.testing.assert_close(a, b.grad)


def test_shards_cover_the_bank_once():
    assert shard_models(9, 0, 1) is None
    shards = [shard_models(9, r, 4).tolist() for r in range(4)]
    assert sorted(sum(shards, [])) == list(range(9))
    with pytest.raises(ValueError, match="fewer devices"):
        shard_models(2, 2, 3)


def test_checkpoint_reload(tmp_path):
    task, dm, trainer = _trained_task(iterations=2)
    path = tmp_path / "gnca.ckpt"
    trainer.save_checkpoint(path)
    loaded = GNCACompression.load_from_checkpoint(path)
    for a, b in zip(task.bank.parameters(), loaded.bank.parameters()):
        assert torch.equal(a, b)


def test_datamodule_multiple_images_share_one_bank():
    dm = PatchBankDataModule(["embedded:astronaut", "embedded:coffee"], size=20, patch_size=8)
    assert dm.num_patches == 2 * 9
    assert dm.layout == [(0, 9, 20, 20), (9, 9, 20, 20)]


@pytest.mark.parametrize("code_max", [127, 31])
def test_quantisation_aware_forward_is_what_the_file_decodes(code_max):
    task, dm, _ = _trained_task(iterations=4, code_max=code_max)
    bank = task.bank.eval()
    bank.cell.fake_quant = True
    with torch.no_grad():
        fake = bank()
    bank.cell.fake_quant = False
    torch.testing.assert_close(fake, task.quantized_bank()(), rtol=0, atol=1e-6)
    with torch.no_grad():
        assert not torch.equal(fake, bank())  # the float weights do differ


def test_qat_switches_on_late_in_training():
    flags = []

    class Record(L.Callback):
        def on_train_batch_end(self, trainer, module, *args):
            flags.append(module.bank.cell.fake_quant)

    L.seed_everything(0, verbose=False)
    dm = PatchBankDataModule(["embedded:coffee"], size=8, patch_size=8, iterations_per_epoch=10)
    task = GNCACompression(model="gnca_small", rollout={"steps": 6}, batch_size=1, qat_from=0.5)
    L.Trainer(max_steps=10, logger=False, enable_checkpointing=False, enable_progress_bar=False,
              enable_model_summary=False, limit_val_batches=0,
              callbacks=[Record()]).fit(task, datamodule=dm)
    assert flags == [False] * 5 + [True] * 5
    assert task.bank.cell.fake_quant is False  # switched off once training ends


def test_shipped_example_decodes_to_its_png():
    """examples/gnca: the quickstart's .nca file decodes to exactly the PNG shipped beside it."""
    from pathlib import Path

    from PIL import Image

    from nca_zoo.compression.nca_file import read

    root = Path(__file__).resolve().parents[1] / "examples" / "gnca"
    decoded = decode_image(read(root / "astronaut_120.nca"))
    assert np.array_equal(decoded, np.asarray(Image.open(root / "astronaut_120.decoded.png")))
