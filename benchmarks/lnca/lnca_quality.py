"""LNCA paper Tables 1-2: SSIM (and PSNR) of the restoration models, denoising and deblurring.

Models: NAFNet, Restormer, ViTCA, LatentViTCA and LatentNAFCA.

Each model is trained through its LightningModule (``nca_zoo.tasks``) on a
:class:`~nca_zoo.data.RestorationDataModule` -- the embedded scikit-image photo tiles (32x32) by
default, or ``--root`` for any folder of images -- with the curriculum in training and the fixed
strength (noise: 50 % of pixels, blur: kernel 7) on the test split.  LNCA runs both phases
(``--epochs`` each).  The scores are torchmetrics PSNR / SSIM on [0, 1] over the (photo-level)
test split, and on the held-out photos at 128 px (``nca_zoo.restoration.held_out_metrics``, the
protocol of the shipped cards), so every model is compared on equal terms; the "degraded input"
row is the corrupted test images themselves.

    # CPU, a few minutes: 10 batches per epoch, 16 test images
    python benchmarks/lnca/lnca_quality.py --quick
    # 10 epochs per model (per phase for LNCA)
    python benchmarks/lnca/lnca_quality.py

``--quick`` numbers come from ten training iterations per epoch: they show that every pipeline runs
end to end, not the models' quality.
"""
from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # benchmarks/: _common
from _common import RESTORATION_MODELS, md_table, write_results


def train_and_test(name: str, task_kind: str, a) -> dict:
    import lightning as L
    import torch

    from nca_zoo.data import RestorationDataModule
    from nca_zoo.restoration import held_out_metrics, is_size_dependent
    from nca_zoo.tasks import LNCARestoration, SupervisedRestoration, ViTCARestoration

    torch.manual_seed(0)
    model = RESTORATION_MODELS[name]
    epochs = a.epochs
    phase1 = None  # LNCA: phase 1 (the autoencoder), then phase 2 from its file
    rollout = {"steps": [8, 32], "eval_steps": 64, "checkpoint_every": a.checkpoint_every}
    if name in ("NAFNet", "Restormer"):
        task = SupervisedRestoration(model=model, lr=1e-3 if name == "NAFNet" else 3e-4)
    elif name == "ViTCA":
        task = ViTCARestoration(rollout={**rollout, "update_rate": 0.5})
    else:
        phase1 = LNCARestoration(model=model, phase="ae")
        epochs = 2 * a.epochs
    dm = RestorationDataModule(root=a.root, task=task_kind, image_size=a.image_size,
                               batch_size=a.batch_size)
    with tempfile.TemporaryDirectory() as tmp:
        def trainer():
            return L.Trainer(max_epochs=a.epochs, limit_train_batches=a.train_batches,
                             limit_val_batches=a.val_batches, limit_test_batches=a.test_batches,
                             accelerator="auto", devices=1, logger=False,
                             enable_checkpointing=False, enable_progress_bar=False,
                             enable_model_summary=False, num_sanity_val_steps=0,
                             default_root_dir=tmp)
        t0 = time.time()
        if phase1 is not None:
            trainer().fit(phase1, datamodule=dm)
            # LatentViTCA: lr 1e-3 in phase 2, as in its configs (1e-2 diverged on deblurring)
            task = LNCARestoration(model=model, phase="nca", ae_checkpoint=str(phase1.ae_file),
                                   lr={"nca": 1e-3 if name == "LatentViTCA" else 1e-2},
                                   rollout={**rollout, "update_rate": 1.0})
        trainer = trainer()
        trainer.fit(task, datamodule=dm)
        train_s = time.time() - t0
        metrics = trainer.test(task, datamodule=dm, verbose=False)[0]
    held = held_out_metrics(task.model.cpu(), task_kind, sizes=("128",),
                            tile=a.image_size if is_size_dependent(task.model) else None)["128"]
    return {"model": name, "task": task_kind, "ssim": metrics["test/ssim"],
            "psnr_held_out_128": held["psnr_model"], "ssim_held_out_128": held["ssim_model"],
            "psnr_input_held_out_128": held["psnr_input"],
            "ssim_input_held_out_128": held["ssim_input"],
            "psnr": metrics["test/psnr"], "ssim_input": metrics["test/ssim_input"],
            "psnr_input": metrics["test/psnr_input"], "epochs": epochs, "train_s": train_s,
            "params": sum(p.numel() for p in task.model.parameters())}


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--quick", action="store_true")
    p.add_argument("--root", default=None, help="folder of images (default: embedded photo tiles)")
    p.add_argument("--tasks", nargs="+", default=["noise", "blur"], choices=["noise", "blur"])
    p.add_argument("--models", nargs="+", default=list(RESTORATION_MODELS),
                   choices=list(RESTORATION_MODELS))
    p.add_argument("--epochs", type=int, default=None, help="epochs per model (per phase for LNCA)")
    p.add_argument("--image-size", type=int, default=32)
    p.add_argument("--batch-size", type=int, default=8)
    p.add_argument("--checkpoint-every", type=int, default=0, help="checkpointed BPTT for the NCAs")
    p.add_argument("--threads", type=int, default=0, help="torch CPU threads (0 = torch's default)")
    p.add_argument("--out", default=None,
                   help="results/<out>.{json,csv,md} (default lnca_quality[_quick])")
    a = p.parse_args()
    a.epochs = a.epochs or (1 if a.quick else 10)
    a.train_batches = 10 if a.quick else 1.0
    a.val_batches = 0 if a.quick else 1.0
    a.test_batches = 2 if a.quick else 1.0
    os.environ.setdefault("WANDB_MODE", "disabled")
    if a.threads > 0:
        import torch

        torch.set_num_threads(a.threads)

    t0 = time.time()
    rows = []
    for kind in a.tasks:
        for name in a.models:
            r = train_and_test(name, kind, a)
            rows.append(r)
            print(f"  {kind:5s} {name:12s} SSIM {r['ssim']:.4f}  PSNR {r['psnr']:.2f} dB  "
                  f"(input {r['ssim_input']:.4f} / {r['psnr_input']:.2f})  {r['train_s']:.0f} s",
                  file=sys.stderr, flush=True)
    md = [f"# LNCA restoration quality (Tables 1-2){' --quick' if a.quick else ''}", "",
          f"Data: {a.root or 'embedded scikit-image tiles'}, {a.image_size}x{a.image_size}; "
          f"{a.epochs} epoch(s) per model (per phase for LNCA)"
          + (", 10 training batches per epoch, 2 test batches (16 images)" if a.quick else "")
          + "."]
    for metric in ("ssim", "psnr", "ssim_held_out_128", "psnr_held_out_128"):
        name = metric.split("_")[0].upper()
        where = "held-out photos, 128 px" if "held" in metric else "photo-level test split"
        hdr = ["model"] + [f"{k} {name} ({where})" for k in a.tasks]
        key = metric.replace("_held", "_input_held") if "held" in metric else f"{metric}_input"
        table = [["degraded input"] + [next(r[key] for r in rows if r["task"] == k)
                                       for k in a.tasks]]
        for name in a.models:
            table.append([name] + [next(r[metric] for r in rows
                                        if r["task"] == k and r["model"] == name)
                                   for k in a.tasks])
        md += ["", md_table(hdr, table)]
    md.append(f"\nTotal time {time.time() - t0:.0f} s.")
    write_results(a.out or ("lnca_quality_quick" if a.quick else "lnca_quality"),
                  {"settings": {k: getattr(a, k) for k in ("quick", "root", "epochs", "image_size",
                                                           "batch_size", "train_batches",
                                                           "test_batches")}},
                  "\n".join(md), rows=rows)
    print("\n".join(md))


if __name__ == "__main__":
    main()
