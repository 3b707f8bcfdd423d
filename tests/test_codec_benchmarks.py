"""Smoke run of a GNCA codec benchmark script (``benchmarks/gnca/gnca_patch_sweep.py``).

The script runs as a subprocess, as a user runs it, with its results redirected to a temporary
folder (``$NCA_ZOO_BENCHMARK_RESULTS``); the statistics it reports are tested on the package
(``tests/test_rate_distortion.py``).
"""
import json
import os
import subprocess
import sys
from pathlib import Path

SCRIPT = Path(__file__).resolve().parents[1] / "benchmarks" / "gnca" / "gnca_patch_sweep.py"


def test_patch_sweep_smoke_run_writes_curves_per_iteration_count(tmp_path):
    env = {**os.environ, "NCA_ZOO_BENCHMARK_RESULTS": str(tmp_path), "OMP_NUM_THREADS": "1",
           "WANDB_MODE": "disabled"}
    run = subprocess.run([sys.executable, str(SCRIPT), "--n", "1", "--side", "40", "--patches",
                          "20", "40", "--iterations", "1", "2", "--out", "smoke"],
                         capture_output=True, text=True, env=env, timeout=600)
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-3000:]
    data = json.loads((tmp_path / "smoke.json").read_text())
    curves = {k: v for k, v in data["curves"].items() if k.startswith("GNCA")}
    assert set(curves) == {"GNCA-medium 1it", "GNCA-medium 2it"}
    for points in curves.values():
        assert [p["patch"] for p in points] == [40, 20]  # by rate: more NCAs, more bits
        assert [p["nca_per_image"] for p in points] == [1, 4]
        assert points[0]["bpp"] < points[1]["bpp"]
    assert (tmp_path / "compressai" / "smoke" / "40px" / "GNCA-medium_2it.json").is_file()
    assert len(data["bd"]) == 2 * 3
    assert run.stdout.strip().splitlines()[-1].startswith("best_bd_rate_vs_JPEG=")
