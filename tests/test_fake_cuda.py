"""Every model's forward and every task's training step on a *fake* CUDA device (no GPU needed).

Each module is built on the CPU as usual and moved with ``.to("cuda:0")`` inside torch's
``FakeTensorMode``, as Lightning moves it to a GPU: parameters and buffers become fake CUDA
tensors (shapes and devices, no data).  A tensor the code creates without ``device=`` then lands on
the CPU, and mixing it with the CUDA state raises ``FakeTensorDeviceMismatchError``: the error a
real GPU would raise.  (Building under ``torch.device("cuda")`` instead would also put plain tensor
attributes on the device and hide a missing ``register_buffer``.)  Forward only: backward needs a
real CUDA context.

Some host-side draws read tensor *values*, which fake tensors do not have; they are CPU-only by
design and run on real CPU tensors here (:func:`host_side`): a rollout's sampled step count, LNCA's
deranged negatives, the sampler's scheduler, its timestep list and DDPM's look-up of the next
timestep (diffusers keeps them on the CPU), and the motion-blur kernels.  The sample pool's fill
count is a device tensor read with ``int()``; :func:`pool_fill` sets it instead (empty or full
pool).
"""
import contextlib
import functools
from types import SimpleNamespace

import pytest
import torch
from diffusers import DDPMScheduler
from test_registry import expected_shape, inputs, tiny_model
from torch._subclasses.fake_tensor import FakeTensor, FakeTensorMode, unset_fake_temporarily

import nca_zoo
import nca_zoo.automaton
import nca_zoo.data.degradations
import nca_zoo.diffusion.sampling
import nca_zoo.tasks.lnca
from nca_zoo._registry import model_info
from nca_zoo.data.restoration import RestorationDataModule
from nca_zoo.tasks import (
    DiffusionTask,
    GNCACompression,
    GNCAPrior,
    LNCARestoration,
    SupervisedRestoration,
    ViTCARestoration,
)
from nca_zoo.tasks.pool import SamplePool

CUDA = torch.device("cuda", 0)
SIZE = 16  # restoration / diffusion image side (a multiple of 4 for the latent models)


def host_side(fn):
    """``fn`` run on real CPU tensors (outside the fake mode): a host-side draw."""
    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        with unset_fake_temporarily():
            return fn(*args, **kwargs)
    return wrapper


@pytest.fixture(autouse=True)
def _host_side_draws(monkeypatch):
    for owner, name in ((nca_zoo.automaton, "sample_steps"),
                        (nca_zoo.tasks.lnca, "derangement"),
                        (nca_zoo.diffusion.sampling, "make_sampler"),
                        (nca_zoo.diffusion.sampling, "timesteps_for"),
                        (DDPMScheduler, "previous_timestep"),   # -> int below
                        (nca_zoo.data.degradations, "random_motion_blur_kernels")):
        monkeypatch.setattr(owner, name, host_side(getattr(owner, name)))
    next_t = DDPMScheduler.previous_timestep                 # compared with 0 right after
    monkeypatch.setattr(DDPMScheduler, "previous_timestep", lambda *a: int(next_t(*a)))


@pytest.fixture
def pool_fill(monkeypatch):
    """``pool_fill(n)``: every pool reports ``n`` filled slots (its count is a device tensor)."""
    def set_fill(n):
        monkeypatch.setattr(SamplePool, "__len__", lambda self: min(n, self.size))
    return set_fill


@contextlib.contextmanager
def fake_cuda():
    """A fake mode in which ``.to("cuda")`` works without a GPU."""
    with FakeTensorMode(allow_non_fake_inputs=True) as mode:
        yield mode


def to_fake_cuda(*objs):
    """The modules and tensors moved to the fake CUDA device, a list (inside :func:`fake_cuda`).

    ``cuda:0``, with an index as Lightning moves it: a LightningModule moved to plain ``cuda``
    asks the (absent) driver for the current device.
    """
    moved = [o.to(CUDA) for o in objs]
    for o in moved:
        tensors = [*o.parameters(), *o.buffers()] if isinstance(o, torch.nn.Module) else [o]
        assert all(isinstance(t, FakeTensor) and t.device == CUDA for t in tensors)
    return moved


def assert_on_cuda(*tensors):
    for t in tensors:
        assert isinstance(t, FakeTensor) and t.device == CUDA, (type(t), t.device)


def attach_trainer(task, world_size=1, rank=0):
    """A stand-in trainer (what the steps read) and a ``log`` that records; returns the log."""
    task._trainer = SimpleNamespace(world_size=world_size, global_rank=rank, global_step=0,
                                    current_epoch=0, max_steps=4, max_epochs=2,
                                    num_training_batches=2)
    logged = {}
    task.log = lambda key, value, **kw: logged.__setitem__(key, value)
    return logged


def assert_scalar_loss(loss, logged):
    assert_on_cuda(loss)
    assert loss.shape == () and loss.dtype == torch.float32
    assert logged and all(isinstance(v, FakeTensor) and v.device == CUDA for v in logged.values())


# ------------------------------------------------------------------------------ models
@pytest.mark.parametrize("name", nca_zoo.list_models())
def test_model_forward_on_fake_cuda(name):
    """Train-mode and eval-mode forward of every registered model at its tiny size."""
    family = model_info(name).family
    model, args = tiny_model(name), inputs(family)
    with fake_cuda():
        if family == "latent_codec":  # (latent grids, height, width): the grids move
            model, *grids = to_fake_cuda(model, *args[0])
            args = (grids, *args[1:])
        else:
            model, *args = to_fake_cuda(model, *args)
        model.train()
        if family == "gnca":
            state, loss = model.grow(step_loss=lambda s, t: model.rgb(s).square().mean())
            outs = [state, loss, model.eval()()]
        else:
            outs = [model(*args)]
            with torch.no_grad():
                outs.append(model.eval()(*args))
            assert outs[0].shape == outs[1].shape == expected_shape(model, family)
        assert_on_cuda(*outs)


# ------------------------------------------------------------------------------ tasks
@pytest.mark.parametrize("kw, world_size, rank", [
    ({}, 1, 0),
    ({"rollout": {"steps": 4, "checkpoint_every": 2, "update_rate": 0.5}, "loss_over": "final"},
     1, 0),
    ({}, 2, 1),  # this rank grows its shard of the bank
], ids=["plain", "checkpointed-final-async", "shard"])
def test_gnca_compression_step(kw, world_size, rank):
    task = GNCACompression("gnca_small", **{"rollout": {"steps": 4}, **kw}, batch_size=2,
                           num_patches=3, patch_size=8)
    task.targets = torch.rand(3, 3, 8, 8)  # what setup() takes from the datamodule
    with fake_cuda():
        (task,) = to_fake_cuda(task)
        logged = attach_trainer(task, world_size, rank)
        for qat in (False, True):
            task.bank.cell.fake_quant = qat
            assert_scalar_loss(task.training_step(0, 0), logged)


def test_gnca_prior_step():
    """Reptile: the bank of copies of the prior, its loss and the update, on the device.

    (Backward needs a CUDA driver even in fake mode, so the inner Adam loop is not run here.)
    """
    from nca_zoo.compression.prior import bank_like, final_state_loss, reptile_loss

    task = GNCAPrior("gnca_small", steps=3, inner_steps=2, patch_size=8)
    with fake_cuda():
        (task,) = to_fake_cuda(task)
        bank = bank_like(task.prior, 2, 8, 3)
        assert_on_cuda(*bank.parameters())
        loss = final_state_loss(bank, torch.rand(2, 3, 8, 8, device=CUDA), 3)
        assert_on_cuda(loss, reptile_loss(task.prior, bank))


@pytest.mark.parametrize("train_rule", [False, True])
def test_latent_codec_step(train_rule):
    """The latent codec's rate-distortion step: latents, entropy scales and rule on the device."""
    from nca_zoo.tasks.latent_codec import LatentCodecFit

    task = LatentCodecFit(rule={"levels": 3, "channels": 6, "hidden": 4, "steps": 2},
                          train_rule=train_rule, num_images=2, height=SIZE, width=SIZE)
    with fake_cuda():
        task, batch = to_fake_cuda(task, torch.rand(2, 3, SIZE, SIZE))
        logged = attach_trainer(task)
        task.log_dict = lambda values, **kw: logged.update(values)
        assert_scalar_loss(task.training_step(batch, 0), logged)
        assert_on_cuda(*task.integer_latents())


@pytest.mark.parametrize("model, model_args", [("nafnet_small", {"width": 4}),
                                               ("restormer_small", {"dim": 4})])
def test_supervised_restoration_step(model, model_args):
    task = SupervisedRestoration(model, model_args=model_args)
    batch = torch.rand(2, 3, SIZE, SIZE), torch.rand(2, 3, SIZE, SIZE)
    with fake_cuda():
        task, *batch = to_fake_cuda(task, *batch)
        logged = attach_trainer(task)
        assert_scalar_loss(task.training_step(batch, 0), logged)


@pytest.mark.parametrize("checkpoint_every", [0, 1])
@pytest.mark.parametrize("fill", ["empty", "full"])
def test_vitca_restoration_step(checkpoint_every, fill, pool_fill):
    """Batch 0 starts from seeds; batch 1 continues pool states (when the pool has enough)."""
    pool_fill(0 if fill == "empty" else 4)
    task = ViTCARestoration(rollout={"steps": [2, 3], "eval_steps": 2,
                                     "checkpoint_every": checkpoint_every},
                            pool_size=4, image_size=SIZE,
                            model_args={"embed_dim": 16, "mlp_dim": 8, "hidden_channels": 4})
    batch = torch.rand(2, 3, SIZE, SIZE), torch.rand(2, 3, SIZE, SIZE)
    with fake_cuda():
        task, *batch = to_fake_cuda(task, *batch)
        logged = attach_trainer(task)
        for batch_idx in (0, 1):
            assert_scalar_loss(task.training_step(batch, batch_idx), logged)
        with torch.no_grad():
            assert_on_cuda(task.eval().restore(batch[1]))


@pytest.mark.parametrize("kind", ["noise", "blur"])
def test_training_batches_degraded_on_the_device(kind):
    """RestorationDataModule degrades training batches after they reach the device."""
    dm = RestorationDataModule(task=kind, image_size=SIZE)
    clean = torch.rand(2, 3, SIZE, SIZE)
    with fake_cuda():
        (clean,) = to_fake_cuda(clean)
        kept, degraded = dm.on_after_batch_transfer((clean,), 0)
        assert kept is clean and degraded.shape == clean.shape
        assert_on_cuda(degraded)


def lnca_task(model, phase, checkpoint_every=0):
    args = {"embed_dim": 16, "mlp_dim": 8} if model == "lnca_vitca" else {"embed_dim": 16}
    return LNCARestoration(model, phase=phase, ae_checkpoint="not-read.pt", pool_size=4,
                           rollout={"steps": [2, 3], "eval_steps": 2,
                                    "checkpoint_every": checkpoint_every},
                           image_size=SIZE, model_args=args)


@pytest.mark.parametrize("model", ["lnca_nafca", "lnca_vitca"])
@pytest.mark.parametrize("phase, checkpoint_every, fill", [
    ("ae", 0, "empty"), ("nca", 0, "full"), ("nca", 1, "full")])
def test_lnca_restoration_step(model, phase, checkpoint_every, fill, pool_fill):
    """Both optimiser steps of a batch (losses, negatives, pool), without the optimiser.

    ``optimizer_step`` runs the closure once per step; here the closure is ``training_step``
    alone (backward needs a real CUDA context) and records the loss it would minimise.
    """
    pool_fill(0 if fill == "empty" else 4)
    task = lnca_task(model, phase, checkpoint_every)
    batch = torch.rand(2, 3, SIZE, SIZE), torch.rand(2, 3, SIZE, SIZE)
    with fake_cuda():
        task, *batch = to_fake_cuda(task, *batch)
        logged = attach_trainer(task)
        stepped = []
        optimizer = SimpleNamespace(step=lambda closure: closure())
        task.optimizer_step(0, 0, optimizer, lambda: stepped.append(task.training_step(batch, 0)))
        # phase 1: Eq. 3-5, then Eq. 6; phase 2: a fresh step, then a pool step
        assert len(stepped) == 2
        for loss in stepped:
            assert_scalar_loss(loss, logged)
        with torch.no_grad():
            assert_on_cuda(task.eval().restore(batch[1]))


@pytest.mark.parametrize("model, model_args, checkpoint_every", [
    ("diff_nca", {"channels": 10, "hidden": 16, "steps": 2}, 0),
    ("diff_nca", {"channels": 10, "hidden": 16, "steps": 2, "norm": "cell"}, 1),
    ("fourierdiff_nca", {"channels": 10, "hidden": 16, "steps": 2, "fourier_steps": 2}, 1),
    ("unet_s", {"channels": [8, 16], "norm_groups": 4}, 0),
], ids=["diff_nca", "diff_nca-cellnorm-checkpointed", "fourierdiff_nca-checkpointed", "unet_s"])
def test_diffusion_step_and_sampling(model, model_args, checkpoint_every):
    """Training step, EMA update, seeded evaluation loss, and the validation sample grid."""
    task = DiffusionTask(model, model_args, schedule={"timesteps": 4},
                         sampling={"sampler_steps": 2}, checkpoint_every=checkpoint_every)
    batch = torch.rand(2, 3, SIZE, SIZE)
    with fake_cuda():
        task, batch = to_fake_cuda(task, batch)
        logged = attach_trainer(task)
        loss = task.training_step(batch, 0)
        assert_scalar_loss(loss, logged)
        task.on_train_batch_end(loss, batch, 0)
        assert_scalar_loss(task._eval_loss(batch, 0), logged)  # CPU generator, moved to CUDA
        # (the Karras family, euler & co., compares σ with numbers: data fake tensors lack;
        # tests/test_gpu.py runs every sampler on a real GPU)
        for sampler in ("ddpm", "ddim", "dpm-solver++"):
            imgs = task.generate(2, 8, 8, sampler=sampler)
            assert_on_cuda(imgs)
            assert imgs.shape == (2, 3, 8, 8)
