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
