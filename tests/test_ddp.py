"""Every task family trains under 2-process DDP (CPU, gloo) through the fit CLI.

All DDP runs of this file are one sweep (the ``ddp`` fixture): two worker processes
(``tests/ddp_worker.py``), one per rank, run every job in turn with the tiny overrides of
``tests/config_overrides`` -- imports are paid once, not once per config.  The one-process runs
the tests compare with run in this process.
"""
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from test_configs import CONFIGS, overrides_for

from nca_zoo.cli.fit import main

ROOT = Path(__file__).resolve().parents[1]
WORLD_SIZE = 2
ALL = sorted(str(c.relative_to(ROOT / "configs")) for c in CONFIGS)
LNCA = "lnca/lnca_nafca_denoise.yaml"
LNCA_VITCA = "lnca/lnca_vitca_denoise.yaml"
DIFFUSION = "diffusion/quickstart.yaml"


def fit_args(config: str, root: Path, *extra: str, devices: int = WORLD_SIZE) -> list[str]:
    """The fit CLI arguments of ``config`` (tiny overrides) on CPU with ``devices`` processes."""
    cfg = ROOT / "configs" / config
    strategy = ["--trainer.strategy=ddp"] if devices > 1 else []
    return ["--config", str(cfg), *overrides_for(cfg), "--trainer.accelerator=cpu",
            f"--trainer.devices={devices}", *strategy, f"--trainer.default_root_dir={root}",
            *extra]


def fit_here(config: str, root: Path, *extra: str) -> None:
    """A one-process run in this process (the reference of a DDP run)."""
    root.mkdir(parents=True, exist_ok=True)
    cwd = os.getcwd()
    try:
        os.chdir(root)
        main(fit_args(config, root, *extra, devices=1))
    finally:
        os.chdir(cwd)


class Sweep:
    """The DDP runs, by name.

    ``root(name)`` is where a run wrote; ``check(name)`` fails the test with the rank's traceback
    if the run failed (or never ran), or if it did not run on every rank.
    """

    def __init__(self, jobs: list[dict], log: str) -> None:
        self.jobs, self.log = {j["name"]: j for j in jobs}, log

    def root(self, name: str) -> Path:
        self.check(name)
        return Path(self.jobs[name]["root"])

    def check(self, name: str) -> None:
        root = Path(self.jobs[name]["root"])
        for rank in range(WORLD_SIZE):
            result = root / f"rank{rank}.json"
            if not result.is_file():
                pytest.fail(f"DDP run {name!r} did not run on rank {rank} (an earlier run "
                            f"failed or the sweep timed out):\n{self.log[-2000:]}")
            outcome = json.loads(result.read_text())
            if not outcome["ok"]:
                pytest.fail(f"DDP run {name!r} failed on rank {rank}:\n{outcome['error']}")
            assert outcome["world_size"] == WORLD_SIZE, f"{name!r} did not run under DDP"


@pytest.fixture(scope="module")
def ddp(tmp_path_factory) -> Sweep:
    """Run every DDP job of this file in one 2-rank sweep (and the one-process runs it needs)."""
    base = tmp_path_factory.mktemp("ddp")
    fit_here(DIFFUSION, base / "diffusion_one", "--trainer.max_steps=1")
    (first,) = checkpoints(base / "diffusion_one")
    jobs = [{"name": c, "root": str(base / c.replace("/", "_")),
             "args": fit_args(c, base / c.replace("/", "_"))} for c in ALL]
    ae = base / "lnca_ae" / "phase1_autoencoder.pt"
    jobs += [
        {"name": "lnca_ae", "root": str(base / "lnca_ae"),
         "args": fit_args(LNCA, base / "lnca_ae", "--model.init_args.phase=ae")},
        {"name": "lnca_nca", "root": str(base / "lnca_nca"),
         "args": fit_args(LNCA, base / "lnca_nca", "--model.init_args.phase=nca",
                          f"--model.init_args.ae_checkpoint={ae}")},
        {"name": "lnca_nca_decoder", "root": str(base / "lnca_nca_decoder"),
         "args": fit_args(LNCA, base / "lnca_nca_decoder", "--model.init_args.phase=nca",
                          f"--model.init_args.ae_checkpoint={ae}",
                          "--model.init_args.phase=nca+decoder",
                          "--model.init_args.nca_loss={ssim: 1.0}")},  # the SSIM term too
        {"name": "lnca_vitca_nca", "root": str(base / "lnca_vitca_nca"),
         "args": fit_args(LNCA_VITCA, base / "lnca_vitca_nca", "--model.init_args.phase=nca",
                          f"--model.init_args.ae_checkpoint={ae}")},
        {"name": "diffusion_resume", "root": str(base / "diffusion_resume"),
         "args": fit_args(DIFFUSION, base / "diffusion_resume", "--trainer.max_steps=3",
                          f"--ckpt_path={first}")},
    ]
    jobs_file = base / "jobs.json"
    jobs_file.write_text(json.dumps(jobs))
    env = {**os.environ, "OMP_NUM_THREADS": "1", "WANDB_MODE": "disabled",
           "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")])}
    workers = [subprocess.Popen([sys.executable, str(ROOT / "tests" / "ddp_worker.py"),
                                 str(jobs_file), str(r), str(WORLD_SIZE)],
                                stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                                cwd=base, env=env) for r in range(WORLD_SIZE)]
    logs = []
    for w in workers:
        try:
            logs.append(w.communicate(timeout=1200)[0])
        except subprocess.TimeoutExpired:
            for other in workers:
                other.kill()
            logs.append(w.communicate()[0])
    return Sweep(jobs, "\n".join(logs))


def checkpoints(root: Path) -> list[Path]:
    return sorted(root.rglob("*.ckpt"))


def test_gnca_ddp_shards_the_bank_and_matches_one_process(ddp, tmp_path):
    """update_rate 1.0: two ranks growing half the bank each give the one-process weights."""
    ddp_root = ddp.root("gnca/quickstart.yaml")
    fit_here("gnca/quickstart.yaml", tmp_path / "one")
    (ddp_ckpt,), (one,) = checkpoints(ddp_root), checkpoints(tmp_path / "one")
    a = torch.load(ddp_ckpt, weights_only=False)["state_dict"]
    b = torch.load(one, weights_only=False)["state_dict"]
    assert a.keys() == b.keys()
    for k in a:
        torch.testing.assert_close(a[k], b[k], rtol=1e-5, atol=1e-6, msg=k)
    # files are written once, by rank 0
    assert len(list(ddp_root.rglob("*.nca"))) == 1
    assert len(list(ddp_root.rglob("report.json"))) == 1
    # a checkpoint written under DDP resumes in one process
    fit_here("gnca/quickstart.yaml", tmp_path / "resume", "--trainer.max_steps=3",
             f"--ckpt_path={ddp_ckpt}")
    resumed = torch.load(checkpoints(tmp_path / "resume")[-1], weights_only=False)
    assert resumed["global_step"] == 3


def test_diffusion_trains_under_ddp_and_writes_samples_once(ddp):
    root = ddp.root(DIFFUSION)
    assert len(list(root.rglob("samples/step*.png"))) == 1
    assert checkpoints(root)


@pytest.mark.parametrize("phase2", ["lnca_nca", "lnca_vitca_nca"])
def test_lnca_phases_chain_under_ddp(ddp, phase2):
    """Phase 1 writes the autoencoder file once; phase 2 (either cell) starts from it.

    Each phase freezes the part it does not train before DDP wraps the task, so DDP (no
    ``find_unused_parameters``) averages exactly the trained part's gradients.
    """
    ae = ddp.root("lnca_ae") / "phase1_autoencoder.pt"
    assert ae.is_file()
    ckpt = torch.load(checkpoints(ddp.root(phase2))[-1], weights_only=False)
    assert ckpt["epoch"] == 1 and ckpt["global_step"] > 0
    phase1 = torch.load(ae, weights_only=False)  # the autoencoder's own state dict
    assert phase1
    for k, v in phase1.items():  # phase 2 never moves the autoencoder
        torch.testing.assert_close(ckpt["state_dict"][f"model.autoencoder.{k}"], v, msg=k)


def test_lnca_phase2_trains_the_decoder_under_ddp(ddp):
    """``phase=nca+decoder``: the decoder trains beside the cell, the encoder stays put.

    Eq. 7 gives every decoder parameter a gradient on every rank, so DDP needs no
    ``find_unused_parameters``.
    """
    ddp.check("lnca_nca_decoder")
    phase1 = torch.load(ddp.root("lnca_ae") / "phase1_autoencoder.pt", weights_only=False)
    state = torch.load(checkpoints(ddp.root("lnca_nca_decoder"))[-1],
                       weights_only=False)["state_dict"]
    decoder = ("up.", "mix.", "decoder_blocks.", "out.")
    moved = {k for k, v in phase1.items() if v.is_floating_point()
             and not torch.equal(state[f"model.autoencoder.{k}"], v)}
    assert moved and all(k.startswith(decoder) for k in moved)


def test_one_process_checkpoint_resumes_under_ddp(ddp):
    """The reverse of the GNCA test: a single-process diffusion checkpoint resumes on 2 ranks."""
    resumed = torch.load(checkpoints(ddp.root("diffusion_resume"))[-1], weights_only=False)
    assert resumed["global_step"] == 3


@pytest.mark.parametrize("config", ALL)
def test_every_config_trains_under_ddp(config, ddp):
    """Each config runs to the end on 2 ranks; rank 0 alone writes its files."""
    root = ddp.root(config)
    assert checkpoints(root)
    for pattern in ("*.nca", "report.json", "phase1_autoencoder.pt"):
        assert len(list(root.rglob(pattern))) <= 1, pattern
    assert len(list(root.rglob("samples/step*.png"))) <= 1
