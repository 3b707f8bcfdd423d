"""GNCA prior (Reptile, Nichol et al. 2018): update rule, meta-training, shipping, compress init."""
import lightning as L
import pytest
import torch

import nca_zoo
from nca_zoo.automaton import normalize_gradients
from nca_zoo.compression.prior import (
    DEFAULT_PRIOR_WEIGHT,
    FIT_LRS,
    PRIOR_NAMES,
    RANDOM_FIT_LR,
    PriorError,
    adapt,
    bank_like,
    final_state_loss,
    fit_lr,
    init_from_prior,
    load_prior,
    psnr_curve,
    recycle_dormant,
    reptile_loss,
    select_fit_lr,
    unit_activity,
)
from nca_zoo.data.held_out import HELD_OUT_PHOTOS, held_out_patches
from nca_zoo.data.patch_bank import PatchBankDataModule
from nca_zoo.data.prior_patches import TRAINING_PHOTOS, PriorPatchDataModule
from nca_zoo.drivers.compression import compress
from nca_zoo.models.gnca import GNCA_SIZES
from nca_zoo.tasks import GNCACompression, GNCAPrior


def _cells_equal(a, b) -> bool:
    return all(torch.equal(x, y) for x, y in zip(a.cell.parameters(), b.cell.parameters()))


def test_reptile_step_moves_the_prior_to_the_mean_adapted_weights():
    """Known case: one SGD step of size eps gives theta + eps (mean phi - theta)."""
    torch.manual_seed(0)
    prior = nca_zoo.create_model("gnca_small", num_models=1, patch_size=8)
    adapted = nca_zoo.create_model("gnca_small", num_models=3, patch_size=8)
    with torch.no_grad():
        for p in adapted.parameters():
            p.normal_()
    theta = {n: p.detach().clone() for n, p in prior.cell.named_parameters()}
    opt = torch.optim.SGD(prior.parameters(), lr=0.25)
    reptile_loss(prior, adapted).backward()
    opt.step()
    for name, p in prior.cell.named_parameters():
        phi = getattr(adapted.cell, name).detach()
        want = theta[name] + 0.25 * (phi.mean(0, keepdim=True) - theta[name])
        torch.testing.assert_close(p.detach(), want)
    # with eps = 1 the prior lands on the mean of the adapted solutions
    opt = torch.optim.SGD(prior.parameters(), lr=1.0)
    opt.zero_grad()
    reptile_loss(prior, adapted).backward()
    opt.step()
    for name, p in prior.cell.named_parameters():
        torch.testing.assert_close(p.detach(), getattr(adapted.cell, name).mean(0, keepdim=True))


def test_the_bank_adapts_every_patch_as_if_alone():
    """One bank of copies = independent inner loops (no Python loop over patches needed)."""
    torch.manual_seed(0)
    prior = nca_zoo.create_model("gnca_small", num_models=1, patch_size=8, steps=6)
    targets = torch.rand(3, 3, 8, 8)
    bank = bank_like(prior, 3, 8, 6)
    adapt(bank, targets, 3, 1e-2, 6)
    for k in range(3):
        alone = bank_like(prior, 1, 8, 6)
        adapt(alone, targets[k : k + 1], 3, 1e-2, 6)
        for a, b in zip(alone.cell.parameters(), bank.cell.parameters()):
            torch.testing.assert_close(a[0], b[k], rtol=1e-4, atol=1e-6)


def test_adapt_drops_the_lr_tenfold_like_compress():
    """``lr_decay_at``: Adam at lr, then lr / 10 -- the same steps as a MultiStepLR schedule."""
    torch.manual_seed(0)
    prior = nca_zoo.create_model("gnca_small", num_models=1, patch_size=8, steps=6)
    targets = torch.rand(2, 3, 8, 8)
    banks = [bank_like(prior, 2, 8, 6) for _ in range(3)]
    adapt(banks[0], targets, 4, 1e-2, 6, lr_decay_at=0.5)
    adapt(banks[1], targets, 2, 1e-2, 6)
    opt = torch.optim.Adam(banks[2].parameters(), lr=1e-2)
    sched = torch.optim.lr_scheduler.MultiStepLR(opt, [2], 0.1)
    for _ in range(4):
        opt.zero_grad()
        final_state_loss(banks[2], targets, 6).backward()
        normalize_gradients(banks[2], leading_dims=1)
        opt.step()
        sched.step()
    for a, b in zip(banks[0].cell.parameters(), banks[2].cell.parameters()):
        torch.testing.assert_close(a, b)
    assert any(not torch.equal(a, b) for a, b in zip(banks[0].cell.parameters(),
                                                     banks[1].cell.parameters()))


def _meta_train(tmp_path, max_steps=12):
    L.seed_everything(0, verbose=False)
    dm = PriorPatchDataModule(["embedded:coffee"], size=32, patch_size=8, patches_per_step=4,
                              iterations_per_epoch=max_steps, val_patches=2)
    task = GNCAPrior("gnca_small", steps=10, inner_steps=3, inner_lr=1e-2)
    trainer = L.Trainer(max_steps=max_steps, logger=False, enable_checkpointing=False,
                        enable_progress_bar=False, enable_model_summary=False,
                        num_sanity_val_steps=0, limit_val_batches=1, default_root_dir=tmp_path)
    trainer.fit(task, datamodule=dm)
    return task, dm, trainer


def test_tiny_meta_training_beats_random_init_on_its_patches(tmp_path):
    task, dm, trainer = _meta_train(tmp_path)
    assert trainer.global_step == 12 and task.prior.patch_size == 8
    targets = next(iter(dm.train_dataloader()))
    losses = {}
    for init in ("random", "prior"):
        torch.manual_seed(1)
        bank = nca_zoo.create_model("gnca_small", num_models=len(targets), patch_size=8, steps=10)
        if init == "prior":
            init_from_prior(bank, task.prior)
        losses[init] = adapt(bank, targets, 3, 1e-2, 10) + [
            final_state_loss(bank, targets, 10).item() / len(targets)]
    # after a few iterations, the prior's fit is well ahead; and fitting from it still improves
    assert losses["prior"][-1] < 0.7 * losses["random"][-1]
    assert losses["prior"][0] < losses["random"][0]
    assert losses["prior"][-1] < losses["prior"][0]
    assert "val/psnr" in trainer.callback_metrics


def test_unit_activity_finds_units_that_never_fire():
    """Known case: a unit with a large negative bias and no input weights never fires."""
    torch.manual_seed(0)
    bank = nca_zoo.create_model("gnca_small", num_models=2, patch_size=8, steps=6)
    with torch.no_grad():
        bank.cell.w2.normal_(std=0.1)
        bank.cell.w1[0, 3].zero_()
        bank.cell.b1[0, 3] = -1.0
        bank.cell.b1[1, 5] = 5.0  # always on
    act = unit_activity(bank, steps=6)
    assert act.shape == (2, bank.cell.hidden)
    assert act[0, 3] == 0 and act[1, 5] > 0
    torch.testing.assert_close(act.mean(dim=1), torch.ones(2))


def test_recycling_dormant_units_keeps_the_image_and_revives_them():
    """ReDo: same grown patch, recycled units fire again and receive gradients."""
    torch.manual_seed(0)
    bank = nca_zoo.create_model("gnca_small", num_models=2, patch_size=8, steps=6)
    with torch.no_grad():
        bank.cell.w2.normal_(std=0.1)
        bank.cell.b1[:, :10] = -5.0  # half the units of both models dormant
        bank.cell.w1[:, :10] = 0.0
    before = bank(steps=6)
    dead = unit_activity(bank, steps=6) == 0
    gen = torch.Generator().manual_seed(0)
    mask = recycle_dormant(bank, 0.0, steps=6, generator=gen)
    assert torch.equal(mask, dead) and mask[:, :10].all()
    torch.testing.assert_close(bank(steps=6), before)
    assert (bank.cell.w2.transpose(1, 2)[mask] == 0).all()  # outgoing weights zeroed
    assert (unit_activity(bank, steps=6)[mask] > 0).float().mean() > 0.5
    bank.train()
    final_state_loss(bank, torch.rand(2, 3, 8, 8), 6).backward()
    assert bank.cell.w2.grad[:, :, :10].abs().sum() > 0


def test_meta_training_with_recycling_leaves_fewer_dormant_units(tmp_path):
    L.seed_everything(0, verbose=False)
    dm = PriorPatchDataModule(["embedded:coffee"], size=32, patch_size=8, patches_per_step=4,
                              iterations_per_epoch=4, val_patches=2)
    task = GNCAPrior("gnca_small", steps=10, inner_steps=3, recycle_every=2)
    trainer = L.Trainer(max_steps=4, logger=False, enable_checkpointing=False,
                        enable_progress_bar=False, enable_model_summary=False,
                        num_sanity_val_steps=0, limit_val_batches=0, default_root_dir=tmp_path)
    trainer.fit(task, datamodule=dm)
    assert (unit_activity(task.prior, 10) == 0).sum() == 0  # recycled at the last step
    assert "train/recycled_units" in trainer.callback_metrics
    with pytest.raises(ValueError, match="recycle_every"):
        GNCAPrior("gnca_small", recycle_every=-1)


def test_prior_save_load_round_trip(tmp_path):
    task, _, _ = _meta_train(tmp_path, max_steps=2)
    folder = nca_zoo.save_pretrained(task.prior, tmp_path / "prior", "gnca_small",
                                     {"num_models": 1, "patch_size": 8, "steps": 10})
    loaded = load_prior(*GNCA_SIZES["small"], str(folder))
    assert _cells_equal(loaded, task.prior)
    bank = init_from_prior(nca_zoo.create_model("gnca_small", num_models=3), loaded)
    for p, q in zip(bank.cell.parameters(), loaded.cell.parameters()):
        assert torch.equal(p, q.expand_as(p))


def _random_init_bytes_by_hand(image, size, patch, iterations, seed):
    """The pre-prior path of compress: the paper task (random init), trained like train_bank."""
    dm = PatchBankDataModule([image], size=None, patch_size=patch,
                             iterations_per_epoch=iterations)
    L.seed_everything(seed, verbose=False)
    task = GNCACompression(model=f"gnca_{size}", rollout={"steps": 10}, batch_size=1, lr=1e-2,
                           loss_over="final")
    L.Trainer(max_steps=iterations, accelerator="auto", devices=1, logger=False,
              enable_checkpointing=False, enable_progress_bar=False, enable_model_summary=False,
              limit_val_batches=0, num_sanity_val_steps=0, deterministic=True
              ).fit(task, datamodule=dm)
    return task.to_nca(0)


@pytest.fixture
def tiny_image(tmp_path):
    from PIL import Image

    path = tmp_path / "tiny.png"
    Image.fromarray((torch.rand(16, 16, 3) * 255).byte().numpy()).save(path)
    return str(path)


def test_compress_with_random_init_is_unchanged(tiny_image):
    data, task, _ = compress(tiny_image, "small", patch=8, iterations=3, seed=2, steps=10,
                             init="random")
    assert task.init.weights == "random"
    assert data == _random_init_bytes_by_hand(tiny_image, "small", 8, 3, 2)


@pytest.mark.parametrize("size", list(GNCA_SIZES))
def test_init_prior_loads_the_shipped_prior_of_the_right_size(size):
    prior = load_prior(*GNCA_SIZES[size])
    assert prior.card["name"] == PRIOR_NAMES[size]
    task = GNCACompression(model=f"gnca_{size}", init={"weights": "prior", "prior_weight": 1.0},
                           num_patches=3, patch_size=8)
    task.apply_init()
    for p, q in zip(task.bank.cell.parameters(), prior.cell.parameters()):
        assert torch.equal(p, q.expand_as(p))


def test_compress_starts_from_the_prior_by_default(tiny_image):
    _, task, _ = compress(tiny_image, "small", patch=8, iterations=1, steps=10)
    assert task.init.weights == "prior"
    assert task.init.prior_weight == DEFAULT_PRIOR_WEIGHT
    _, task, _ = compress(tiny_image, "small", patch=8, iterations=1, steps=10, prior_weight=1.0)
    # one step of Adam from the prior at the prior's fit lr: every weight moves by at most lr
    prior = load_prior(*GNCA_SIZES["small"])
    assert task.hparams.lr == fit_lr(prior)
    for p, q in zip(task.bank.cell.parameters(), prior.cell.parameters()):
        assert (p.detach() - q).abs().max() <= fit_lr(prior) + 1e-6


def test_compress_fits_at_the_priors_lr_unless_told(tiny_image, tmp_path, capsys):
    from nca_zoo.cli import compress as compress_cli
    from nca_zoo.cli import run_cli

    prior = nca_zoo.create_model("gnca_small", num_models=1)
    folder = nca_zoo.save_pretrained(prior, tmp_path / "prior", "gnca_small", {"num_models": 1},
                                     card={"fit_lr": 4e-3})
    assert fit_lr(load_prior(*GNCA_SIZES["small"], str(folder))) == 4e-3
    assert fit_lr(prior) == RANDOM_FIT_LR  # no card: the random-init lr
    kw = dict(patch=8, iterations=1, steps=10)
    assert compress(tiny_image, "small", prior=str(folder), **kw)[1].hparams.lr == 4e-3
    assert compress(tiny_image, "small", prior=str(folder), lr=2e-2, **kw)[1].hparams.lr == 2e-2
    assert compress(tiny_image, "small", init="random", **kw)[1].hparams.lr == RANDOM_FIT_LR
    out = tmp_path / "x.nca"
    argv = [tiny_image, "-o", str(out), "--codec", "gnca", "--size", "small", "--patch", "8",
            "--iterations", "1",
            "--lr", "0", "--quiet"]
    assert run_cli(compress_cli.main, argv) == 2
    assert capsys.readouterr().err.strip() == "error: --lr must be > 0, got 0.0"
    assert not out.exists()


def test_select_fit_lr_keeps_the_lr_with_the_best_psnr():
    prior = load_prior(*GNCA_SIZES["small"])
    targets = held_out_patches(2, patch=8, size=32)
    lrs = (1e-3, 1e-2)
    sweep = select_fit_lr(prior, targets, lrs, at=(2, 4), steps=10)
    assert set(sweep["psnr"]) == set(lrs) and sweep["at"] == [2, 4]
    means = {lr: sum(c.values()) / 2 for lr, c in sweep["psnr"].items()}
    assert sweep["fit_lr"] == max(means, key=means.get)
    # the sweep's curves are psnr_curve's: the same fit, read at the same checkpoints
    again = psnr_curve(targets, "small", "prior", (2, 4), prior=prior, lr=1e-3, steps=10)
    assert again["psnr"] == sweep["psnr"][1e-3]
    with pytest.raises(ValueError, match="lrs must be positive"):
        select_fit_lr(prior, targets, (0.0,), at=(1,), steps=10)


@pytest.mark.parametrize("size", list(GNCA_SIZES))
def test_every_shipped_prior_names_its_fit_lr(size):
    card = load_prior(*GNCA_SIZES[size]).card
    assert card["fit_lr"] in FIT_LRS
    sweep = card["fit_lr_sweep"]["psnr"]  # chosen = best mean PSNR on meta-validation crops
    assert card["fit_lr"] == max((float(k) for k in sweep),
                                 key=lambda k: sum(sweep[str(k)].values()))


def test_prior_weight_blends_the_prior_with_each_models_random_init():
    prior = load_prior(*GNCA_SIZES["small"])
    torch.manual_seed(0)
    bank = nca_zoo.create_model("gnca_small", num_models=3, patch_size=8)
    random = [p.detach().clone() for p in bank.cell.parameters()]
    init_from_prior(bank, prior, 0.25)
    for p, r, q in zip(bank.cell.parameters(), random, prior.cell.parameters()):
        torch.testing.assert_close(p.detach(), 0.25 * q.expand_as(p) + 0.75 * r)
    assert not torch.equal(bank.cell.w1[0], bank.cell.w1[1])  # each model keeps its own noise
    init_from_prior(bank, prior, 1.0)
    assert all(torch.equal(p, q.expand_as(p))
               for p, q in zip(bank.cell.parameters(), prior.cell.parameters()))
    # the task blends its own random bank the same way
    task = GNCACompression(model="gnca_small", init={"weights": "prior", "prior_weight": 0.5},
                           num_patches=2, patch_size=8)
    random = [p.detach().clone() for p in task.bank.cell.parameters()]
    task.apply_init()
    for p, r, q in zip(task.bank.cell.parameters(), random, prior.cell.parameters()):
        torch.testing.assert_close(p.detach(), 0.5 * q.expand_as(p) + 0.5 * r)
    for bad in (0.0, 1.5, float("nan")):
        with pytest.raises(ValueError, match=r"prior_weight must be in \(0, 1\]"):
            init_from_prior(bank, prior, bad)
        with pytest.raises(ValueError, match=r"prior_weight must be in \(0, 1\]"):
            GNCACompression(model="gnca_small", init={"weights": "prior", "prior_weight": bad})


def test_bad_prior_weight_on_the_command_line_is_one_line(tmp_path, tiny_image, capsys):
    from nca_zoo.cli import compress as compress_cli
    from nca_zoo.cli import run_cli

    out = tmp_path / "x.nca"
    argv = [tiny_image, "-o", str(out), "--codec", "gnca", "--size", "small", "--patch", "8",
            "--iterations", "1",
            "--prior-weight", "0", "--quiet"]
    assert run_cli(compress_cli.main, argv) == 2
    err = capsys.readouterr().err.strip()
    assert err == "error: --prior-weight must be in (0, 1], got 0.0"
    assert not out.exists()


def test_wrong_prior_is_a_clear_error(tmp_path, tiny_image, capsys):
    from nca_zoo.cli import compress as compress_cli
    from nca_zoo.cli import run_cli

    with pytest.raises(PriorError, match=r"n_c=16, h_s=32 \(GNCA-medium\).*n_c=14, h_s=20"):
        load_prior(*GNCA_SIZES["small"], "gnca-medium-prior")
    with pytest.raises(PriorError, match="no shipped prior for n_c=10"):
        load_prior(10, 20)
    with pytest.raises(PriorError, match="is not a GNCA prior"):
        folder = nca_zoo.save_pretrained(nca_zoo.create_model("nafnet_small", width=4),
                                         tmp_path / "nafnet", "nafnet_small", {"width": 4})
        load_prior(*GNCA_SIZES["small"], str(folder))
    bank = nca_zoo.create_model("gnca_small", num_models=2)
    folder = nca_zoo.save_pretrained(bank, tmp_path / "bank", "gnca_small", {"num_models": 2})
    with pytest.raises(PriorError, match="a prior is one NCA"):
        load_prior(*GNCA_SIZES["small"], str(folder))
    out = tmp_path / "x.nca"
    argv = [tiny_image, "-o", str(out), "--codec", "gnca", "--size", "small", "--patch", "8",
            "--iterations", "1",
            "--prior", "gnca-large-prior", "--quiet"]
    assert run_cli(compress_cli.main, argv) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("error: prior gnca-large-prior has n_c=16, h_s=40") and "\n" not in err
    assert not out.exists()


def test_held_out_photos_are_never_trained_on():
    assert TRAINING_PHOTOS and not set(TRAINING_PHOTOS) & set(HELD_OUT_PHOTOS)
    dm = PriorPatchDataModule(size=64, patch_size=8, val_patches=1)
    assert dm.sources == [f"embedded:{p}" for p in TRAINING_PHOTOS]
    with pytest.raises(ValueError, match="held-out photo"):
        PriorPatchDataModule(["embedded:coffee", "embedded:camera"], size=64, patch_size=8)
    test = held_out_patches(6, patch=8, size=32)
    assert test.shape == (6, 3, 8, 8)
    # round robin: the first six test patches come from the six different held-out photos
    assert len({tuple(p.flatten()[:16].tolist()) for p in test}) == 6


def test_crops_are_deterministic_and_cover_the_patch():
    a = PriorPatchDataModule(["embedded:coffee"], size=[32, 48], patch_size=8, seed=3)
    b = PriorPatchDataModule(["embedded:coffee"], size=[32, 48], patch_size=8, seed=3)
    x, y = next(iter(a.train_dataloader())), next(iter(b.train_dataloader()))
    assert x.shape == (8, 3, 8, 8) and torch.equal(x, y)
    assert not torch.equal(x[0], x[1])
    with pytest.raises(ValueError, match="smaller than a 40 px patch"):
        PriorPatchDataModule(["embedded:coffee"], size=32, patch_size=40)


def test_quickstart_fits_at_the_medium_priors_lr():
    from pathlib import Path

    import yaml

    config = Path(__file__).resolve().parents[1] / "configs" / "gnca" / "quickstart.yaml"
    args = yaml.safe_load(config.read_text())["model"]["init_args"]
    assert args["init"]["weights"] == "prior" and args["model"] == "gnca_medium"
    assert args["lr"] == fit_lr(load_prior(*GNCA_SIZES["medium"]))
