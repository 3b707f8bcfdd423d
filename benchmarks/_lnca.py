"""Helpers shared by the LNCA benchmark scripts: machine info, result files, tables, training."""
from __future__ import annotations

import csv
import json
import os
import platform
import sys
import time
from pathlib import Path

import torch

RESULTS = Path(__file__).resolve().parent / "results"
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

#: benchmark name -> (registered model, task kind)
MODELS = {"NAFNet": "nafnet_small", "Restormer": "restormer_small", "ViTCA": "vitca",
          "LatentViTCA": "lnca_vitca", "LatentNAFCA": "lnca_nafca"}


def machine() -> dict:
    return {"device": torch.cuda.get_device_name(0) if torch.cuda.is_available() else "cpu",
            "cpu_count": os.cpu_count(), "torch_threads": torch.get_num_threads(),
            "torch": torch.__version__, "python": platform.python_version(),
            "date": time.strftime("%Y-%m-%d %H:%M:%S %Z")}


def md_table(header: list, rows: list) -> str:
    def cell(v):
        if v is None:
            return "-"
        return f"{v:.4g}" if isinstance(v, float) else str(v)
    lines = ["| " + " | ".join(map(str, header)) + " |", "|" + "---|" * len(header)]
    return "\n".join(lines + ["| " + " | ".join(cell(v) for v in r) + " |" for r in rows])


def write_results(name: str, payload: dict, rows: list[dict], markdown: str) -> None:
    """``results/<name>.json`` (everything), ``.csv`` (the flat rows) and ``.md`` (tables)."""
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / f"{name}.json").write_text(json.dumps({"machine": machine(), **payload,
                                                      "rows": rows},
                                                     indent=2, default=float))
    if rows:
        keys = list(dict.fromkeys(k for r in rows for k in r))
        with open(RESULTS / f"{name}.csv", "w", newline="") as f:
            w = csv.DictWriter(f, keys)
            w.writeheader()
            w.writerows(rows)
    (RESULTS / f"{name}.md").write_text(markdown.rstrip() + "\n")


def fit_on_embedded(module, data_args: dict, task: str, epochs: int, root: str | None = None,
                    validate: bool = True, image_size: int = 32) -> float:
    """Train an LNCA-style ``module`` on the embedded photos (``image_size`` tiles, batch 8), CPU.

    ``data_args`` go to :class:`~nca_zoo.data.RestorationDataModule`; no logger, checkpoints or
    progress bar; ``validate=False`` skips validation.  Returns the seconds it took.
    """
    import lightning as L

    from nca_zoo.data import RestorationDataModule

    dm = RestorationDataModule(task=task, image_size=image_size, batch_size=8,
                               **data_args)
    trainer = L.Trainer(max_epochs=epochs, accelerator="cpu", logger=False,
                        enable_checkpointing=False, enable_progress_bar=False,
                        enable_model_summary=False, num_sanity_val_steps=0,
                        limit_val_batches=None if validate else 0, default_root_dir=root)
    start = time.perf_counter()
    trainer.fit(module, datamodule=dm)
    return time.perf_counter() - start
