"""TrainingBudget: what a run cost is counted, kept in checkpoints and carried across resumes."""
import torch
from test_configs import ROOT, overrides_for

from nca_zoo.cli.fit import main


def _fit(tmp_path, *extra):
    cfg = ROOT / "configs" / "lnca" / "nafnet_denoise.yaml"
    return main(["--config", str(cfg), "--trainer.accelerator=cpu", "--trainer.devices=1",
                 f"--trainer.default_root_dir={tmp_path}", "--trainer.logger=false",
                 *overrides_for(cfg), *extra])


def test_budget_is_in_every_checkpoint_and_adds_up_across_a_resume(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    cli = _fit(tmp_path, "--trainer.max_epochs=1")
    last = next((tmp_path / "checkpoints").glob("*.ckpt"))
    first = torch.load(last, map_location="cpu", weights_only=False)["training_budget"]
    batch = cli.datamodule.batch_size
    assert first["batches"] == cli.trainer.global_step == 2
    assert first["images_seen"] == 2 * batch and first["optimizer_steps"] == 2
    assert first["cpu_hours"] >= 0 and first["device"] == "cpu" and first["processes"] == 1
    cli = _fit(tmp_path, "--trainer.max_epochs=2", f"--ckpt_path={last}")
    path = max((tmp_path / "checkpoints").glob("*step=4*.ckpt"))
    second = torch.load(path, map_location="cpu", weights_only=False)["training_budget"]
    assert second["batches"] == 4 and second["images_seen"] == 4 * batch
    assert second["wall_hours"] >= first["wall_hours"]
