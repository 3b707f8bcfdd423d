"""Every task family trains under 2-process DDP (CPU, gloo) through the fit CLI.

Each run is a subprocess (Lightning's DDP launcher starts the second rank by re-running the
command), with the tiny overrides of ``tests/config_overrides``.
"""
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from test_configs import CONFIGS, overrides_for

ROOT = Path(__file__).resolve().parents[1]


def fit(config: str, root: Path, *extra: str, devices: int = 2) -> subprocess.CompletedProcess:
    cfg = ROOT / "configs" / config
    strategy = ["--trainer.strategy=ddp"] if devices > 1 else []
    cmd = [sys.executable, "-m", "nca_zoo.fit", "--config", str(cfg), *overrides_for(cfg),
           "--trainer.accelerator=cpu", f"--trainer.devices={devices}", *strategy,
           f"--trainer.default_root_dir={root}", *extra]
    env = {**os.environ, "OMP_NUM_THREADS": "1", "WANDB_MODE": "disabled"}
    root.mkdir(parents=True, exist_ok=True)
    run = subprocess.run(cmd, capture_output=True, text=True, cwd=root, env=env, timeout=240)
    assert run.returncode == 0, run.stderr[-2000:]
    return run


def checkpoints(root: Path) -> list[Path]:
    return sorted(root.rglob("*.ckpt"))


def test_gnca_ddp_shards_the_bank_and_matches_one_process(tmp_path):
    """update_rate 1.0: two ranks growing half the bank each give the one-process weights."""
    fit("gnca/quickstart.yaml", tmp_path / "ddp")
    fit("gnca/quickstart.yaml", tmp_path / "one", devices=1)
    (ddp,), (one,) = checkpoints(tmp_path / "ddp"), checkpoints(tmp_path / "one")
    a = torch.load(ddp, weights_only=False)["state_dict"]
    b = torch.load(one, weights_only=False)["state_dict"]
    assert a.keys() == b.keys()
    for k in a:
        torch.testing.assert_close(a[k], b[k], rtol=1e-5, atol=1e-6, msg=k)
    # files are written once, by rank 0
    assert len(list((tmp_path / "ddp").rglob("*.nca"))) == 1
    assert len(list((tmp_path / "ddp").rglob("report.json"))) == 1
    # a checkpoint written under DDP resumes in one process
    fit("gnca/quickstart.yaml", tmp_path / "resume", "--trainer.max_steps=3",
        f"--ckpt_path={ddp}", devices=1)
    resumed = torch.load(checkpoints(tmp_path / "resume")[-1], weights_only=False)
    assert resumed["global_step"] == 3


def test_lnca_both_phases_train_under_ddp(tmp_path):
    """Phase 1 then phase 2 in one DDP run: each phase steps only its part of the model."""
    fit("lnca/lnca_nafca_denoise.yaml", tmp_path)
    assert (tmp_path / "phase1_autoencoder.pt").is_file()
    ckpt = torch.load(checkpoints(tmp_path)[-1], weights_only=False)
    assert ckpt["epoch"] == 1 and len(ckpt["state_dict"]) > 0


def test_diffusion_trains_under_ddp_and_writes_samples_once(tmp_path):
    fit("diffusion/quickstart.yaml", tmp_path)
    grids = list(tmp_path.rglob("samples/step*.png"))
    assert len(grids) == 1
    assert checkpoints(tmp_path)


def test_lnca_phases_alone_under_ddp(tmp_path):
    """Phase 1 alone writes the autoencoder file once; phase 2 alone starts from it."""
    fit("lnca/lnca_nafca_denoise.yaml", tmp_path / "ae", "--model.init_args.phase=ae")
    ae = tmp_path / "ae" / "phase1_autoencoder.pt"
    assert ae.is_file()
    fit("lnca/lnca_nafca_denoise.yaml", tmp_path / "nca", "--model.init_args.phase=nca",
        f"--model.init_args.ae_checkpoint={ae}")
    state = torch.load(checkpoints(tmp_path / "nca")[-1], weights_only=False)["state_dict"]
    phase1 = torch.load(ae, weights_only=False)  # the autoencoder's own state dict
    assert phase1
    for k, v in phase1.items():  # phase 2 never moves the autoencoder, on any rank
        torch.testing.assert_close(state[f"model.autoencoder.{k}"], v, msg=k)


def test_one_process_checkpoint_resumes_under_ddp(tmp_path):
    """The reverse of the GNCA test: a single-process diffusion checkpoint resumes on 2 ranks."""
    fit("diffusion/quickstart.yaml", tmp_path / "one", "--trainer.max_steps=1", devices=1)
    (first,) = checkpoints(tmp_path / "one")
    fit("diffusion/quickstart.yaml", tmp_path / "ddp", "--trainer.max_steps=3",
        f"--ckpt_path={first}")
    resumed = torch.load(checkpoints(tmp_path / "ddp")[-1], weights_only=False)
    assert resumed["global_step"] == 3


COVERED = {"gnca/quickstart.yaml", "lnca/lnca_nafca_denoise.yaml", "diffusion/quickstart.yaml"}
OTHERS = sorted(str(c.relative_to(ROOT / "configs")) for c in CONFIGS)
OTHERS = [c for c in OTHERS if c not in COVERED]


@pytest.mark.parametrize("config", OTHERS)
def test_every_config_trains_under_ddp(config, tmp_path):
    """Each remaining config runs to the end on 2 ranks; rank 0 alone writes its files."""
    fit(config, tmp_path)
    assert checkpoints(tmp_path)
    for pattern in ("*.nca", "report.json", "phase1_autoencoder.pt"):
        assert len(list(tmp_path.rglob(pattern))) <= 1, pattern
    assert len(list(tmp_path.rglob("samples/step*.png"))) <= 1
