"""Check every task's CUDA training path: a few real optimisation steps, fp32 and bf16-mixed.

Each case trains one task family through its own LightningModule and datamodule with the
Lightning Trainer (``accelerator="gpu"``, one device): GNCA compression banks, LNCA (NAFCA and
ViTCA cells, phase 2, checkpointed BPTT off and on), pixel ViTCA, NAFNet, Restormer, Diff-NCA,
FourierDiff-NCA and the UNet, at paper-like sizes on the embedded photos.  Per case and precision:
steps/s (median over the timed training iterations after ``--warmup``, each ended by
``torch.cuda.synchronize``), peak ``torch.cuda.max_memory_allocated`` (reset per case), and the
loss, which must stay finite.  Writes ``<out>/gpu_check_<device>.md`` and ``.json``; exits
non-zero if a case fails.

    python benchmarks/tools/gpu_check.py [--steps 10] [--out benchmarks/results] [--tiny]
        [--cases 'lnca*'] [--precision 32 bf16]

``--tiny`` runs the registry's tiny models on small images (a smoke run).  ``--device cpu`` is
hidden and for testing only: the same cases on the CPU, without memory figures.
"""
from __future__ import annotations

import argparse
import fnmatch
import gc
import logging
import math
import re
import statistics
import sys
import tempfile
import time
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # benchmarks/: _common
from _common import RESULTS, machine, md_table, write_results

NO_CUDA = "gpu_check needs a CUDA device"
PRECISIONS = {"32": "32-true", "bf16": "bf16-mixed"}


@dataclass(frozen=True)
class Case:
    """One training configuration: ``build(tiny, workdir) -> (task, datamodule)``."""

    name: str
    task: str          # the LightningModule class in nca_zoo.tasks
    model: str         # the registered model
    loss_key: str      # the logged training loss
    build: Callable
    about: str         # size and settings, for the table


def _info_tiny(model: str) -> dict:
    """The registry's tiny constructor arguments, less the rollout settings the task sets."""
    from nca_zoo._registry import model_info
    rollout = ("steps", "eval_steps", "update_rate", "checkpoint_every")
    return {k: v for k, v in model_info(model).tiny.items() if k not in rollout}


def _gnca(every: int):
    def build(tiny, workdir):
        from nca_zoo.data import PatchBankDataModule
        from nca_zoo.tasks import GNCACompression
        size, patch, model = (16, 8, "gnca_small") if tiny else (120, 40, "gnca_medium")
        rollout = {"steps": 4 if tiny else 48, "checkpoint_every": every}
        task = GNCACompression(model, rollout=rollout, batch_size=2 if tiny else 8, lr=2e-3)
        return task, PatchBankDataModule(["embedded:astronaut"], size=size, patch_size=patch,
                                         iterations_per_epoch=1000)
    return build


def _gnca_prior(tiny, workdir):
    from nca_zoo.data import PriorPatchDataModule
    from nca_zoo.tasks import GNCAPrior
    model, size, patch = ("gnca_small", 32, 8) if tiny else ("gnca_medium", [96, 160, 256], 40)
    task = GNCAPrior(model, steps=4 if tiny else 48, inner_steps=2 if tiny else 10)
    return task, PriorPatchDataModule(size=size, patch_size=patch,
                                      patches_per_step=2 if tiny else 8, val_patches=1)


def _restoration_data(tiny):
    from nca_zoo.data import RestorationDataModule
    if tiny:
        return RestorationDataModule(image_size=16, batch_size=4, max_images=40)
    return RestorationDataModule(image_size=32, batch_size=8)


def _lnca(model: str, every: int):
    def build(tiny, workdir):
        import torch

        from nca_zoo.tasks import LNCARestoration
        kw = dict(pool_size=8, model_args=_info_tiny(model)) if tiny else {}
        steps = {"steps": [2, 2], "eval_steps": 2} if tiny else {"steps": [32, 32]}
        ae = Path(workdir) / "autoencoder.pt"
        task = LNCARestoration(model, phase="nca", ae_checkpoint=str(ae),
                               rollout={**steps, "checkpoint_every": every}, **kw)
        # phase 2 trains the NCA on a frozen autoencoder: its fresh initialisation will do here
        torch.save(task.model.autoencoder.state_dict(), ae)
        return task, _restoration_data(tiny)
    return build


def _vitca(tiny, workdir):
    from nca_zoo.tasks import ViTCARestoration
    kw = dict(rollout={"steps": [2, 2], "eval_steps": 2, "update_rate": 0.5}, pool_size=8,
              model_args=_info_tiny("vitca")) \
        if tiny else dict(rollout={"steps": [32, 32], "eval_steps": 64, "update_rate": 0.5})
    return ViTCARestoration("vitca", **kw), _restoration_data(tiny)


def _supervised(model: str):
    def build(tiny, workdir):
        from nca_zoo.tasks import SupervisedRestoration
        task = SupervisedRestoration(model, model_args=_info_tiny(model) if tiny else None)
        return task, _restoration_data(tiny)
    return build


def _diffusion(model: str, model_args: dict, every: int, ema: float):
    def build(tiny, workdir):
        from nca_zoo.data import DiffusionDataModule
        from nca_zoo.tasks import DiffusionTask
        args = _info_tiny(model) if tiny else model_args
        task = DiffusionTask(model, args, checkpoint_every=every, ema_decay=ema)
        size, batch = (16, 2) if tiny else (64, 16)
        return task, DiffusionDataModule(size=size, stride=16, batch_size=batch)
    return build


def _vnca(tiny, workdir):
    from nca_zoo.data import DiffusionDataModule
    from nca_zoo.tasks import VNCATask
    task = VNCATask(model_args=_info_tiny("vnca") if tiny else None, n_samples=0)
    size, batch = (16, 2) if tiny else (64, 32)
    return task, DiffusionDataModule(size=size, stride=16, batch_size=batch)


def _latent_codec(tiny, workdir):
    from nca_zoo.data.image_batch import ImageBatchDataModule
    from nca_zoo.tasks.latent_codec import LatentCodecFit
    rule = {**_info_tiny("latent_nca"), "steps": 2} if tiny else \
        {"levels": 6, "channels": 8, "hidden": 16, "steps": 6}
    task = LatentCodecFit(lam=2e-3, rule=rule, train_rule=True)
    data = ImageBatchDataModule(crops=4, crop_size=16, sizes=[32]) if tiny else \
        ImageBatchDataModule(crops=48, crop_size=64, sizes=[96, 160, 256])
    return task, data


CASES = [
    Case("gnca_bank", "GNCACompression", "gnca_medium", "train/loss", _gnca(0),
         "9 patches 40x40, batch 8, 48 steps"),
    Case("gnca_bank_ckpt", "GNCACompression", "gnca_medium", "train/loss", _gnca(8),
         "9 patches 40x40, batch 8, 48 steps, checkpoint_every 8"),
    Case("gnca_prior", "GNCAPrior", "gnca_medium", "train/inner_loss_last", _gnca_prior,
         "Reptile: 8 crops 40x40, 10 inner Adam iterations, 48 steps"),
    *[Case(f"{m}_nca{'_ckpt' if every else ''}", "LNCARestoration", m, "train/loss_nca",
           _lnca(m, every),
           f"phase nca, 32x32, batch 8, 32 steps, a fresh and a pool update per batch"
           f"{', checkpoint_every 8' if every else ''}")
      for m in ("lnca_nafca", "lnca_vitca") for every in (0, 8)],
    Case("vitca", "ViTCARestoration", "vitca", "train/loss", _vitca,
         "pixel ViTCA, 32x32, batch 8, 32 steps, pool"),
    Case("nafnet", "SupervisedRestoration", "nafnet_small", "train/loss",
         _supervised("nafnet_small"), "32x32, batch 8"),
    Case("restormer", "SupervisedRestoration", "restormer_small", "train/loss",
         _supervised("restormer_small"), "32x32, batch 8"),
    Case("diff_nca", "DiffusionTask", "diff_nca", "train/loss",
         _diffusion("diff_nca", {"update_rate": 0.9, "norm": "cell"}, 4, 0.99),
         "64x64, batch 16, checkpoint_every 4, EMA"),
    Case("fourierdiff_nca", "DiffusionTask", "fourierdiff_nca", "train/loss",
         _diffusion("fourierdiff_nca", {"update_rate": 0.9, "norm": "group",
                                        "fourier_anchor": "dc"}, 4, 0.99),
         "64x64, batch 16, checkpoint_every 4, EMA"),
    Case("unet", "DiffusionTask", "unet_s", "train/loss",
         _diffusion("unet_s", {}, 0, 0.0), "64x64, batch 16"),
    Case("vnca", "VNCATask", "vnca", "train/loss", _vnca,
         "64x64, batch 32, 48 NCA steps checkpointed every step (official recipe)"),
    Case("latent_codec", "LatentCodecFit", "latent_nca", "train/loss", _latent_codec,
         "the latent codec's rule and latents of 48 crops 64x64 (configs/gnca/latent_prior.yaml)"),
]


def slug(text: str) -> str:
    """``"NVIDIA H100 80GB HBM3"`` -> ``"nvidia-h100-80gb-hbm3"``."""
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")


def _clock(cuda: bool, stop_after: int, stamps: list):
    """A callback that stamps the start and the end of every training iteration (synchronised)."""
    import lightning as L
    import torch

    def stamp():
        if cuda:
            torch.cuda.synchronize()
        stamps.append(time.perf_counter())

    class Clock(L.Callback):
        def on_train_start(self, trainer, module):
            stamp()

        def on_train_batch_end(self, trainer, module, outputs, batch, batch_idx):
            stamp()
            if len(stamps) > stop_after:
                trainer.should_stop = True

    return Clock()


def run_case(case: Case, precision: str, device: str, steps: int, warmup: int,
             tiny: bool) -> dict:
    """Train ``case`` for ``warmup + steps`` iterations; its speed, peak memory and losses."""
    import lightning as L
    import torch

    cuda = device == "cuda"
    row = {"case": case.name, "task": case.task, "model": case.model, "precision": precision,
           "about": "tiny" if tiny else case.about}
    if cuda and precision == "bf16" and not torch.cuda.is_bf16_supported():
        return {**row, "status": "skipped: no bf16 on this GPU"}
    losses, stamps, start = [], [], time.perf_counter()
    with tempfile.TemporaryDirectory() as workdir:
        try:
            L.seed_everything(0, verbose=False)
            task, data = case.build(tiny, workdir)
            row["model"] = task.hparams.get("model", case.model)
            log = task.log

            def record(name, value, *args, **kwargs):  # the task's own loss, every step
                if name == case.loss_key:
                    losses.append(float(value.detach() if hasattr(value, "detach") else value))
                return log(name, value, *args, **kwargs)

            task.log = record
            if cuda:  # peak over what this case allocates: the previous cases' memory is gone
                gc.collect()
                torch.cuda.empty_cache()
                torch.cuda.reset_peak_memory_stats()
                base = torch.cuda.memory_allocated()
            trainer = L.Trainer(accelerator="gpu" if cuda else "cpu", devices=1,
                                precision=PRECISIONS[precision], max_epochs=-1,
                                limit_val_batches=0, num_sanity_val_steps=0, logger=False,
                                enable_checkpointing=False, enable_progress_bar=False,
                                enable_model_summary=False, default_root_dir=workdir,
                                callbacks=[_clock(cuda, warmup + steps, stamps)])
            trainer.fit(task, datamodule=data)
            times = [b - a for a, b in zip(stamps, stamps[1:])][warmup:]
            row["steps"] = len(stamps) - 1
            row["s_per_step"] = statistics.median(times) if times else None
            row["steps_per_s"] = 1 / row["s_per_step"] if times else None
            row["peak_mib"] = (torch.cuda.max_memory_allocated() - base) / 2**20 if cuda else None
            row["loss"] = losses[-1] if losses else None
            finite = bool(losses) and all(math.isfinite(v) for v in losses)
            row["status"] = "ok" if finite and times else \
                f"FAIL: loss {losses[-1] if losses else 'never logged'}"
        except Exception as exc:  # one failing case must not hide the others
            row["status"] = f"FAIL: {type(exc).__name__}: {str(exc).splitlines()[0][:200]}"
        finally:
            if cuda:  # free this case's memory before the next one
                task = data = trainer = None
                gc.collect()
                torch.cuda.empty_cache()
    row["wall_s"] = time.perf_counter() - start
    return row


def select(patterns: list[str]) -> list[Case]:
    """The cases whose name matches one of the shell-style ``patterns``."""
    chosen = [c for c in CASES if any(fnmatch.fnmatch(c.name, p) for p in patterns)]
    if not chosen:
        raise SystemExit(f"no case matches {patterns}; cases: {', '.join(c.name for c in CASES)}")
    return chosen


def markdown(rows: list[dict], device_name: str, args) -> str:
    table = md_table(
        ["case", "task", "model", "precision", "steps/s", "peak MiB", "loss", "status", "setup"],
        [[r["case"], r["task"], r["model"], r["precision"], r.get("steps_per_s") or "-",
          "-" if r.get("peak_mib") is None else round(r["peak_mib"], 1),
          "-" if r.get("loss") is None else r["loss"], r["status"], r["about"]] for r in rows])
    return (f"# GPU check: {device_name}\n\n"
            f"Training iterations through the tasks' own code (Lightning Trainer, 1 device): "
            f"{args.warmup} warm-up + {args.steps} timed; steps/s is the median of the timed "
            f"ones (data, forward, backward, optimiser); peak memory is "
            f"`torch.cuda.max_memory_allocated`, reset per case.\n\n{table}\n")


def quiet_lightning() -> None:
    """One line per case: Lightning's banners and its known harmless warnings are left out."""
    import lightning.pytorch  # noqa: F401 -- it sets its loggers' levels when imported

    for name in ("lightning.pytorch", "lightning.fabric"):
        logging.getLogger(name).setLevel(logging.WARNING)
    for message in (r".*treespec", r".*module\(s\) in eval mode", r".*does not have many workers",
                    r".*Tensor Cores", r".*max_epochs=-1"):
        warnings.filterwarnings("ignore", message=message)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--steps", type=int, default=10, help="timed training steps per case")
    ap.add_argument("--warmup", type=int, default=3, help="untimed steps first")
    ap.add_argument("--out", type=Path, default=RESULTS, help="folder of the result files")
    ap.add_argument("--cases", nargs="+", default=["*"], help="case names (shell patterns)")
    ap.add_argument("--precision", nargs="+", choices=list(PRECISIONS), default=list(PRECISIONS))
    ap.add_argument("--tiny", action="store_true", help="registry tiny models, small images")
    ap.add_argument("--device", choices=["cuda", "cpu"], default="cuda",
                    help=argparse.SUPPRESS)  # cpu: for testing this script without a GPU
    args = ap.parse_args(argv)
    if args.steps < 1 or args.warmup < 0:
        ap.error("--steps must be >= 1 and --warmup >= 0")

    import torch

    if args.device == "cuda" and not torch.cuda.is_available():
        print(NO_CUDA, file=sys.stderr)
        return 1
    cases = select(args.cases)
    quiet_lightning()
    name = torch.cuda.get_device_name(0) if args.device == "cuda" else "cpu"
    rows = []
    for case in cases:
        for precision in args.precision:
            row = run_case(case, precision, args.device, args.steps, args.warmup, args.tiny)
            rows.append(row)
            print(f"{case.name:20s} {precision:5s} {row.get('steps_per_s') or 0:8.2f} steps/s  "
                  f"{row['status']}", flush=True)
    md = markdown(rows, name, args)
    info = {**machine(), "device": name,
            "float32_matmul_precision": torch.get_float32_matmul_precision()}
    path = write_results(f"gpu_check_{slug(name)}{'_tiny' if args.tiny else ''}",
                         {"machine": info, "steps": args.steps, "warmup": args.warmup,
                          "tiny": args.tiny}, md, rows=rows, folder=args.out)
    print(md)
    print(f"wrote {path.with_suffix('.md')}")
    failed = [r for r in rows if r["status"].startswith("FAIL")]
    if failed:
        print(f"{len(failed)} case(s) failed: {', '.join(r['case'] for r in failed)}",
              file=sys.stderr)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
