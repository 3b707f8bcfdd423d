"""Resuming is exact: N steps in one run equal N/2 steps, then N/2 more resumed with --ckpt_path."""
import json
import os
from pathlib import Path

import lightning as L
import pytest
import torch
from test_configs import ROOT, overrides_for

from nca_zoo.cli.fit import main
from nca_zoo.tasks import LNCARestoration

STEPS, EPOCHS = 8, 4  # 2 batches an epoch (LNCA: two optimiser steps per batch, one step each)
AE = "{autoencoder}"  # replaced by a phase-1 autoencoder file
CASES = {
    "gnca": ("gnca/quickstart.yaml", []),
    "lnca-phase1": ("lnca/lnca_nafca_denoise.yaml", ["--model.init_args.phase=ae"]),
    "lnca-phase2": ("lnca/lnca_nafca_denoise.yaml",   # the pool and the frozen autoencoder
                    ["--model.init_args.phase=nca", f"--model.init_args.ae_checkpoint={AE}"]),
    "vitca-pool": ("lnca/vitca_denoise.yaml", []),
    "diffusion": ("diffusion/quickstart.yaml", []),
}


class Crash(RuntimeError):
    pass


class CrashAt(L.Callback):
    """Kill the run when it is about to take step ``step + 1``, as a lost job would end."""

    def __init__(self, step: int) -> None:
        self.step = step

    def on_train_batch_start(self, trainer, *args) -> None:
        if trainer.global_step >= self.step:
            raise Crash(f"crashed at step {trainer.global_step}")


def run(config: str, root: Path, *extra: str):
    root.mkdir()
    os.chdir(root)  # the loggers' relative save_dir holds the checkpoints
    cfg = ROOT / "configs" / config
    args = ["--config", str(cfg), "--trainer.accelerator=cpu", "--trainer.devices=1",
            f"--trainer.default_root_dir={root}", *overrides_for(cfg),
            "--trainer.limit_train_batches=2", f"--trainer.max_epochs={EPOCHS}",
            f"--trainer.max_steps={STEPS}", *extra]
    return main(args)


def last_checkpoint(root: Path) -> Path:
    return max(root.rglob("*.ckpt"), key=lambda p: torch.load(p, weights_only=False)["global_step"])


@pytest.mark.parametrize("case", sorted(CASES))
def test_half_plus_half_equals_whole(case, tmp_path, monkeypatch):
    config, extra = CASES[case]
    monkeypatch.chdir(tmp_path)  # restored after the test
    if any(AE in arg for arg in extra):
        ae = tmp_path / "phase1_autoencoder.pt"
        torch.manual_seed(1)
        torch.save(LNCARestoration(model_args={"embed_dim": 16}).model.autoencoder.state_dict(), ae)
        extra = [arg.replace(AE, str(ae)) for arg in extra]
    whole = run(config, tmp_path / "whole", *extra).model.state_dict()
    crash = {"class_path": f"{__name__}.CrashAt", "init_args": {"step": STEPS // 2}}
    with pytest.raises(Crash):  # the last checkpoint on disk is the end of an epoch
        run(config, tmp_path / "half", *extra, f"--trainer.callbacks+={json.dumps(crash)}")
    ckpt = last_checkpoint(tmp_path / "half")
    assert torch.load(ckpt, weights_only=False)["global_step"] == STEPS // 2
    cli = run(config, tmp_path / "resumed", *extra, f"--ckpt_path={ckpt}")
    assert cli.trainer.global_step == STEPS  # no epoch counted twice, none skipped
    resumed = cli.model.state_dict()
    assert whole.keys() == resumed.keys()
    for k in whole:
        torch.testing.assert_close(resumed[k], whole[k], rtol=0, atol=0, msg=k)
