"""Shared helpers of the benchmark scripts: where results go, what machine made them."""
from __future__ import annotations

import json
import os
import platform
import statistics
import sys
import time
from pathlib import Path
from typing import Callable

import torch

RESULTS = Path(__file__).resolve().parent / "results"
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


def machine() -> dict:
    """What produced the numbers: device, CPU count, library versions."""
    return {"device": torch.cuda.get_device_name(0) if torch.cuda.is_available() else "cpu",
            "cpu_count": os.cpu_count(), "torch_threads": torch.get_num_threads(),
            "torch": torch.__version__, "python": platform.python_version(),
            "date": time.strftime("%Y-%m-%d %H:%M:%S")}


def write_results(name: str, payload: dict, markdown: str) -> Path:
    """Write ``results/<name>.json`` and ``results/<name>.md``; return the json path."""
    RESULTS.mkdir(parents=True, exist_ok=True)
    payload = {"machine": machine(), **payload}
    path = RESULTS / f"{name}.json"
    path.write_text(json.dumps(payload, indent=2, default=float))
    (RESULTS / f"{name}.md").write_text(markdown.rstrip() + "\n")
    return path


def update_prior_card(size: str, fields: dict) -> None:
    """Set ``fields`` in the shipped ``gnca-<size>-prior``'s ``card.json`` (atomic)."""
    from nca_zoo._pretrained import SHIPPED
    from nca_zoo.compression.prior import PRIOR_NAMES
    from nca_zoo.layers import atomic_path

    path = SHIPPED / PRIOR_NAMES[size] / "card.json"
    card = {**json.loads(path.read_text()), **fields}
    with atomic_path(path) as tmp:
        tmp.write_text(json.dumps(card, indent=2, sort_keys=True))


#: the ``quick_check`` of a prior's card: 8-bit PSNR of ``n`` held-out patches after ``at``
#: iterations; ``tests/test_pretrained.py`` recomputes it
PRIOR_QUICK_CHECK = {"n": 2, "at": [1, 10], "seed": 0}


def prior_quick_check(prior, size: str, patch: int, steps: int, lr: float) -> dict:
    """A prior card's ``quick_check``: fits from random weights (lr 1e-2) and from ``prior``.

    The prior fits at ``lr``, its card's ``fit_lr`` once chosen: at 1e-2 a 10-iteration fit from
    GNCA-large's prior is chaotic (16.5 vs 15.3 dB on 1 vs 2 threads), at its fit_lr it agrees to
    0.02 dB.  Computed on one thread, as the tests recompute it.
    """
    from nca_zoo.compression.prior import RANDOM_FIT_LR, psnr_curve
    from nca_zoo.data.held_out import held_out_patches

    q = PRIOR_QUICK_CHECK
    targets = held_out_patches(q["n"], patch)
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        quick = {**q, "patch": patch, "lr": {"random": RANDOM_FIT_LR, "prior": lr}}
        for init in ("random", "prior"):
            curve = psnr_curve(targets, size, init, q["at"], prior=prior, steps=steps,
                               seed=q["seed"], lr=quick["lr"][init])
            quick[f"psnr_{init}"] = {str(k): round(v, 3) for k, v in curve["psnr"].items()}
    finally:
        torch.set_num_threads(threads)
    return quick


def image_psnr(per_patch: torch.Tensor) -> float:
    """PSNR of the patches as one image: from the mean of their MSEs."""
    mse = (255.0**2 / 10 ** (per_patch / 10)).mean()
    return float(10 * torch.log10(255.0**2 / mse))


def median_time(fn: Callable[[], object], repeats: int, warmup: int = 1) -> float:
    """Median wall time of ``fn`` in seconds, after ``warmup`` discarded calls."""
    for _ in range(warmup):
        fn()
    times = []
    for _ in range(repeats):
        if torch.cuda.is_available():
            torch.cuda.synchronize()
        start = time.perf_counter()
        fn()
        if torch.cuda.is_available():
            torch.cuda.synchronize()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def md_table(header: list[str], rows: list[list]) -> str:
    """A GitHub markdown table."""
    def cell(v):
        return f"{v:.4g}" if isinstance(v, float) else str(v)
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(cell(v) for v in r) + " |" for r in rows]
    return "\n".join(lines)
