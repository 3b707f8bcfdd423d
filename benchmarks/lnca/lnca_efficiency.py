"""LNCA paper Tables 3-5: peak training memory, training time per epoch, inference latency.

Models: NAFNet, Restormer (small widths), pixel ViTCA, LatentViTCA, LatentNAFCA -- each trained
through its real LightningModule (``nca_zoo.tasks``) on a dummy set of 1000 random images (80/20:
800 training images per epoch).  Every (model, size, batch) configuration runs in its own
subprocess so that one peak does not hide another.

* Peak training memory.  CPU: ``ru_maxrss`` at the end of the training iterations minus the
  process's resident set size (``VmRSS``) just before ``trainer.fit`` -- the growth caused by
  training (activations, gradients, optimiser state, the sample pools, which live on the device
  here; their size is listed separately).  CUDA: ``torch.cuda.max_memory_allocated`` minus the
  allocation before ``fit``.  Latent models: the larger of phase 1 (AE) and phase 2 (NCA).
* Training time per epoch: the mean time of the timed iterations (the first, warm-up, is
  discarded) x iterations per epoch (800 / batch); latent models: phase 1 + phase 2 epochs
  summed.  A phase-2 iteration is the reference's fresh step + pool step.  NCA step counts are
  fixed at ``--train-steps`` (default 20, the mean of the 8-32 range; the memory peak uses
  ``--memory-steps``, default 32, the range's maximum).  ``--quick`` uses 8 steps for both (pixel
  ViTCA at 64x64 batch 8 needs about 11 GB of RAM for 20 steps of BPTT; both memory and time grow
  linearly in the step count for every NCA here) and times only 2 iterations after the warm-up,
  extrapolating the epoch from them.
* Inference latency: one batch, 64 NCA steps (single pass for NAFNet / Restormer), mean of 10
  (``--quick``: 2) after one warm-up call (8 NCA steps).

The "16x larger input" claim: the largest side at which LatentNAFCA trains (batch 8) within the
memory that ViTCA needs for 32x32 batch 8.

    python benchmarks/lnca/lnca_efficiency.py --quick  # CPU, a few minutes: 64x64 batch 8
    python benchmarks/lnca/lnca_efficiency.py          # 32/64/128 px x batch 8/16/32 (GPU advised)

Last line in ``--quick`` mode:
``memory_ratio=<LatentNAFCA/ViTCA> latency_ratio=<LatentNAFCA/ViTCA>``.
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # benchmarks/: _common
from _common import RESTORATION_MODELS, md_table, write_results


# ---------------------------------------------------------------------------- worker
def _rss_now() -> int:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    return 0


def _build_task(name: str, size: int, steps: int, phase: str, tmp: str, ae_width: int = 8,
                latent_channels: int = 16, ae_depth: int = 1):
    import torch

    from nca_zoo.tasks import LNCARestoration, SupervisedRestoration, ViTCARestoration

    model = RESTORATION_MODELS[name]
    if name in ("NAFNet", "Restormer"):
        return SupervisedRestoration(model=model)
    if name == "ViTCA":
        return ViTCARestoration(rollout={"steps": [steps, steps], "eval_steps": 64,
                                         "update_rate": 0.5}, image_size=size)
    rollout = {"steps": [steps, steps], "eval_steps": 64, "update_rate": 1.0}
    args = {"ae_width": ae_width, "latent_channels": latent_channels, "ae_depth": ae_depth}
    if phase == "ae":
        return LNCARestoration(model=model, phase="ae", rollout=rollout, image_size=size,
                               model_args=args)
    ae_file = os.path.join(tmp, "ae.pt")
    donor = LNCARestoration(model=model, phase="ae", image_size=size, pool_size=1,
                            model_args=args)
    torch.save(donor.model.autoencoder.state_dict(), ae_file)
    return LNCARestoration(model=model, phase="nca", ae_checkpoint=ae_file, rollout=rollout,
                           image_size=size, model_args=args)


class _Dummy:
    """1000 random images, 80/20; batches ``(clean, degraded)``."""

    @staticmethod
    def make(size: int, batch: int):
        import lightning as L
        import torch
        from torch.utils.data import DataLoader, TensorDataset

        class DummyData(L.LightningDataModule):
            def __init__(self):
                super().__init__()
                g = torch.Generator().manual_seed(0)
                self.clean = torch.rand(1000, 3, size, size, generator=g)
                self.degraded = torch.rand(1000, 3, size, size, generator=g)
                self.image_size = size

            def train_dataloader(self):
                return DataLoader(TensorDataset(self.clean[:800], self.degraded[:800]),
                                  batch_size=batch, shuffle=True, drop_last=True)

        return DummyData()


def worker(args) -> dict:
    import lightning as L
    import torch

    torch.manual_seed(0)
    if args.threads > 0:
        torch.set_num_threads(args.threads)
    cuda = torch.cuda.is_available() and not args.cpu
    dev = torch.device("cuda" if cuda else "cpu")
    res = {"model": args.model, "size": args.size, "batch": args.batch, "phase": args.phase}
    times = []

    class Timer(L.Callback):
        def on_train_batch_start(self, *a):
            if cuda:
                torch.cuda.synchronize()
            self.t = time.perf_counter()

        def on_train_batch_end(self, *a):
            if cuda:
                torch.cuda.synchronize()
            times.append(time.perf_counter() - self.t)

    with tempfile.TemporaryDirectory() as tmp:
        steps = args.memory_steps if args.what == "memory" else args.train_steps
        task = _build_task(args.model, args.size, steps, args.phase, tmp, args.ae_width,
                           args.latent_channels, args.ae_depth)
        dm = _Dummy.make(args.size, args.batch)
        pool_bytes = sum(b.numel() * b.element_size() for n, b in task.named_buffers()
                         if "pool_" in n)
        trainer = L.Trainer(max_epochs=1, limit_train_batches=args.iters, limit_val_batches=0,
                            accelerator="gpu" if cuda else "cpu", devices=1, logger=False,
                            enable_checkpointing=False, enable_progress_bar=False,
                            enable_model_summary=False, num_sanity_val_steps=0,
                            default_root_dir=tmp, callbacks=[Timer()])
        import resource

        if cuda:
            torch.cuda.reset_peak_memory_stats()
            base = torch.cuda.memory_allocated()
        else:
            base = _rss_now()
        trainer.fit(task, datamodule=dm)
        if cuda:
            peak = torch.cuda.max_memory_allocated() - base
        else:
            peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024 - base
        res.update(peak_mb=peak / 2**20, pool_mb=pool_bytes / 2**20, nca_steps=steps)
        timed = times[1:] if len(times) > 1 else times
        res["iter_s"] = sum(timed) / len(timed)
        res["epoch_s"] = res["iter_s"] * (800 // args.batch)
        if args.what == "latency":
            model = task.model.to(dev).eval()
            x = torch.rand(args.batch, 3, args.size, args.size, device=dev)
            run = ((lambda: model(x)) if args.model in ("NAFNet", "Restormer")
                   else (lambda: model(x, steps=64)))
            lat = []
            with torch.no_grad():
                for i in range(args.repeats + 1):
                    if cuda:
                        torch.cuda.synchronize()
                    t = time.perf_counter()
                    if i == 0 and args.model not in ("NAFNet", "Restormer"):
                        model(x, steps=8)  # warm-up call
                    else:
                        run()
                    if cuda:
                        torch.cuda.synchronize()
                    if i:  # the first call is the warm-up
                        lat.append(time.perf_counter() - t)
            res["latency_s"] = sum(lat) / len(lat)
    return res


# ---------------------------------------------------------------------------- driver
def run_one(model: str, size: int, batch: int, what: str, phase: str, opts) -> dict:
    """One configuration in a fresh subprocess; None values when it fails (out of memory)."""
    cmd = [sys.executable, os.path.abspath(__file__), "--worker", "--model", model,
           "--size", str(size), "--batch", str(batch), "--what", what, "--phase", phase,
           "--iters", str(opts.iters), "--repeats", str(opts.repeats),
           "--train-steps", str(opts.train_steps), "--memory-steps", str(opts.memory_steps),
           "--mem-limit-gb", str(opts.mem_limit_gb), "--threads", str(opts.threads),
           "--ae-width", str(opts.ae_width), "--latent-channels", str(opts.latent_channels),
           "--ae-depth", str(opts.ae_depth)]
    if opts.cpu:
        cmd.append("--cpu")
    env = {**os.environ, "WANDB_MODE": "disabled", "PYTHONWARNINGS": "ignore"}
    out = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=opts.timeout)
    lines = [ln for ln in out.stdout.splitlines() if ln.startswith("{")]
    if out.returncode != 0 or not lines:
        tail = (out.stderr.strip().splitlines() or ["?"])[-1]
        print(f"  {model} {size}px b{batch} {what}/{phase}: failed ({tail[:120]})", file=sys.stderr)
        return {"model": model, "size": size, "batch": batch, "phase": phase, "failed": tail[:200]}
    return json.loads(lines[-1])


def measure(model: str, size: int, batch: int, opts, latency: bool = True) -> dict:
    """Memory, epoch time and latency of one configuration (latent: both phases)."""
    phases = ["ae", "nca"] if model.startswith("Latent") else ["train"]
    row = {"model": model, "size": size, "batch": batch}
    mem, epoch, iters = [], [], {}
    for ph in phases:
        what = "latency" if (latency and ph != "ae") else "time"
        t = run_one(model, size, batch, what, ph, opts)
        # one process measures all three when the step counts agree (--quick); else a memory run
        m = (t if opts.memory_steps == opts.train_steps
             else run_one(model, size, batch, "memory", ph, opts))
        mem.append(m.get("peak_mb"))
        epoch.append(t.get("epoch_s"))
        iters[ph] = t.get("iter_s")
        if "latency_s" in t:
            row["latency_s"] = t["latency_s"]
        row["pool_mb"] = max(row.get("pool_mb") or 0, m.get("pool_mb") or 0)
    row["peak_train_mb"] = None if None in mem else max(mem)
    row["epoch_s"] = None if None in epoch else sum(epoch)
    row.update({f"iter_s_{k}": v for k, v in iters.items()})
    print(f"  {model:12s} {size:4d}px b{batch:<3d} mem {row['peak_train_mb']} MB  "
          f"epoch {row['epoch_s']} s  latency {row.get('latency_s')} s", file=sys.stderr,
          flush=True)
    return row


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--quick", action="store_true",
                   help="64x64 batch 8 + the 16x check, few iterations")
    p.add_argument("--cpu", action="store_true", help="measure on CPU even when CUDA is present")
    p.add_argument("--sizes", type=int, nargs="+", default=[32, 64, 128])
    p.add_argument("--batches", type=int, nargs="+", default=[8, 16, 32])
    p.add_argument("--models", nargs="+", default=list(RESTORATION_MODELS),
                   choices=list(RESTORATION_MODELS))
    p.add_argument("--iters", type=int, default=None, help="training iterations per measurement")
    p.add_argument("--repeats", type=int, default=None, help="timed inference passes")
    p.add_argument("--train-steps", type=int, default=None)
    p.add_argument("--memory-steps", type=int, default=None)
    p.add_argument("--mem-limit-gb", type=float, default=None,
                   help="address-space cap per worker (default: 80%% of available RAM)")
    p.add_argument("--ae-width", type=int, default=8,
                   help="the latent models' autoencoder width (LNCA option ae_width; paper 8)")
    p.add_argument("--latent-channels", type=int, default=16,
                   help="the latent models' latent channels (the cell's in / out channels; "
                        "paper 16)")
    p.add_argument("--ae-depth", type=int, default=1,
                   help="the latent models' autoencoder depth (LNCA option ae_depth; paper 1)")
    p.add_argument("--threads", type=int, default=1,
                   help="CPU threads per worker (default 1: stable timings on a shared CPU; "
                        "0 keeps torch's default)")
    p.add_argument("--timeout", type=int, default=1800)
    # worker-only
    p.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    p.add_argument("--model", default="ViTCA", help=argparse.SUPPRESS)
    p.add_argument("--size", type=int, default=64, help=argparse.SUPPRESS)
    p.add_argument("--batch", type=int, default=8, help=argparse.SUPPRESS)
    p.add_argument("--what", default="memory", help=argparse.SUPPRESS)
    p.add_argument("--phase", default="train", help=argparse.SUPPRESS)
    a = p.parse_args()
    a.iters = a.iters or (3 if a.quick else 11)
    a.repeats = a.repeats or (2 if a.quick else 10)
    a.memory_steps = a.memory_steps or (8 if a.quick else 32)
    a.train_steps = a.train_steps or (8 if a.quick else 20)
    if a.mem_limit_gb is None:
        with open("/proc/meminfo") as f:
            avail = next(int(ln.split()[1]) for ln in f if ln.startswith("MemAvailable"))
        a.mem_limit_gb = round(0.8 * avail / 2**20, 1)

    if a.worker:
        import resource

        cap = int(a.mem_limit_gb * 2**30)
        resource.setrlimit(resource.RLIMIT_AS, (cap, cap))  # fail cleanly instead of swapping
        print(json.dumps(worker(a)))
        return

    t0 = time.time()
    if a.quick:
        sizes, batches = [64], [8]
    else:
        sizes, batches = a.sizes, a.batches
    rows = [measure(m, s, b, a) for s in sizes for b in batches for m in a.models]
    # the 16x claim: ViTCA's memory at 32x32 batch 8 vs LatentNAFCA at growing sides
    claim_sizes = [32, 64, 128] if a.quick else [32, 64, 128, 256]
    budget_row = next((r for r in rows
                       if r["model"] == "ViTCA" and r["size"] == 32 and r["batch"] == 8), None)
    if budget_row is None:
        budget_row = measure("ViTCA", 32, 8, a, latency=False)
    claim = []
    for s in claim_sizes:
        r = next((r for r in rows
                  if r["model"] == "LatentNAFCA" and r["size"] == s and r["batch"] == 8), None)
        claim.append(r or measure("LatentNAFCA", s, 8, a, latency=False))
    budget = budget_row["peak_train_mb"]
    fits = [r["size"] for r in claim
            if r["peak_train_mb"] is not None and budget and r["peak_train_mb"] <= budget]
    largest = max(fits) if fits else None

    hdr = ["model", "size", "batch", "peak train MB", "of which pools MB", "epoch s", "latency s"]
    table = [[r["model"], r["size"], r["batch"], r.get("peak_train_mb"), r.get("pool_mb"),
              r.get("epoch_s"), r.get("latency_s")] for r in rows]
    dev = "CUDA" if (not a.cpu and __import__("torch").cuda.is_available()) else "CPU"
    memory = ("CUDA max_memory_allocated" if dev == "CUDA"
              else "ru_maxrss growth over VmRSS before fit")
    md = [f"# LNCA efficiency (Tables 3-5), {dev}{', --quick' if a.quick else ''}"
          f"{f', LNCA autoencoder width {a.ae_width}' if a.ae_width != 8 else ''}"
          f"{f', {a.latent_channels} latent channels' if a.latent_channels != 16 else ''}"
          f"{f', autoencoder depth {a.ae_depth}' if a.ae_depth != 1 else ''}",
          "", f"Memory: {memory}, "
          f"NCA steps {a.memory_steps}; epoch time: {a.iters - 1} timed iterations x 800/batch, "
          f"NCA steps {a.train_steps}; latency: 64 NCA steps, mean of {a.repeats} after warm-up; "
          f"CPU threads per worker: {a.threads or 'torch default'}.",
          "", md_table(hdr, table), "",
          "## 16x larger input", "",
          f"ViTCA, 32x32 batch 8: {budget} MB.  LatentNAFCA batch 8: " +
          ", ".join(f"{r['size']}px {r['peak_train_mb']} MB" for r in claim) +
          f".  Largest side within ViTCA's 32x32 budget: {largest}"
          + (f" ({(largest / 32) ** 2:.0f}x the pixels)." if largest else ".")]
    payload = {"settings": {k: getattr(a, k) for k in ("quick", "iters", "repeats", "train_steps",
                                                       "memory_steps", "mem_limit_gb", "threads",
                                                       "ae_width", "latent_channels", "ae_depth")},
               "claim_16x": {"vitca_32px_b8_mb": budget, "largest_lnca_side": largest,
                             "lnca": [{k: r.get(k) for k in ("size", "peak_train_mb")}
                                      for r in claim]}}
    line = None
    vit = next((r for r in rows
                if r["model"] == "ViTCA" and r["size"] == 64 and r["batch"] == 8), None)
    naf = next((r for r in rows
                if r["model"] == "LatentNAFCA" and r["size"] == 64 and r["batch"] == 8), None)
    if (vit and naf and vit.get("peak_train_mb") and naf.get("peak_train_mb")
            and vit.get("latency_s")):
        mr = naf["peak_train_mb"] / vit["peak_train_mb"]
        lr = naf["latency_s"] / vit["latency_s"]
        tr = naf["epoch_s"] / vit["epoch_s"]
        payload["ratios_64px_b8"] = {"memory_ratio": mr, "latency_ratio": lr,
                                     "epoch_time_ratio": tr}
        line = f"memory_ratio={mr:.4f} latency_ratio={lr:.4f} epoch_time_ratio={tr:.4f}"
        no_pool = (naf["peak_train_mb"] - naf["pool_mb"]) / (vit["peak_train_mb"] - vit["pool_mb"])
        payload["ratios_64px_b8"]["memory_ratio_without_pools"] = no_pool
        md.append(f"\nLatentNAFCA / ViTCA at 64x64 batch 8: {line} (bounds: memory <= 0.06, "
                  f"epoch time <= 0.20); "
                  f"memory ratio without the sample pools: {no_pool:.4f}.")
    md.append(f"\nTotal benchmark time {time.time() - t0:.0f} s.")
    name = "lnca_efficiency_quick" if a.quick else "lnca_efficiency"
    name += f"_ae{a.ae_width}" if a.ae_width != 8 else ""
    name += f"_lat{a.latent_channels}" if a.latent_channels != 16 else ""
    name += f"_d{a.ae_depth}" if a.ae_depth != 1 else ""
    write_results(name, payload, "\n".join(md), rows=rows)
    print("\n".join(md))
    if line:
        print(line)


if __name__ == "__main__":
    main()
