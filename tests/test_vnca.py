"""VNCA (Palm et al. 2022), the Diff-NCA paper's VAE baseline: size, shapes, likelihood."""
import math

import lightning as L
import pytest
import torch
from PIL import Image

import nca_zoo
from nca_zoo._registry import model_info
from nca_zoo.cli._common import run_cli
from nca_zoo.cli.sample import main as sample_main
from nca_zoo.data.diffusion import DiffusionDataModule
from nca_zoo.layers.dml import DiscretizedLogisticMixture
from nca_zoo.models.vnca import PAPER_PARAMS, VNCA
from nca_zoo.tasks.vnca import VNCATask, load_vnca

TINY = model_info("vnca").tiny
SIDE = 16  # the tiny model: 2x2 doubled 3 times


def tiny(**overrides) -> VNCA:
    torch.manual_seed(0)
    return VNCA(**{**TINY, **overrides})


def images(n: int = 2, seed: int = 1) -> torch.Tensor:
    return torch.rand(n, 3, SIDE, SIDE, generator=torch.Generator().manual_seed(seed))


@torch.no_grad()
def move_off_init(model: torch.nn.Module) -> None:
    """Small random weights for the zero-initialised last layer, so the NCA state moves."""
    g = torch.Generator().manual_seed(5)
    last = model.cell.net[-1]
    last.weight.copy_(0.1 * torch.randn(last.weight.shape, generator=g))
    last.bias.copy_(0.1 * torch.randn(last.bias.shape, generator=g))


def test_parameter_count_is_the_papers():
    """Diff-NCA Table 2: 9,732,416 (encoder 8,550,208 + update network 1,182,208)."""
    with torch.device("meta"):
        model = nca_zoo.create_model("vnca")
    n = sum(p.numel() for p in model.parameters())
    assert abs(n - PAPER_PARAMS) <= 0.01 * PAPER_PARAMS
    assert n == PAPER_PARAMS == model_info("vnca").num_params
    assert sum(p.numel() for p in model.encoder.parameters()) == 8_550_208
    assert sum(p.numel() for p in model.cell.parameters()) == 1_182_208
    assert model.image_size == 64 and model.steps == 8 and model.doublings == 5
    assert model.automaton.update_rate == 1.0 and model.automaton.checkpoint_every == 1


def test_full_size_decoder_grows_64px_from_2x2():
    with torch.device("meta"):
        model = VNCA()
        state = model.decode(torch.zeros(2, 256))
    assert state.shape == (2, 256, 64, 64)


def test_shapes_and_finite_elbo():
    model = tiny()
    x = images()
    q = model.encode(x)
    assert q.loc.shape == q.scale.shape == (2, TINY["z_size"])
    assert model.decode(q.loc).shape == (2, TINY["z_size"], SIDE, SIDE)
    assert model(x).shape == model.reconstruct(x).shape == x.shape
    out = model.elbo(x)
    assert all(math.isfinite(float(v)) for v in out)
    assert torch.isclose(out.loss, out.recon + out.kl) and out.kl >= 0
    bound = model.iwae(x, 4, generator=torch.Generator().manual_seed(0))
    assert bound.shape == (2,) and torch.isfinite(bound).all()


def test_checkpointing_changes_no_gradient():
    grads = []
    for every in (0, 1, 3):
        model = tiny(checkpoint_every=every)
        move_off_init(model)
        model.elbo(images(), generator=torch.Generator().manual_seed(0)).loss.backward()
        grads.append([p.grad.clone() for p in model.parameters()])
    for other in grads[1:]:
        for a, b in zip(grads[0], other):
            torch.testing.assert_close(a, b, rtol=1e-5, atol=1e-6)


def test_likelihood_is_normalised_over_the_256_values():
    """Zero colour coefficients, same parameters for R, G, B: sum_v P(v) = 1 for each colour."""
    params = torch.zeros(1, 10, 1, 256)
    params[:, 1::3] = 0.3                    # locations
    params[:, 2::3] = -2.0                   # log-scales
    x = torch.arange(256.0).div(255).expand(1, 3, 1, 256)
    log_p = DiscretizedLogisticMixture(params).log_prob(x)   # 3 log P(v), colours alike
    torch.testing.assert_close(log_p.div(3).exp().sum(), torch.tensor(1.0), rtol=1e-4, atol=1e-4)
    with pytest.raises(ValueError, match="parameter maps"):
        DiscretizedLogisticMixture(torch.zeros(1, 9, 2, 2))


def test_tiny_model_learns_a_fixed_batch():
    model = tiny()
    x = images(4)
    opt = torch.optim.Adam(model.parameters(), lr=3e-3)
    losses = []
    for _ in range(40):
        opt.zero_grad()
        loss = model.elbo(x).loss
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 10.0)
        opt.step()
        losses.append(float(loss))
    assert all(math.isfinite(v) for v in losses)
    assert sum(losses[-5:]) / 5 < 0.8 * sum(losses[:5]) / 5, losses


def test_samples_from_the_prior():
    model = tiny()
    move_off_init(model)
    a = model.sample(3, generator=torch.Generator().manual_seed(0))
    b = model.sample(3, generator=torch.Generator().manual_seed(0))
    loc = model.sample(3, generator=torch.Generator().manual_seed(0), pixels="location")
    assert a.shape == loc.shape == (3, 3, SIDE, SIDE)
    assert torch.equal(a, b) and not torch.equal(a, loc)
    assert a.min() >= 0 and a.max() <= 1 and loc.min() >= 0 and loc.max() <= 1
    with pytest.raises(ValueError, match="pixels"):
        model.sample(1, pixels="mean")
    with pytest.raises(ValueError, match="n must be"):
        model.sample(0)


def test_fid_kid_of_prior_samples():
    """The diffusion models' FID / KID path (same split, extractor, references) takes VNCA."""
    from nca_zoo.diffusion.evaluate import vnca_metrics

    data = {"images": ["embedded:immunohistochemistry"], "size": SIDE, "stride": 32}
    m = vnca_metrics(tiny(), data, n=8, features="tiny")
    assert m["n"] == 8 and m["image_size"] == SIDE
    assert all(math.isfinite(m[k]) for k in ("fid_model", "kid_model", "fid_train", "fid_noise"))
    with pytest.raises(ValueError, match="the VNCA grows 16x16"):
        vnca_metrics(tiny(), {**data, "size": 32}, n=8)


def test_training_step_and_sampling_stay_on_the_device():
    """Fake CUDA (see tests/test_fake_cuda.py): the ELBO and the sampler make no CPU tensor."""
    from test_fake_cuda import (
        assert_on_cuda,
        assert_scalar_loss,
        attach_trainer,
        fake_cuda,
        to_fake_cuda,
    )

    torch.manual_seed(0)
    task = VNCATask(model_args=TINY)
    with fake_cuda():
        task, batch = to_fake_cuda(task, images())
        logged = attach_trainer(task)
        assert_scalar_loss(task.training_step(batch, 0), logged)
        for pixels in ("sample", "location"):
            assert_on_cuda(task.model.sample(2, pixels=pixels))


def test_bad_input_is_a_one_line_error():
    model = tiny()
    with pytest.raises(ValueError, match="takes 16x16 images, got 32x32"):
        model.encode(torch.rand(1, 3, 32, 32))
    with pytest.raises(ValueError, match="RGB batch"):
        model(torch.rand(1, 4, SIDE, SIDE))
    with pytest.raises(ValueError, match="z must be"):
        model.decode(torch.zeros(1, 5))
    with pytest.raises(ValueError, match="doublings must be >= 3"):
        VNCA(doublings=2)
    with pytest.raises(ValueError, match="z_size must be >= 10"):
        VNCA(z_size=8)


def test_task_trains_saves_and_loads(tmp_path):
    """Two fit steps on 16 px patches; the checkpoint and a pretrained folder load back."""
    dm = DiffusionDataModule(["embedded:immunohistochemistry"], size=SIDE, stride=64,
                             batch_size=2)
    torch.manual_seed(0)
    task = VNCATask(model_args=TINY, n_samples=4)
    trainer = L.Trainer(max_steps=2, accelerator="cpu", devices=1, logger=False,
                        limit_val_batches=1, val_check_interval=2, check_val_every_n_epoch=None,
                        num_sanity_val_steps=0, enable_progress_bar=False,
                        enable_model_summary=False, default_root_dir=tmp_path)
    trainer.fit(task, datamodule=dm)
    assert trainer.global_step == 2 and math.isfinite(float(trainer.callback_metrics["val/loss"]))
    assert len(list(tmp_path.rglob("samples/step*.png"))) == 1
    ckpt = tmp_path / "vnca.ckpt"
    trainer.save_checkpoint(ckpt)

    g = torch.Generator().manual_seed(3)
    want = task.generate(2, generator=g)
    for source in (ckpt, nca_zoo.save_pretrained(task.model, tmp_path / "pre", "vnca", TINY)):
        loaded = load_vnca(str(source))
        assert not loaded.training
        got = loaded.sample(2, generator=torch.Generator().manual_seed(3))
        assert torch.equal(got, want), source
        # the sampling CLI takes both: prior samples at the VNCA's own size, one-line refusals
        out = tmp_path / "s.png"
        flag = [str(source)] if source == ckpt else ["--model", str(source)]
        assert run_cli(sample_main, [*flag, "-o", str(out), "--n", "2", "--quiet"]) == 0
        assert Image.open(out).size == (2 * SIDE + 3 * 2, SIDE + 2 * 2)
        assert run_cli(sample_main, [*flag, "-o", str(out), "--steps", "5"]) == 2

    bad = tmp_path / "bad.ckpt"
    bad.write_bytes(b"not a checkpoint")
    with pytest.raises(ValueError, match="not a readable checkpoint"):
        load_vnca(str(bad))
    with pytest.raises(ValueError, match="16x16 images but this VNCA grows 64x64"):
        L.Trainer(max_steps=1, accelerator="cpu", devices=1, logger=False,
                  enable_checkpointing=False, enable_progress_bar=False,
                  enable_model_summary=False).fit(VNCATask(), datamodule=dm)
