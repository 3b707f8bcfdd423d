"""DiffusionTask: the loss falls, EMA weights evaluate, sample grids reach PNG and log_image."""
from pathlib import Path

import lightning as L
import pytest
import torch
from lightning.pytorch.loggers import CSVLogger

from nca_zoo.data.diffusion import DiffusionDataModule
from nca_zoo.layers import cut_patches, split_indices
from nca_zoo.tasks.diffusion import DiffusionTask


def test_split_and_patches():
    parts = split_indices(100, (0.8, 0.1, 0.1), seed=0)
    assert [len(p) for p in parts] == [80, 10, 10]
    assert sorted(torch.cat([torch.as_tensor(p) for p in parts]).tolist()) == list(range(100))
    import numpy as np
    assert cut_patches(np.zeros((130, 100, 3), np.uint8), 64, 32).shape == (6, 64, 64, 3)


def test_folder_resize_protocol(tmp_path):
    from PIL import Image
    for i in range(10):
        Image.new("RGB", (40 + i, 30), (i * 20, 0, 0)).save(tmp_path / f"{i}.png")
    dm = DiffusionDataModule(str(tmp_path), mode="resize", size=16, batch_size=4)
    assert [len(p) for p in dm.parts] == [8, 1, 1]
    batch = next(iter(dm.train_dataloader()))
    assert batch.shape == (4, 3, 16, 16) and 0 <= batch.min() and batch.max() <= 1
    assert dm.real_images("val").dtype == torch.uint8


def test_tiny_model_loss_falls():
    torch.manual_seed(0)
    task = DiffusionTask("diff_nca", {"channels": 12, "hidden": 32, "steps": 3, "update_rate": 1.0},
                         schedule={"timesteps": 50}, lr=3e-3, ema_decay=0.0)
    images = DiffusionDataModule(size=8, stride=64, limit=8).dataset("train")
    batch = torch.stack([images[i] for i in range(8)])
    opt = task.configure_optimizers()["optimizer"]

    def eval_loss():
        with torch.no_grad():
            return sum(task.diffusion_loss(task.model, batch, torch.Generator().manual_seed(i))
                       for i in range(4)).item() / 4

    before = eval_loss()
    for _ in range(40):
        opt.zero_grad()
        task.diffusion_loss(task.model, batch).backward()
        opt.step()
    after = eval_loss()
    assert after < 0.8 * before, (before, after)


def test_ema_used_for_evaluation():
    task = DiffusionTask("diff_nca", {"channels": 10, "hidden": 16, "steps": 2},
                         schedule={"timesteps": 8})
    assert task.eval_model is task.ema.module and task.eval_model is not task.model
    keys = list(task.model.state_dict())
    # no duplicates
    assert len(keys) == len({v.data_ptr() for v in task.model.state_dict().values()})
    with torch.no_grad():
        for p in task.model.parameters():
            p.add_(1.0)
    before = [p.clone() for p in task.ema.module.parameters()]
    task.on_train_batch_end(None, None, 0)
    for b, e, m in zip(before, task.ema.module.parameters(), task.model.parameters()):
        torch.testing.assert_close(e, 0.99 * b + 0.01 * m)
    with pytest.raises(ValueError, match="does not take"):
        DiffusionTask("unet_s", checkpoint_every=2)


class ImageLogger(CSVLogger):
    def __init__(self, *a, **k):
        super().__init__(*a, **k)
        self.images = []

    def log_image(self, key, images, step=None):
        self.images.append((key, images[0].shape, step))


def test_fit_writes_sample_grid_and_logs_image(tmp_path):
    task = DiffusionTask("fourierdiff_nca",
                         {"channels": 10, "hidden": 16, "steps": 2, "fourier_steps": 2},
                         schedule={"timesteps": 4}, checkpoint_every=1,
                         sampling={"n_samples": 4, "sampler": "ddim", "sampler_steps": 2})
    dm = DiffusionDataModule(size=16, stride=64, batch_size=4)
    logger = ImageLogger(tmp_path, name="csv")
    trainer = L.Trainer(max_steps=3, limit_val_batches=1, accelerator="cpu", logger=logger,
                        default_root_dir=tmp_path, enable_progress_bar=False,
                        enable_checkpointing=False, num_sanity_val_steps=0, limit_train_batches=3)
    trainer.fit(task, datamodule=dm)
    pngs = list(Path(trainer.log_dir).glob("samples/*.png"))
    assert pngs and logger.images and logger.images[0][0] == "val/samples"
    assert trainer.callback_metrics["val/loss"] > 0
