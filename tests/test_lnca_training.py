"""LNCA data, loss terms (Eq. 3-9, ViTCA CALoss), phase hand-over and a tiny model that learns."""
import lightning as L
import numpy as np
import pytest
import torch
import torch.nn.functional as F
from PIL import Image

from nca_zoo.data.degradations import (
    Curriculum,
    coherent_noise,
    degrade,
    motion_blur,
    motion_blur_kernel,
)
from nca_zoo.data.images import ImageError
from nca_zoo.data.restoration import RestorationDataModule
from nca_zoo.layers import nested_split_indices
from nca_zoo.tasks.lnca import LNCARestoration
from nca_zoo.tasks.lnca_losses import SWISH_MIN, AutoencoderLoss, LatentNCALoss, derangement
from nca_zoo.tasks.restoration import overflow
from nca_zoo.tasks.vitca import ViTCARestoration

TINY = {"embed_dim": 16}
FAST = {"rollout": {"steps": [2, 2], "eval_steps": 2}}


# ---------------------------------------------------------------- degradations and data
def test_channel_coherent_noise():
    x = torch.full((4, 3, 32, 32), 0.5)
    y = coherent_noise(x, 0.5)
    d = y - x
    # same offset on R, G, B
    assert torch.allclose(d[:, 0], d[:, 1]) and torch.allclose(d[:, 1], d[:, 2])
    frac = (d[:, 0] != 0).float().mean().item()
    assert 0.4 < frac < 0.6
    assert 0.15 < d[d != 0].std().item() < 0.25  # sigma 0.2
    assert torch.equal(coherent_noise(x, 0.0), x)


def test_motion_blur_kernel_and_blur():
    k = motion_blur_kernel(7, 90.0)
    assert torch.isclose(k.sum(), torch.tensor(1.0))
    # vertical line after 90 degrees
    assert torch.allclose(k[:, 3], torch.full((7,), 1 / 7), atol=1e-5)
    x = torch.zeros(2, 3, 15, 15)
    x[:, :, 7, 7] = 1.0
    y = motion_blur(x, 5)
    # energy kept (centre impulse)
    assert torch.allclose(y.sum((2, 3)), torch.ones(2, 3), atol=1e-5)
    assert torch.equal(y[:, 0], y[:, 1])  # one kernel per image, same for R, G, B
    with pytest.raises(ValueError, match="unknown degradation"):
        degrade(x, "rain", 1)


def test_curriculum():
    noise, blur = Curriculum("noise"), Curriculum("blur")
    assert [noise.strength(p) for p in (0.0, 0.5, 1.0)] == [0.25, 0.5, 0.75]
    assert [blur.strength(p) for p in (0.0, 0.5, 1.0)] == [4.0, 7.5, 10.0]
    assert noise.strength(None) == 0.5 and blur.strength(None) == 7.0  # val / test
    assert Curriculum("noise", enabled=False).strength(0.9) == 0.5


def test_random_curriculum_draws_the_whole_range_whatever_the_progress():
    noise, blur = Curriculum("noise", random=True), Curriculum("blur", random=True)
    torch.manual_seed(0)
    drawn = [noise.strength(p) for p in [0.0] * 200]
    assert 0.25 <= min(drawn) < 0.3 and 0.7 < max(drawn) <= 0.75
    assert set(blur.strength(1.0) for _ in range(300)) == {4.0, 5.0, 6.0, 7.0, 8.0, 9.0, 10.0}
    assert noise.strength(None) == 0.5 and blur.strength(None) == 7.0  # val / test stay fixed
    torch.manual_seed(0)
    assert [noise.strength(0.0) for _ in range(200)] == drawn  # seeded: runs repeat


def test_splits_80_20_80_20():
    train, val, test = nested_split_indices(100, seed=0)
    assert (len(train), len(val), len(test)) == (64, 16, 20)
    assert len(set(train) | set(val) | set(test)) == 100


def test_folder_datamodule_and_batches(tmp_path):
    rng = np.random.default_rng(0)
    for i in range(12):
        Image.fromarray(rng.integers(0, 255, (40, 50, 3),
                                     dtype=np.uint8)).save(tmp_path / f"{i}.png")
    Image.fromarray(rng.integers(0, 255, (40, 50), dtype=np.uint8)).save(tmp_path / "gray.png")
    dm = RestorationDataModule(root=str(tmp_path), task="blur", image_size=16, batch_size=4)
    dm.setup("fit")
    assert len(dm.train_set[0]) + len(dm.val_pairs[0]) + len(dm.test_pairs[0]) == 13
    clean, degraded = dm.on_after_batch_transfer(next(iter(dm.train_dataloader())), 0)
    assert clean.shape == degraded.shape == (4, 3, 16, 16) and not torch.equal(clean, degraded)
    v1, v2 = dm.val_pairs[1], RestorationDataModule(root=str(tmp_path), task="blur", image_size=16)
    v2.setup("fit")
    assert torch.equal(v1, v2.val_pairs[1])  # fixed validation degradation


def test_real_pairs_gt_damaged_with_tile_shrink(tmp_path):
    rng = np.random.default_rng(0)
    (tmp_path / "GT").mkdir()
    (tmp_path / "DAMAGED").mkdir()
    for i in range(3):
        gt = rng.integers(0, 255, (64, 96, 3), dtype=np.uint8)
        Image.fromarray(gt).save(tmp_path / "GT" / f"{i}.png")
        Image.fromarray(255 - gt).save(tmp_path / "DAMAGED" / f"{i}.png")
    dm = RestorationDataModule(root=str(tmp_path), image_size=16, tiling={"size": 32},
                               batch_size=2)
    dm.setup("fit")
    assert dm.paired and len(dm.train_set[0]) + len(dm.val_pairs[0]) + len(dm.test_pairs[0]) == 18
    clean, bad = dm.on_after_batch_transfer(next(iter(dm.train_dataloader())), 0)
    assert torch.allclose(bad, 1 - clean, atol=0.02)  # the pair's own degradation, tiled alike
    (tmp_path / "DAMAGED" / "2.png").unlink()
    with pytest.raises(ImageError, match="no degraded counterpart"):
        RestorationDataModule(root=str(tmp_path)).setup("fit")


def test_embedded_default_is_tiles():
    dm = RestorationDataModule(image_size=16, max_images=50)
    dm.setup("fit")
    assert dm.train_set[0].shape[1:] == (3, 16, 16) and len(dm.train_set[0]) == 50
    assert len(dm.val_pairs[0]) == len(dm.test_pairs[0]) == 12  # a quarter of the cap


def test_data_errors(tmp_path):
    with pytest.raises(ImageError, match="no images"):
        RestorationDataModule(root=str(tmp_path)).setup("fit")
    with pytest.raises(ImageError, match="no such folder"):
        RestorationDataModule(root=str(tmp_path / "missing")).setup("fit")
    with pytest.raises(ValueError, match="multiple of 4"):
        RestorationDataModule(image_size=30)
    with pytest.raises(ValueError, match="unknown degradation"):
        RestorationDataModule(task="jpeg")


# ---------------------------------------------------------------- loss terms
def test_derangement():
    for n in (2, 3, 8):
        p = derangement(n)
        assert sorted(p.tolist()) == list(range(n)) and not (p == torch.arange(n)).any()
    with pytest.raises(ValueError, match="at least 2"):
        derangement(1)


def _lnca(**kw):
    return LNCARestoration(model="lnca_nafca", image_size=16, pool_size=8, model_args=TINY, **kw)


def test_phase1_loss_terms_eq3_to_eq5():
    task = _lnca()
    ae = task.model.autoencoder.eval()
    a = torch.rand(3, 3, 16, 16)
    p = coherent_noise(a, 0.5)
    n = a[torch.tensor([1, 2, 0])]
    t = task.phase1_losses(a, p, n)
    x = torch.cat([a, p, n])
    rec = ae(x)
    assert torch.isclose(t["rec_ae"], F.mse_loss(rec, x))  # Eq. 3
    z = ae.encode(x)[1].flatten(1)
    d = lambda u, v: ((u - v) ** 2).mean(1)  # noqa: E731
    dist = torch.clamp(d(z[:3], z[3:6]) - d(z[:3], z[6:]) + 1.0, min=0).mean()
    assert torch.isclose(t["dist"], dist)  # Eq. 4, margin 1
    m = (a != p).any(1, keepdim=True).float()
    assert torch.isclose(t["task"], F.mse_loss(p * m, rec[3:6] * m))  # Eq. 5
    assert torch.isclose(t["loss_ae"], 100 * t["rec_ae"] + 10 * t["dist"] + 10 * t["task"])
    # uncorrupted positives: the task and equivalence losses vanish (mask m_{A,P} is empty)
    t0 = task.phase1_losses(a, a.clone(), n)
    assert t0["task"] == 0 and task.equivalence_loss(a, a.clone()) == 0


def test_equivalence_loss_eq6_swaps_latents():
    task = _lnca(ae_loss={"eq_noise_std": 0.0})
    ae = task.model.autoencoder.eval()
    a = torch.rand(2, 3, 16, 16)
    p = coherent_noise(a, 0.5)
    m = (a != p).any(1, keepdim=True).float()
    (sa, za), (sp, zp) = ae.encode(a), ae.encode(p)
    expected = F.mse_loss(a * m, ae.decode(za, sp) * m) + F.mse_loss(p * m, ae.decode(zp, sa) * m)
    assert torch.isclose(task.equivalence_loss(a, p), expected)
    noisy = _lnca(ae_loss=AutoencoderLoss(eq_noise_std=0.5))
    noisy.model.load_state_dict(task.model.state_dict())
    noisy.model.autoencoder.eval()
    assert not torch.isclose(noisy.equivalence_loss(a, p), expected)  # epsilon ~ N(0, v) is added


def test_phase2_loss_terms_eq7_to_eq9():
    task = _lnca()
    m = task.model.eval()
    clean = torch.rand(2, 3, 16, 16)
    skip, z_true = m.autoencoder.encode(clean)
    state = m.seed(z_true)
    state[:, 16:32] = z_true  # output channels = the clean latent
    t = task.phase2_losses(state, clean, clean, skip, z_true)
    assert t["latent"] == 0  # Eq. 8
    # Eq. 7
    assert torch.isclose(t["rec_nca"], F.mse_loss(m.autoencoder.decode(z_true, skip), clean))
    over = overflow(z_true, 0, 1)
    assert torch.isclose(t["overflow"], over)  # Eq. 9 (hidden = 0: no overflow)
    state[:, 32:] = 1.5  # hidden over [-1, 1] by 0.5 everywhere
    over_hidden = task.phase2_losses(state, clean, clean, skip, z_true)["overflow"]
    assert torch.isclose(over_hidden, over + 0.5)


def test_eq9_output_bounds_can_follow_the_swish_latent():
    """The paper's [0, 1] bound penalises the clean latent itself; swish bounds do not."""
    paper = _lnca()
    m = paper.model.eval()
    clean = torch.rand(2, 3, 16, 16)
    skip, z_true = m.autoencoder.encode(clean)
    z_true = SWISH_MIN + 3 * torch.rand_like(z_true)  # a swish latent: >= SWISH_MIN, often > 1
    assert z_true.min() >= SWISH_MIN and z_true.max() > 1
    state = m.seed(z_true)
    state[:, 16:32] = z_true
    assert paper.phase2_losses(state, clean, clean, skip, z_true)["overflow"] > 0
    swish = _lnca(nca_loss={"output_low": SWISH_MIN, "output_high": float("inf")})
    swish.model.load_state_dict(m.state_dict())
    assert swish.phase2_losses(state, clean, clean, skip, z_true)["overflow"] == 0
    state[:, 16:32] = SWISH_MIN - 0.5  # below the swish range: penalised by 0.5
    over = swish.phase2_losses(state, clean, clean, skip, z_true)["overflow"]
    assert torch.isclose(over, torch.tensor(0.5))
    with pytest.raises(ValueError, match="output_low .* must be below output_high"):
        LatentNCALoss(output_low=1.0, output_high=0.0)


def test_vitca_calloss():
    task = ViTCARestoration(image_size=8, pool_size=4, model_args={"embed_dim": 16, "mlp_dim": 8})
    clean = torch.rand(2, 3, 8, 8)
    state = task.model.seed(clean)
    state[:, 3:6] = clean
    assert task.losses(state, clean)["loss"] == 0
    state[:, 3:6] = clean + 2.0  # output above 1 by (1 + clean) > 1 ... and L1 = 2
    t = task.losses(state, clean)
    assert torch.isclose(t["rec"], torch.tensor(2.0))
    assert torch.isclose(t["overflow"], overflow(clean + 2.0, 0, 1))
    assert torch.isclose(t["loss"], 100 * t["rec"] + 100 * t["overflow"])


def test_bad_task_options():
    with pytest.raises(ValueError, match="phase"):
        _lnca(phase="pretrain")
    with pytest.raises(ValueError, match="two runs"):
        _lnca(phase="both")
    with pytest.raises(ValueError, match="Rollout has no setting steps_max"):
        _lnca(rollout={"steps_max": 3})
    with pytest.raises(ValueError, match="ae_checkpoint"):
        _lnca(phase="nca")
    with pytest.raises(ValueError, match="ae_monitor must be one of"):
        _lnca(ae_monitor="loss")


def test_phase2_reconstruction_uses_the_residual_readout():
    task = LNCARestoration(model="lnca_nafca", image_size=16, pool_size=8,
                           model_args={**TINY, "readout": "residual"})
    m = task.model.eval()
    clean = torch.rand(2, 3, 16, 16)
    degraded = coherent_noise(clean, 0.5)
    skip, z = m.autoencoder.encode(degraded)
    state = m.seed(z)
    state[:, 16:32] = z  # the NCA changed nothing: the read-out is the degraded input itself
    t = task.phase2_losses(state, clean, degraded, skip, m.autoencoder.encode(clean)[1])
    assert torch.isclose(t["rec_nca"], F.mse_loss(degraded, clean), atol=1e-6)


# ---------------------------------------------------------------- training
def _trainer(tmp_path, epochs, batches=2):
    return L.Trainer(max_epochs=epochs, limit_train_batches=batches, limit_val_batches=1,
                     limit_test_batches=1, accelerator="cpu", devices=1, logger=False,
                     enable_checkpointing=False, enable_progress_bar=False,
                     enable_model_summary=False, num_sanity_val_steps=0,
                     default_root_dir=str(tmp_path))


def _dm():
    return RestorationDataModule(image_size=16, max_images=40, batch_size=4)


def _snapshot(module):
    return {k: v.detach().clone() for k, v in module.state_dict().items()}


def _changed(before, module):
    return any(not torch.equal(before[k], v) for k, v in module.state_dict().items()
               if v.is_floating_point())


class StepCounter(L.Callback):
    """Counts optimiser steps and, per step, which parameters have a gradient."""

    def __init__(self):
        self.stepped = []

    def on_before_optimizer_step(self, trainer, module, optimizer):
        self.stepped.append({n for n, p in module.named_parameters() if p.grad is not None})


def test_phase1_takes_two_optimizer_steps_per_batch_and_leaves_the_nca(tmp_path):
    task = _lnca(phase="ae", **FAST)
    nca0 = _snapshot(task.model.cell)
    trainer = _trainer(tmp_path, 1, batches=3)
    counter = StepCounter()
    trainer.callbacks.append(counter)
    trainer.fit(task, datamodule=_dm())
    assert trainer.global_step == 3  # one training step per batch ...
    assert len(counter.stepped) == 6  # ... of two optimiser steps (Eq. 3-5, then Eq. 6)
    assert all(names and all(n.startswith("model.autoencoder.") for n in names)
               for names in counter.stepped)
    assert not _changed(nca0, task.model.cell)
    assert not any(p.requires_grad for p in task.model.cell.parameters())  # frozen, for DDP


def test_phase2_chained_from_phase1_file(tmp_path):
    """Phase 1's run writes the autoencoder file; phase 2's run starts from it and freezes it."""
    phase1 = _lnca(phase="ae", **FAST)
    _trainer(tmp_path, 1).fit(phase1, datamodule=_dm())
    saved = torch.load(phase1.ae_file)
    task = _lnca(phase="nca", ae_checkpoint=str(phase1.ae_file), **FAST)
    nca0 = _snapshot(task.model.cell)
    trainer = _trainer(tmp_path, 1)
    counter = StepCounter()
    trainer.callbacks.append(counter)
    trainer.fit(task, datamodule=_dm())
    assert len(counter.stepped) == 4  # a fresh and a pool step per batch
    assert all(names and all(n.startswith("model.automaton.cell.") for n in names)
               for names in counter.stepped)
    for k, v in saved.items():  # phase 2 starts from phase 1's autoencoder and keeps it
        assert torch.equal(task.model.autoencoder.state_dict()[k], v)
    assert not task.model.autoencoder.training  # BatchNorm statistics frozen too
    assert _changed(nca0, task.model.cell)  # while the NCA trains
    assert not task.in_phase1()


def test_gradient_accumulation_is_refused(tmp_path):
    trainer = L.Trainer(max_epochs=1, limit_train_batches=2, accumulate_grad_batches=2,
                        accelerator="cpu", logger=False, enable_checkpointing=False,
                        enable_progress_bar=False, default_root_dir=str(tmp_path))
    with pytest.raises(ValueError, match="accumulation"):
        trainer.fit(_lnca(phase="ae", **FAST), datamodule=_dm())


def test_phase1_keeps_the_autoencoder_with_the_best_validation_psnr(tmp_path):
    task = _lnca(phase="ae", ae_monitor="psnr", **FAST)
    seen = []

    class Spy(L.Callback):  # runs before the task's own hook, with the same autoencoder
        def on_validation_epoch_end(self, trainer, module):
            seen.append((float(trainer.callback_metrics["val/ae_psnr"]),
                         _snapshot(module.model.autoencoder)))

    trainer = _trainer(tmp_path, 3)
    trainer.callbacks.append(Spy())
    trainer.fit(task, datamodule=_dm())
    best_psnr, best_ae = max(seen, key=lambda item: item[0])
    assert task.best_ae_score == pytest.approx(best_psnr)
    for k, v in torch.load(task.ae_file).items():
        assert torch.equal(best_ae[k], v)


def test_phase2_alone_loads_the_autoencoder_checkpoint(tmp_path):
    donor = _lnca()
    path = tmp_path / "ae.pt"
    torch.save(donor.model.autoencoder.state_dict(), path)
    task = _lnca(phase="nca", ae_checkpoint=str(path), **FAST)
    trainer = _trainer(tmp_path, 1)
    trainer.fit(task, datamodule=_dm())
    for k, v in donor.model.autoencoder.state_dict().items():
        assert torch.equal(task.model.autoencoder.state_dict()[k], v)
    assert len(task.pool) == 8  # fresh states went into the pool
    with pytest.raises(ValueError, match="not found"):
        _lnca(phase="nca",
              ae_checkpoint=str(tmp_path / "nope.pt")).load_autoencoder(tmp_path / "nope.pt")


def test_phase_nca_decoder_trains_cell_and_decoder_and_keeps_the_encoder(tmp_path):
    donor = _lnca()
    path = tmp_path / "ae.pt"
    torch.save(donor.model.autoencoder.state_dict(), path)
    task = _lnca(phase="nca+decoder", ae_checkpoint=str(path), **FAST)
    ae = task.model.autoencoder
    encoder0 = _snapshot(donor.model.autoencoder.encoder_modules())  # what setup loads
    decoder0 = _snapshot(donor.model.autoencoder.decoder_modules())
    trainer = _trainer(tmp_path, 1)
    counter = StepCounter()
    trainer.callbacks.append(counter)
    trainer.fit(task, datamodule=_dm())
    decoder = {f"model.autoencoder.{n}" for n, _ in ae.named_parameters()
               if n.split(".")[0] in ("up", "mix", "decoder_blocks", "out")}
    for names in counter.stepped:  # every step: the cell and the whole decoder, nothing else
        assert decoder <= names
        assert all(n.startswith("model.automaton.cell.") or n in decoder for n in names)
    assert _changed(decoder0, ae.decoder_modules())
    assert not _changed(encoder0, ae.encoder_modules())  # weights and BatchNorm statistics
    assert not any(p.requires_grad for p in ae.encoder_modules().parameters())  # for DDP


def test_encoder_and_decoder_modules_split_the_autoencoder():
    ae = _lnca().model.autoencoder
    enc = {id(p) for p in ae.encoder_modules().parameters()}
    dec = {id(p) for p in ae.decoder_modules().parameters()}
    assert not enc & dec and enc | dec == {id(p) for p in ae.parameters()}


def test_phase2_ssim_term_is_one_minus_ssim_of_the_read_out_and_joins_the_total():
    from torchmetrics.functional.image import structural_similarity_index_measure as ssim

    plain = _lnca()
    with_ssim = _lnca(nca_loss={"ssim": 50.0})
    with_ssim.model.load_state_dict(plain.model.state_dict())
    m = plain.model.eval()
    with_ssim.model.eval()
    torch.manual_seed(0)
    clean = torch.rand(2, 3, 16, 16)
    degraded = (clean + 0.2 * torch.randn_like(clean)).clamp(0, 1)
    skip, z = m.autoencoder.encode(degraded)
    state = m.seed(z)
    a = plain.phase2_losses(state, clean, degraded, skip, z)
    b = with_ssim.phase2_losses(state, clean, degraded, skip, z)
    assert "ssim_nca" not in a  # weight 0: the paper's phase 2, nothing more computed
    expected = 1 - ssim(m.read_out(degraded, state, skip), clean, data_range=1.0)
    assert expected > 0.05 and torch.isclose(b["ssim_nca"], expected)
    assert torch.isclose(b["loss_nca"], a["loss_nca"] + 50.0 * expected)
    with pytest.raises(ValueError, match="ssim must be 0 or more"):
        LatentNCALoss(ssim=-1.0)
    # the SSIM term alone trains the decoder in phase nca+decoder
    dec = _lnca(phase="nca+decoder", ae_checkpoint="ae.pt", nca_loss={"rec": 0.0, "ssim": 1.0})
    dec.model.eval()
    state = dec.model.seed(dec.model.autoencoder.encode(degraded)[1])
    skip = dec.model.autoencoder.encode(degraded)[0]
    dec.phase2_losses(state, clean, degraded, skip, z)["loss_nca"].backward()
    grads = [p.grad for p in dec.model.autoencoder.decoder_modules().parameters()]
    assert all(g is not None for g in grads) and any(g.abs().sum() > 0 for g in grads)


def test_phase_nca_decoder_errors_and_the_first_version_of_the_option():
    with pytest.raises(ValueError, match="set ae_checkpoint"):
        _lnca(phase="nca+decoder")
    with pytest.raises(ValueError, match="rec or ssim must be positive"):
        _lnca(phase="nca+decoder", ae_checkpoint="ae.pt", nca_loss={"rec": 0.0})
    old = {"phase": "nca", "train_decoder": True, "ae_checkpoint": "ae.pt", "lr_nca": 5e-4}
    assert LNCARestoration.upgrade_hyperparameters(old) == {
        "phase": "nca+decoder", "ae_checkpoint": "ae.pt", "lr": {"ae": 1e-2, "nca": 5e-4}}


def test_phase2_init_from_an_lnca_checkpoint_takes_its_weights(tmp_path):
    torch.manual_seed(0)
    path = tmp_path / "ae.pt"
    torch.save(_lnca().model.autoencoder.state_dict(), path)
    source = _lnca(phase="nca", ae_checkpoint=str(path), **FAST)
    trainer = _trainer(tmp_path, 1)
    trainer.fit(source, datamodule=_dm())
    ckpt = tmp_path / "source.ckpt"
    trainer.save_checkpoint(ckpt)
    torch.manual_seed(1)
    tuned = _lnca(phase="nca+decoder", init_from=str(ckpt), **FAST)
    for k, v in source.model.state_dict().items():
        assert torch.equal(tuned.model.state_dict()[k], v)
    path.unlink()  # the autoencoder comes from init_from
    trainer = _trainer(tmp_path, 1)
    trainer.fit(tuned, datamodule=_dm())
    assert _changed(_snapshot(source.model.cell), tuned.model.cell)
    trainer.save_checkpoint(tmp_path / "tuned.ckpt")
    ckpt.rename(tmp_path / "moved.ckpt")  # the fine-tuned run loads without its source
    for reloaded in (LNCARestoration.from_checkpoint_file(tmp_path / "tuned.ckpt", "phase"),
                     LNCARestoration.load_from_checkpoint(tmp_path / "tuned.ckpt")):
        for k, v in tuned.model.state_dict().items():
            assert torch.equal(reloaded.model.state_dict()[k], v)
    ckpt = tmp_path / "moved.ckpt"
    with pytest.raises(FileNotFoundError, match="init_from: no checkpoint"):
        _lnca(phase="nca", init_from=str(tmp_path / "none.ckpt"))
    with pytest.raises(ValueError, match="do not fit"):
        LNCARestoration(model="lnca_nafca", image_size=16, pool_size=8, phase="nca",
                        model_args={**TINY, "latent_channels": 8}, init_from=str(ckpt))


def test_tiny_lnca_nca_loss_falls():
    torch.manual_seed(0)
    task = _lnca(phase="nca", ae_checkpoint="set-up-reads-it.pt", rollout={"steps": [4, 4]})
    m = task.model
    clean = torch.rand(4, 3, 16, 16)
    degraded = coherent_noise(clean, 0.5)
    skip, z = m.autoencoder.encode(degraded)
    z_true = m.autoencoder.encode(clean)[1]
    opt = torch.optim.Adam(m.cell.parameters(), lr=3e-3)
    losses = []
    for _ in range(40):
        state, _ = m.automaton.rollout(m.seed(z.detach()))
        terms = task.phase2_losses(state, clean, degraded, skip.detach(), z_true.detach())
        loss = terms["loss_nca"]
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(loss.item())
    assert np.mean(losses[-5:]) < 0.5 * np.mean(losses[:5])


def test_tiny_pixel_vitca_loss_falls():
    from nca_zoo.automaton import normalize_gradients

    torch.manual_seed(0)
    task = ViTCARestoration(rollout={"steps": [4, 4]}, image_size=16, pool_size=4,
                            model_args={"embed_dim": 16, "mlp_dim": 8, "hidden_channels": 4})
    m = task.model
    clean = torch.rand(4, 3, 16, 16)
    degraded = coherent_noise(clean, 0.5)
    opt = torch.optim.Adam(m.parameters(), lr=1e-2)
    losses = []
    for _ in range(30):
        state, _ = m.automaton.rollout(m.seed(degraded))
        loss = task.losses(state, clean)["loss"]
        opt.zero_grad()
        loss.backward()
        normalize_gradients(m)
        opt.step()
        losses.append(loss.item())
    assert np.mean(losses[-5:]) < 0.7 * np.mean(losses[:5])


def test_pixel_vitca_pool_policy(tmp_path):
    """Fresh batches are appended; every 2nd batch continues pool states and writes them back."""
    task = ViTCARestoration(rollout={"steps": [2, 2], "eval_steps": 2}, pool_size=12,
                            model_args={"embed_dim": 16, "mlp_dim": 8, "hidden_channels": 4})
    trainer = _trainer(tmp_path, 1, batches=4)
    trainer.fit(task, datamodule=_dm())
    assert len(task.pool) == 8  # batches 0 and 2 fresh (4 each); 1 and 3 from the pool
    filled = task.pool.state[:8]
    assert not torch.all(filled[:, 3:6] == 0.5)  # pool states hold rolled-out outputs, not seeds


def test_autoencoder_from_a_lightning_checkpoint(tmp_path):
    donor = _lnca(phase="ae")
    torch.save({"state_dict": donor.state_dict()}, tmp_path / "phase1.ckpt")
    task = _lnca()
    task.load_autoencoder(tmp_path / "phase1.ckpt")
    for k, v in donor.model.autoencoder.state_dict().items():
        assert torch.equal(task.model.autoencoder.state_dict()[k], v)
    torch.save({"state_dict": {"other.weight": torch.zeros(1)}}, tmp_path / "bad.ckpt")
    with pytest.raises(ValueError, match="no LNCA autoencoder"):
        task.load_autoencoder(tmp_path / "bad.ckpt")


def test_curriculum_progress_follows_steps_when_the_run_is_bounded_by_steps():
    """``max_steps`` alone (``max_epochs`` -1): progress is step / max_steps, not stuck at 0."""
    from types import SimpleNamespace

    dm = RestorationDataModule(task="noise", image_size=16)
    module = SimpleNamespace()
    dm.trainer = SimpleNamespace(lightning_module=module, max_epochs=-1, max_steps=200,
                                 global_step=50, current_epoch=3)
    assert dm.progress() == 0.25
    assert dm.curriculum.strength(dm.progress()) == 0.25
    dm.trainer.global_step = 150
    assert dm.curriculum.strength(dm.progress()) == 0.75
    dm.trainer.max_epochs, dm.trainer.max_steps = 10, -1     # epochs decide when they are set
    assert dm.progress() == 0.3
