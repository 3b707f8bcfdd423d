"""Drivers (``nca_zoo/drivers``): what reads a task's training checkpoint sits above the tasks."""
import lightning as L
import pytest
import torch

from nca_zoo.compression.prior import PriorError, load_prior
from nca_zoo.data.prior_patches import PriorPatchDataModule
from nca_zoo.drivers import load_prior_checkpoint
from nca_zoo.models.gnca import GNCA_SIZES
from nca_zoo.tasks import GNCAPrior


@pytest.fixture(scope="module")
def prior_ckpt(tmp_path_factory):
    """A GNCAPrior checkpoint after one meta-step, and the task that wrote it."""
    L.seed_everything(0, verbose=False)
    dm = PriorPatchDataModule(["embedded:coffee"], size=32, patch_size=8, patches_per_step=2,
                              iterations_per_epoch=1, val_patches=1)
    task = GNCAPrior("gnca_small", inner_steps=1)
    trainer = L.Trainer(max_steps=1, logger=False, enable_checkpointing=False,
                        enable_progress_bar=False, enable_model_summary=False,
                        num_sanity_val_steps=0, limit_val_batches=0)
    trainer.fit(task, datamodule=dm)
    path = tmp_path_factory.mktemp("prior") / "prior.ckpt"
    trainer.save_checkpoint(path)
    return str(path), task


def test_prior_checkpoint_loads_the_meta_trained_prior(prior_ckpt):
    path, task = prior_ckpt
    prior = load_prior_checkpoint(*GNCA_SIZES["small"], path)
    assert not prior.training and prior.num_models == 1
    assert all(torch.equal(p, q) for p, q in zip(prior.cell.parameters(),
                                                 task.prior.cell.parameters()))


def test_prior_checkpoint_errors_are_one_line(prior_ckpt, tmp_path):
    path, _ = prior_ckpt
    with pytest.raises(PriorError, match=r"prior .* has n_c=14, h_s=20 \(GNCA-small\)"):
        load_prior_checkpoint(*GNCA_SIZES["medium"], path)
    with pytest.raises(PriorError, match="is a training checkpoint"):
        load_prior(*GNCA_SIZES["small"], path)  # the pretrained loader sits below the tasks
    bad = tmp_path / "bad.ckpt"
    bad.write_text("not a checkpoint")
    with pytest.raises(PriorError, match="is not a GNCAPrior checkpoint"):
        load_prior_checkpoint(*GNCA_SIZES["small"], str(bad))
    with pytest.raises(FileNotFoundError, match="no prior checkpoint"):
        load_prior_checkpoint(*GNCA_SIZES["small"], str(tmp_path / "missing.ckpt"))
