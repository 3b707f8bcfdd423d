"""Every LightningModule round-trips through ``save_checkpoint`` -> ``load_from_checkpoint``."""
import lightning as L
import pytest
import torch

from nca_zoo.data import RestorationDataModule
from nca_zoo.data.diffusion import DiffusionDataModule
from nca_zoo.drivers import load_restoration_task
from nca_zoo.tasks import (
    DiffusionTask,
    GNCACompression,
    LNCARestoration,
    SupervisedRestoration,
    ViTCARestoration,
)

TINY_NCA = dict(rollout={"steps": [2, 3], "eval_steps": 2}, pool_size=8)
CASES = {
    "lnca": (LNCARestoration, dict(model_args={"embed_dim": 16}, **TINY_NCA),
             "restoration"),
    "vitca": (ViTCARestoration, dict(model_args={"embed_dim": 16, "mlp_dim": 8,
                                                 "hidden_channels": 4},
                                     **TINY_NCA), "restoration"),
    "nafnet": (SupervisedRestoration, dict(model_args={"width": 4}), "restoration"),
    "diffusion": (DiffusionTask, dict(model="diff_nca", schedule={"timesteps": 4},
                                      sampling={"n_samples": 0},
                                      model_args={"channels": 10, "hidden": 16, "steps": 2}),
                  "diffusion"),
}


@pytest.mark.parametrize("name", list(CASES))
def test_load_from_checkpoint_round_trip(name, tmp_path):
    cls, kwargs, data = CASES[name]
    torch.manual_seed(0)
    task = cls(**kwargs)
    dm = (RestorationDataModule(image_size=16, max_images=40, batch_size=4) if data == "restoration"
          else DiffusionDataModule(size=16, stride=64, batch_size=2))
    trainer = L.Trainer(max_epochs=2, limit_train_batches=1, limit_val_batches=0, logger=False,
                        enable_checkpointing=False, enable_progress_bar=False, accelerator="cpu",
                        enable_model_summary=False, default_root_dir=tmp_path)
    trainer.fit(task, datamodule=dm)
    trainer.save_checkpoint(tmp_path / "m.ckpt")
    loaded = cls.load_from_checkpoint(tmp_path / "m.ckpt", map_location="cpu")
    a, b = task.state_dict(), loaded.state_dict()
    assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)
    if data == "restoration":  # the benchmarks' loader tells the task class from the file
        found = load_restoration_task(str(tmp_path / "m.ckpt"))
        assert type(found) is cls
        assert all(torch.equal(a[k], v) for k, v in found.state_dict().items())


def test_load_restoration_task_of_a_missing_file_is_a_clear_error(tmp_path):
    with pytest.raises(FileNotFoundError, match="no checkpoint"):
        load_restoration_task(str(tmp_path / "none.ckpt"))


def test_diffusion_checkpoint_of_flat_settings_loads(tmp_path):
    """Checkpoints written before schedule / sampling were grouped still load (key mapping)."""
    margs = {"channels": 10, "hidden": 16, "steps": 2}
    task = DiffusionTask("diff_nca", margs, schedule={"timesteps": 4}, sampling={"n_samples": 0})
    old = {"model": "diff_nca", "model_args": margs, "timesteps": 4, "beta_schedule": "linear",
           "n_samples": 0, "sampler": "ddim", "sampler_steps": 3}
    torch.save({"state_dict": task.state_dict(), "hyper_parameters": old,
                "pytorch-lightning_version": L.__version__}, tmp_path / "old.ckpt")
    for loaded in (DiffusionTask.from_checkpoint_file(tmp_path / "old.ckpt", "model"),
                   DiffusionTask.load_from_checkpoint(tmp_path / "old.ckpt", map_location="cpu")):
        assert loaded.schedule.timesteps == 4
        assert (loaded.sampling.sampler, loaded.sampling.sampler_steps) == ("ddim", 3)


def test_older_checkpoints_hyperparameters_are_regrouped():
    """Flat rollout / init keys (and LNCA's one-run 'both' phase) map onto the settings."""
    lnca = LNCARestoration.upgrade_hyperparameters(
        {"model": "lnca_nafca", "phase": "both", "ae_epochs": 10, "steps": [8, 32],
         "eval_steps": 64, "update_rate": 1.0, "checkpoint_every": 0,
         "normalize_gradients": True})
    assert lnca["phase"] == "nca" and "ae_epochs" not in lnca
    assert LNCARestoration(**lnca).rollout.eval_steps == 64
    gnca = GNCACompression.upgrade_hyperparameters(
        {"model": "gnca_small", "steps": 12, "update_rate": 1.0, "init": "prior",
         "prior_weight": 0.5, "num_patches": 2, "patch_size": 8})
    task = GNCACompression(**gnca)
    assert (task.rollout.steps, task.init.weights, task.init.prior_weight) == (12, "prior", 0.5)


def test_supervised_restorer_fine_tunes_from_a_checkpoint_or_a_pretrained_folder(tmp_path):
    import nca_zoo

    def fit_one_step(task):
        trainer = L.Trainer(max_steps=1, logger=False, enable_checkpointing=False,
                            enable_progress_bar=False, accelerator="cpu", limit_val_batches=0,
                            enable_model_summary=False, default_root_dir=tmp_path)
        trainer.fit(task, datamodule=RestorationDataModule(image_size=16, max_images=8,
                                                           batch_size=4))
        return trainer

    torch.manual_seed(0)
    task = SupervisedRestoration(model_args={"width": 4})
    fit_one_step(task).save_checkpoint(tmp_path / "m.ckpt")
    folder = nca_zoo.save_pretrained(task.model, tmp_path / "pre", "nafnet_small", {"width": 4})
    for source in (str(tmp_path / "m.ckpt"), str(folder)):
        torch.manual_seed(1)  # another random init: the weights must come from the source
        tuned = SupervisedRestoration(model_args={"width": 4}, init_from=source)
        a, b = task.model.state_dict(), tuned.model.state_dict()
        assert all(torch.equal(a[k], b[k]) for k in a)
    tuned = SupervisedRestoration(model_args={"width": 4}, init_from=str(tmp_path / "m.ckpt"))
    fit_one_step(tuned).save_checkpoint(tmp_path / "tuned.ckpt")
    (tmp_path / "m.ckpt").unlink()  # the fine-tuned checkpoint loads without its source
    loaded = SupervisedRestoration.load_from_checkpoint(tmp_path / "tuned.ckpt", map_location="cpu")
    a, b = tuned.state_dict(), loaded.state_dict()
    assert all(torch.equal(a[k], b[k]) for k in a)
    with pytest.raises(ValueError, match="do not fit this model"):
        SupervisedRestoration(model_args={"width": 8}, init_from=str(folder))
    with pytest.raises(FileNotFoundError, match="no checkpoint"):
        SupervisedRestoration(model_args={"width": 4}, init_from="none.ckpt")
    (tmp_path / "corrupt.ckpt").write_bytes(b"not a checkpoint")
    with pytest.raises(ValueError, match="not a readable checkpoint"):
        SupervisedRestoration(model_args={"width": 4}, init_from=str(tmp_path / "corrupt.ckpt"))
