"""Export a trained restoration checkpoint as a shipped pretrained module with a measured card.

    python benchmarks/export_pretrained.py RUN.ckpt --name lnca-nafca-denoise \
        --config configs/lnca/lnca_nafca_denoise.yaml --recipe "... the exact fit command ..."

The card's metrics are measured here, on the held-out test split of the embedded data
(``nca_zoo.evaluate.restoration_metrics``), never typed.
"""
from __future__ import annotations

import argparse
from pathlib import Path

import _common  # noqa: F401  (puts the repo on sys.path)

import nca_zoo
from nca_zoo._pretrained import SHIPPED
from nca_zoo.evaluate import restoration_metrics
from nca_zoo.tasks import LNCARestoration


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("checkpoint")
    ap.add_argument("--name", required=True)
    ap.add_argument("--config", required=True, help="the recipe config the run used")
    ap.add_argument("--recipe", required=True, help="the exact command that trained it")
    args = ap.parse_args()
    task = LNCARestoration.load_from_checkpoint(args.checkpoint, map_location="cpu")
    h = task.hparams
    model_args = {"steps": list(h.steps), "eval_steps": h.eval_steps, "update_rate": h.update_rate,
                  **(h.model_kwargs or {})}
    data_task = "blur" if "deblur" in args.name else "noise"
    metrics = restoration_metrics(task.model, task=data_task, image_size=h.image_size or 32)
    card = {"name": args.name, "paper": "LNCA (Menta et al., ALIFE 2024)", "task": data_task,
            "data": "embedded scikit-image photo tiles, 32x32, test split 20% (split_seed 0)",
            "recipe_config": args.config, "recipe": args.recipe,
            "metrics": metrics, "measured_by": "benchmarks/export_pretrained.py"}
    folder = nca_zoo.save_pretrained(task.model, SHIPPED / args.name, h.model, model_args, card)
    print(folder, metrics)


if __name__ == "__main__":
    main()
