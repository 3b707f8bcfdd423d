"""Tables 1-2 of the Diff-NCA paper: FID / KID and parameter counts of the diffusion models.

FourierDiff-NCA, Diff-NCA and the UNet S / M DDPM baselines, all through the same DiffusionTask,
schedule and sampler.

Each model is trained here for ``--train-steps`` (or loaded with ``--ckpt NAME=PATH``), then
``--n-fid`` samples are compared with as many test-split images (paper: 2048 vs 2048) by FID and
KID (torchmetrics).  ``--features inception:/path/to/pt_inception-2015-12-05-6726825d.pth`` gives
Inception-v3 numbers (needs torch-fidelity); the default ``tiny`` extractor is a fixed random
network, so those numbers only rank models within one run.  The extractor is written into every
result.  ``--quick``: small NCAs (c=16, h=32), 32x32 patches, T=100, few steps (CPU, minutes).

    python benchmarks/diffusion_table.py --quick
    python benchmarks/diffusion_table.py --images data/celeba --mode resize --train-steps 200000 \
        --features inception:~/weights/pt_inception-2015-12-05-6726825d.pth
"""
from __future__ import annotations

import argparse
import csv
import time

from _common import RESULTS, md_table, write_results

PAPER = {  # Table 2 / Table 1 / §5 of the paper: (FID, KID, params)
    "fourierdiff_nca": (43.86, 0.022, 1_101_216), "fourierdiff_nca_1m85": (42.69, 0.016, 1_849_632),
    "fourierdiff_nca_c48": (60.96, 0.031, 525_792), "fourierdiff_nca_h256": (77.22, 0.046, 737_184),
    "diff_nca": (None, None, 331_464), "unet_s": (175.3, 0.142, 652_195),
    "unet_m": (128.2, 0.089, 3_940_547),
}
QUICK_ARGS = {"fourierdiff_nca": {"channels": 16, "hidden": 32, "steps": 6, "fourier_steps": 8},
              "diff_nca": {"channels": 16, "hidden": 32, "steps": 6}}


def n_params(module) -> int:
    return sum(p.numel() for p in module.parameters())


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--images", nargs="+", default=["embedded:immunohistochemistry"])
    ap.add_argument("--mode", choices=["resize", "patches"], default="patches")
    ap.add_argument("--size", type=int, default=64)
    ap.add_argument("--stride", type=int, default=16)
    ap.add_argument("--models", nargs="+",
                    default=["fourierdiff_nca", "diff_nca", "unet_s", "unet_m"])
    ap.add_argument("--ckpt", nargs="*", default=[],
                    help="NAME=PATH: evaluate a trained checkpoint")
    ap.add_argument("--train-steps", type=int, default=2000)
    ap.add_argument("--batch-size", type=int, default=16)
    ap.add_argument("--timesteps", type=int, default=300)
    ap.add_argument("--n-fid", type=int, default=2048)
    ap.add_argument("--features", default="tiny")
    ap.add_argument("--sampler", choices=["ddpm", "ddim"], default="ddim")
    ap.add_argument("--sampler-steps", type=int, default=50)
    ap.add_argument("--quick", action="store_true")
    a = ap.parse_args()
    if a.quick:
        a.size, a.stride, a.timesteps, a.train_steps = 32, 16, 100, 40
        a.batch_size, a.n_fid, a.sampler_steps = 8, 32, 5

    import lightning as L
    import torch

    import nca_zoo
    from nca_zoo.data.diffusion import DiffusionDataModule
    from nca_zoo.diffusion import load_task
    from nca_zoo.diffusion.fid import fid_kid
    from nca_zoo.tasks.diffusion import DiffusionTask

    torch.manual_seed(0)
    images = (a.images[0] if len(a.images) == 1 and not a.images[0].startswith("embedded:")
              else a.images)
    dm = DiffusionDataModule(images, mode=a.mode, size=a.size, stride=a.stride,
                             batch_size=a.batch_size)
    real = dm.real_images("test", a.n_fid)
    ckpts = dict(c.split("=", 1) for c in a.ckpt)
    rows = []
    for name in a.models:
        paper_params = n_params(nca_zoo.create_model(name))
        if name in ckpts:
            task, trained, train_s = load_task(ckpts[name]), "checkpoint", 0.0
        else:
            margs = (QUICK_ARGS.get(name.split("_c48")[0].split("_h256")[0].split("_1m85")[0])
                     if a.quick else None)
            task = DiffusionTask(name, margs, timesteps=a.timesteps, n_samples=0,
                                 sampler=a.sampler, sampler_steps=a.sampler_steps)
            trainer = L.Trainer(max_steps=a.train_steps, accelerator="auto", devices=1,
                                logger=False, enable_checkpointing=False,
                                enable_progress_bar=False, limit_val_batches=0,
                                num_sanity_val_steps=0, enable_model_summary=False)
            start = time.perf_counter()
            trainer.fit(task, datamodule=dm)
            train_s, trained = time.perf_counter() - start, f"{a.train_steps} steps"
        task.eval()
        start, fakes = time.perf_counter(), []
        gen = torch.Generator(task.device).manual_seed(1)
        for i in range(0, len(real), 64):
            n = min(64, len(real) - i)
            fakes.append(task.generate(n, a.size, a.size, a.sampler, a.sampler_steps,
                                       generator=gen).cpu())
        sample_s = time.perf_counter() - start
        fake = torch.cat(fakes).mul(255).round().to(torch.uint8)
        m = fid_kid(real, fake, a.features)
        paper = PAPER.get(name, (None, None, None))
        rows.append({"model": name, "params_paper_config": paper_params,
                     "params_evaluated": n_params(task.eval_model), "paper_params": paper[2],
                     "paper_fid": paper[0], "paper_kid": paper[1], "trained": trained,
                     "train_seconds": round(train_s, 1), "fid": m["fid"], "kid_mean": m["kid_mean"],
                     "kid_std": m["kid_std"], "n_real": m["n_real"], "n_fake": m["n_fake"],
                     "sample_seconds_per_image": sample_s / len(fake), "features": m["features"]})
        print(f"{name}: FID {m['fid']:.3f} KID {m['kid_mean']:.4f} ({trained}, "
              f"{sample_s / len(fake):.2f} s/img)", flush=True)

    protocol = (f"data {a.images} ({a.mode}, {a.size}px), T={a.timesteps}, sampler {a.sampler}"
                f"{f' {a.sampler_steps} steps' if a.sampler == 'ddim' else ''}, "
                f"{rows[0]['n_fake']} generated vs {rows[0]['n_real']} test images, "
                f"features: {rows[0]['features']}"
                + (" [--quick: small NCAs c=16/h=32]" if a.quick else ""))
    md = [f"# Diff-NCA Tables 1-2 (measured; {torch.get_num_threads()} torch threads)", "",
          protocol, "",
          md_table(["model", "params (paper config)", "paper params", "params evaluated", "trained",
                    "FID", "KID", "paper FID", "paper KID", "s / sample"],
                   [[r["model"], r["params_paper_config"], r["paper_params"], r["params_evaluated"],
                     r["trained"], round(r["fid"], 4), f"{r['kid_mean']:.4f} ± {r['kid_std']:.4f}",
                     r["paper_fid"], r["paper_kid"], round(r["sample_seconds_per_image"], 3)]
                    for r in rows])]
    name = "diffusion_table_quick" if a.quick else "diffusion_table"
    path = write_results(name, {"protocol": protocol, "rows": rows}, "\n".join(md))
    with open(RESULTS / f"{name}.csv", "w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=list(rows[0]))
        w.writeheader()
        w.writerows(rows)
    print("\n".join(md))
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
