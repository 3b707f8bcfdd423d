"""``benchmarks/tools/gpu_check.py``: its cases train on CUDA (marked ``gpu``); CPU-side checks.

The ``gpu`` tests are deselected by default (``pytest -m gpu`` runs them) and skip without CUDA.
The script is loaded with :func:`runpy.run_path` (its ``CASES`` and ``run_case``) and run as a
subprocess.
"""
import json
import os
import runpy
import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace

import pytest
import torch

import nca_zoo.tasks
from nca_zoo._registry import FAMILIES, model_info

ROOT = Path(__file__).resolve().parents[1]
SCRIPT = ROOT / "benchmarks" / "tools" / "gpu_check.py"
gpu_check = SimpleNamespace(**runpy.run_path(str(SCRIPT)))

needs_cuda = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")


def run_script(*args: str, cuda: bool = True) -> subprocess.CompletedProcess:
    env = {**os.environ, "OMP_NUM_THREADS": "1", "WANDB_MODE": "disabled"}
    if not cuda:
        env["CUDA_VISIBLE_DEVICES"] = ""
    return subprocess.run([sys.executable, str(SCRIPT), *args], capture_output=True, text=True,
                          env=env, timeout=600)


def test_cases_cover_every_task_and_without_cuda_fail_in_one_line(tmp_path):
    cases = gpu_check.CASES
    assert len({c.name for c in cases}) == len(cases)
    assert set(nca_zoo.tasks.__all__) <= {c.task for c in cases}
    assert {model_info(c.model).family for c in cases} == set(FAMILIES)
    names = {c.name for c in cases}
    assert {"lnca_nafca_nca", "lnca_nafca_nca_ckpt", "lnca_vitca_nca", "lnca_vitca_nca_ckpt",
            "vitca", "nafnet", "restormer", "diff_nca", "fourierdiff_nca", "unet"} <= names
    assert {"gnca_medium", "nafnet_small", "restormer_small", "fourierdiff_nca",
            "unet_s"} <= {c.model for c in cases}

    # no CUDA device: a one-line message, no traceback, a non-zero exit
    run = run_script("--steps", "1", "--out", str(tmp_path / "none"), cuda=False)
    assert run.returncode != 0
    assert run.stderr.strip() == gpu_check.NO_CUDA, run.stderr
    assert not (tmp_path / "none").exists()

    # the same cases on the CPU (hidden --device cpu, for testing), tiny, one step each
    run = run_script("--device", "cpu", "--tiny", "--steps", "1", "--warmup", "0",
                     "--out", str(tmp_path), cuda=False)
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-3000:]
    rows = json.loads((tmp_path / "gpu_check_cpu_tiny.json").read_text())["rows"]
    assert [(r["case"], r["precision"]) for r in rows] == \
        [(c.name, p) for c in cases for p in gpu_check.PRECISIONS]
    assert all(r["status"] == "ok" and r["steps"] == 1 for r in rows), rows
    table = (tmp_path / "gpu_check_cpu_tiny.md").read_text()
    assert all(f"| {c.name} |" in table for c in cases)
    assert gpu_check.slug("NVIDIA H100 80GB HBM3") == "nvidia-h100-80gb-hbm3"  # the file name


# ------------------------------------------------------------------------------ CUDA
@pytest.mark.gpu
@needs_cuda
@pytest.mark.parametrize("tiny", [True, False], ids=["tiny", "paper"])
@pytest.mark.parametrize("precision", list(gpu_check.PRECISIONS))
@pytest.mark.parametrize("case", gpu_check.CASES, ids=lambda c: c.name)
def test_case_trains_on_cuda(case, precision, tiny):
    row = gpu_check.run_case(case, precision, "cuda", steps=2, warmup=1, tiny=tiny)
    if row["status"].startswith("skipped"):
        pytest.skip(row["status"])
    assert row["status"] == "ok", row
    assert row["steps"] == 3 and row["steps_per_s"] > 0 and row["peak_mib"] > 0


@pytest.mark.gpu
@needs_cuda
def test_script_writes_its_report_on_cuda(tmp_path):
    run = run_script("--tiny", "--steps", "1", "--warmup", "0", "--out", str(tmp_path))
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-3000:]
    stem = f"gpu_check_{gpu_check.slug(torch.cuda.get_device_name(0))}_tiny"
    rows = json.loads((tmp_path / f"{stem}.json").read_text())["rows"]
    assert len(rows) == 2 * len(gpu_check.CASES)
    ran = [r for r in rows if not r["status"].startswith("skipped")]  # bf16 on older GPUs
    assert ran and all(r["status"] == "ok" and r["peak_mib"] > 0 for r in ran), rows
    assert (tmp_path / f"{stem}.md").is_file()


@pytest.mark.gpu
@needs_cuda
@pytest.mark.parametrize("sampler", __import__("nca_zoo.diffusion").diffusion.SAMPLERS)
def test_every_sampler_runs_on_cuda(sampler):
    """Model, sample and noise on the GPU; the scheduler's σ / timesteps stay on the host."""
    from nca_zoo import create_model
    from nca_zoo.diffusion import DDPMSchedule, sample

    model = create_model("diff_nca", channels=10, hidden=16, steps=2).cuda().eval()
    imgs = sample(model, DDPMSchedule(300).cuda(), 2, 16, 16, sampler=sampler, steps=4,
                  generator=torch.Generator("cuda").manual_seed(0))
    assert imgs.is_cuda and imgs.shape == (2, 3, 16, 16) and torch.isfinite(imgs).all()
