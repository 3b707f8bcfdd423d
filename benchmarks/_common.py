"""Shared helpers of the benchmark scripts: where results go, what machine made them, tables.

Every script, in whichever folder (``gnca/``, ``lnca/``, ``diffusion/``, ``core/``, ``tools/``),
starts with the same two lines, so it runs both as ``python benchmarks/gnca/x.py`` from the
repository and as ``python gnca/x.py`` from ``benchmarks/``::

    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # benchmarks/: _common
    from _common import RESULTS, md_table, write_results

Importing this module puts the repository on ``sys.path`` too (``nca_zoo`` without installing).
Results go to ``benchmarks/results/`` or, when set, to the folder ``$NCA_ZOO_BENCHMARK_RESULTS``
(smoke runs in tests write there instead of over the published files).
"""
from __future__ import annotations

import csv
import json
import os
import platform
import statistics
import sys
import time
from pathlib import Path
from typing import Callable

#: the repository
ROOT = Path(__file__).resolve().parents[1]
#: where every script writes ``<name>.json`` / ``.md`` (``.csv``)
RESULTS = Path(os.environ.get("NCA_ZOO_BENCHMARK_RESULTS") or ROOT / "benchmarks" / "results")
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

#: LNCA benchmark name -> registered model (LNCA Tables 1-2)
RESTORATION_MODELS = {"NAFNet": "nafnet_small", "Restormer": "restormer_small",
                      "ViTCA": "vitca", "LatentViTCA": "lnca_vitca", "LatentNAFCA": "lnca_nafca"}


def machine() -> dict:
    """What produced the numbers: device, CPU count, library versions, date."""
    import torch

    return {"device": torch.cuda.get_device_name(0) if torch.cuda.is_available() else "cpu",
            "cpu_count": os.cpu_count(), "torch_threads": torch.get_num_threads(),
            "torch": torch.__version__, "python": platform.python_version(),
            "date": time.strftime("%Y-%m-%d %H:%M:%S")}


def write_results(name: str, payload: dict, markdown: str, rows: list[dict] | None = None,
                  folder: Path | None = None) -> Path:
    """Write ``<name>.json`` (:func:`machine` + ``payload``) and ``<name>.md``; return the json.

    ``rows`` (flat dicts) also go into the json and into ``<name>.csv``.  ``folder`` defaults to
    :data:`RESULTS`.  A ``"machine"`` key in ``payload`` replaces the measured one.
    """
    folder = RESULTS if folder is None else folder
    folder.mkdir(parents=True, exist_ok=True)
    data = {"machine": machine(), **payload}
    if rows is not None:
        data["rows"] = rows
    path = folder / f"{name}.json"
    path.write_text(json.dumps(data, indent=2, default=float))
    if rows:
        with open(folder / f"{name}.csv", "w", newline="") as f:
            writer = csv.DictWriter(f, list(dict.fromkeys(k for r in rows for k in r)))
            writer.writeheader()
            writer.writerows(rows)
    (folder / f"{name}.md").write_text(markdown.rstrip() + "\n")
    return path


def md_table(header: list, rows: list[list]) -> str:
    """A GitHub markdown table; floats to 4 significant digits, None as ``-``."""
    def cell(v) -> str:
        if v is None:
            return "-"
        return f"{v:.4g}" if isinstance(v, float) else str(v)
    lines = ["| " + " | ".join(map(str, header)) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(cell(v) for v in r) + " |" for r in rows]
    return "\n".join(lines)


def median_time(fn: Callable[[], object], repeats: int, warmup: int = 1) -> float:
    """Median wall time of ``fn`` in seconds, after ``warmup`` discarded calls."""
    import torch

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


def restorers() -> list[str]:
    """Shipped modules whose card says they restore images (task ``noise`` or ``blur``)."""
    import nca_zoo
    from nca_zoo._pretrained import SHIPPED

    return [n for n in nca_zoo.list_pretrained()
            if json.loads((SHIPPED / n / "card.json").read_text()).get("task") in ("noise", "blur")]


def fit_on_embedded(module, data_args: dict, task: str, epochs: int, root: str | None = None,
                    validate: bool = True, image_size: int = 32) -> float:
    """Train an LNCA-style ``module`` on the embedded photos (``image_size`` tiles, batch 8), CPU.

    ``data_args`` go to :class:`~nca_zoo.data.RestorationDataModule`; no logger, checkpoints or
    progress bar; ``validate=False`` skips validation.  Returns the seconds it took.
    """
    import lightning as L

    from nca_zoo.data import RestorationDataModule

    dm = RestorationDataModule(task=task, image_size=image_size, batch_size=8, **data_args)
    trainer = L.Trainer(max_epochs=epochs, accelerator="cpu", logger=False,
                        enable_checkpointing=False, enable_progress_bar=False,
                        enable_model_summary=False, num_sanity_val_steps=0,
                        limit_val_batches=None if validate else 0, default_root_dir=root)
    start = time.perf_counter()
    trainer.fit(module, datamodule=dm)
    return time.perf_counter() - start


def image_psnr(per_patch) -> float:
    """PSNR of the patches as one image, from the mean of their MSEs (``per_patch`` in dB)."""
    import torch

    mse = (255.0**2 / 10 ** (per_patch / 10)).mean()
    return float(10 * torch.log10(255.0**2 / mse))


#: the ``quick_check`` of a prior's card: 8-bit PSNR of ``n`` held-out patches after ``at``
#: iterations; ``tests/test_pretrained.py`` recomputes it
PRIOR_QUICK_CHECK = {"n": 2, "at": [1, 10], "seed": 0}


def prior_quick_check(prior, size: str, patch: int, steps: int, lr: float) -> dict:
    """A prior card's ``quick_check``: fits from random weights (lr 1e-2) and from ``prior``.

    The prior fits at ``lr``, its card's ``fit_lr`` once chosen: at 1e-2 a 10-iteration fit from
    GNCA-large's prior is chaotic (16.5 vs 15.3 dB on 1 vs 2 threads), at its fit_lr it agrees to
    0.02 dB.  Computed on one thread, as the tests recompute it.
    """
    import torch

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


def update_prior_card(size: str, fields: dict) -> None:
    """Set ``fields`` in the shipped ``gnca-<size>-prior``'s ``card.json`` (atomic)."""
    from nca_zoo._pretrained import SHIPPED
    from nca_zoo.compression.prior import PRIOR_NAMES
    from nca_zoo.layers import atomic_path

    path = SHIPPED / PRIOR_NAMES[size] / "card.json"
    card = {**json.loads(path.read_text()), **fields}
    with atomic_path(path) as tmp:
        tmp.write_text(json.dumps(card, indent=2, sort_keys=True))


def script_path(file: str) -> str:
    """``benchmarks/<folder>/<script>.py`` of a script's ``__file__``: the path its output cites."""
    return Path(file).resolve().relative_to(ROOT).as_posix()
