"""Tables 1-2 of the Diff-NCA paper: FID / KID and parameter counts of the diffusion models.

FourierDiff-NCA, Diff-NCA and the UNet S / M DDPM baselines, all through the same DiffusionTask,
schedule and sampler; and Table 2's VAE baseline VNCA (``--models vnca``: the VNCATask, the
official recipe's Adam 1e-4, samples drawn from the prior; its image side must be 2 * 2**k).

Each model is trained here for ``--train-steps`` (or loaded with ``--ckpt NAME=PATH``), then
``--n-fid`` samples are compared with as many test-split images (paper: 2048 vs 2048) by FID and
KID (torchmetrics).  ``--features inception:/path/to/pt_inception-2015-12-05-6726825d.pth`` gives
Inception-v3 numbers (needs torch-fidelity); the default ``tiny`` extractor is a fixed random
network, so those numbers only rank models within one run.  The extractor is written into every
result.  ``--quick``: small NCAs (c=16, h=32; VNCA z=16, h=32), 32x32 patches, T=100, few steps
(CPU, minutes).  ``--keep``: rows of models not run now are kept from the existing results file
(same protocol only), so one model can be added without re-training the others.

    python benchmarks/diffusion/diffusion_table.py --quick
    python benchmarks/diffusion/diffusion_table.py --quick --models vnca --keep  # add the VNCA row
    python benchmarks/diffusion/diffusion_table.py --images data/celeba --mode resize \
        --train-steps 200000 --features inception:~/weights/pt_inception-2015-12-05-6726825d.pth
"""
from __future__ import annotations

import argparse
import json
import math
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # benchmarks/: _common
from _common import RESULTS, md_table, write_results

from nca_zoo.diffusion.samplers import SAMPLERS

PAPER = {  # Table 2 / Table 1 / §5 of the paper: (FID, KID, params)
    "fourierdiff_nca": (43.86, 0.022, 1_101_216), "fourierdiff_nca_1m85": (42.69, 0.016, 1_849_632),
    "fourierdiff_nca_c48": (60.96, 0.031, 525_792), "fourierdiff_nca_h256": (77.22, 0.046, 737_184),
    "diff_nca": (None, None, 331_464), "unet_s": (175.3, 0.142, 652_195),
    "unet_m": (128.2, 0.089, 3_940_547), "vnca": (299.99, 0.338, 9_732_416),
}
QUICK_ARGS = {"fourierdiff_nca": {"channels": 16, "hidden": 32, "steps": 6, "fourier_steps": 8},
              "diff_nca": {"channels": 16, "hidden": 32, "steps": 6},
              "vnca": {"z_size": 16, "hidden": 32, "n_blocks": 1, "encoder_width": 8, "steps": 4}}


def n_params(module) -> int:
    return sum(p.numel() for p in module.parameters())


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--images", nargs="+", default=["embedded:immunohistochemistry"])
    ap.add_argument("--mode", choices=["resize", "patches"], default="patches")
    ap.add_argument("--size", type=int, default=64)
    ap.add_argument("--stride", type=int, default=16)
    ap.add_argument("--models", nargs="+",
                    default=["fourierdiff_nca", "diff_nca", "unet_s", "unet_m", "vnca"])
    ap.add_argument("--ckpt", nargs="*", default=[],
                    help="NAME=PATH: evaluate a trained checkpoint")
    ap.add_argument("--train-steps", type=int, default=2000)
    ap.add_argument("--batch-size", type=int, default=16)
    ap.add_argument("--timesteps", type=int, default=300)
    ap.add_argument("--n-fid", type=int, default=2048)
    ap.add_argument("--features", default="tiny")
    ap.add_argument("--sampler", choices=SAMPLERS, default="ddim")
    ap.add_argument("--sampler-steps", type=int, default=50)
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--keep", action="store_true",
                    help="keep the existing rows of models not run now (same protocol)")
    a = ap.parse_args()
    if a.quick:
        a.size, a.stride, a.timesteps, a.train_steps = 32, 16, 100, 40
        a.batch_size, a.n_fid, a.sampler_steps = 8, 32, 5

    import lightning as L
    import torch

    import nca_zoo
    from nca_zoo.data.diffusion import DiffusionDataModule
    from nca_zoo.diffusion.fid import fid_kid
    from nca_zoo.drivers import load_diffusion_task
    from nca_zoo.tasks.diffusion import DiffusionTask
    from nca_zoo.tasks.vnca import VNCATask, load_vnca

    torch.manual_seed(0)
    images = (a.images[0] if len(a.images) == 1 and not a.images[0].startswith("embedded:")
              else a.images)
    dm = DiffusionDataModule(images, mode=a.mode, size=a.size, stride=a.stride,
                             batch_size=a.batch_size)
    real = dm.real_images("test", a.n_fid)
    ckpts = dict(c.split("=", 1) for c in a.ckpt)
    rows = []
    for name in a.models:
        vae = name == "vnca"
        paper_params = n_params(nca_zoo.create_model(name))
        margs = (QUICK_ARGS.get(name.split("_c48")[0].split("_h256")[0].split("_1m85")[0])
                 if a.quick else None)
        if vae and a.size != 64:   # the VNCA grows 2 * 2**doublings pixels a side
            margs = {**(margs or {}), "doublings": round(math.log2(a.size / 2))}
        if name in ckpts:
            task = load_vnca(ckpts[name]) if vae else load_diffusion_task(ckpts[name])
            trained, train_s = "checkpoint", 0.0
        else:
            task = (VNCATask(name, margs, n_samples=0) if vae else
                    DiffusionTask(name, margs, schedule={"timesteps": a.timesteps},
                                  sampling={"n_samples": 0, "sampler": a.sampler,
                                            "sampler_steps": a.sampler_steps}))
            trainer = L.Trainer(max_steps=a.train_steps, accelerator="auto", devices=1,
                                logger=False, enable_checkpointing=False,
                                enable_progress_bar=False, limit_val_batches=0,
                                num_sanity_val_steps=0, enable_model_summary=False)
            start = time.perf_counter()
            trainer.fit(task, datamodule=dm)
            train_s, trained = time.perf_counter() - start, f"{a.train_steps} steps"
        task.eval()
        evaluated = (task.model if isinstance(task, VNCATask) else task if vae
                     else task.eval_model)   # a checkpoint of a VNCA loads as the model itself
        start, fakes = time.perf_counter(), []
        gen = torch.Generator(next(evaluated.parameters()).device).manual_seed(1)
        for i in range(0, len(real), 64):
            n = min(64, len(real) - i)
            fakes.append((evaluated.sample(n, generator=gen) if vae else
                          task.generate(n, a.size, a.size, a.sampler, a.sampler_steps,
                                        generator=gen)).cpu())
        sample_s = time.perf_counter() - start
        fake = torch.cat(fakes).mul(255).round().to(torch.uint8)
        m = fid_kid(real, fake, a.features)
        paper = PAPER.get(name, (None, None, None))
        rows.append({"model": name, "params_paper_config": paper_params,
                     "params_evaluated": n_params(evaluated), "paper_params": paper[2],
                     "paper_fid": paper[0], "paper_kid": paper[1], "trained": trained,
                     "train_seconds": round(train_s, 1), "fid": m["fid"], "kid_mean": m["kid_mean"],
                     "kid_std": m["kid_std"], "n_real": m["n_real"], "n_fake": m["n_fake"],
                     "sample_seconds_per_image": sample_s / len(fake), "features": m["features"],
                     "model_args": margs})
        print(f"{name}: FID {m['fid']:.3f} KID {m['kid_mean']:.4f} ({trained}, "
              f"{sample_s / len(fake):.2f} s/img)", flush=True)

    protocol = (f"data {a.images} ({a.mode}, {a.size}px), T={a.timesteps}, sampler {a.sampler}"
                f" {a.sampler_steps or 'default'} steps, "
                f"{rows[0]['n_fake']} generated vs {rows[0]['n_real']} test images, "
                f"features: {rows[0]['features']}"
                + (" [--quick: small NCAs c=16/h=32]" if a.quick else ""))
    name = "diffusion_table_quick" if a.quick else "diffusion_table"
    note, extra = "", {}
    if a.keep and (RESULTS / f"{name}.json").is_file():
        old = json.loads((RESULTS / f"{name}.json").read_text())
        if old["protocol"] != protocol:
            raise SystemExit(f"--keep: {name}.json was measured with another protocol:\n"
                             f"  {old['protocol']}\n  now: {protocol}")
        run = {r["model"] for r in rows}
        kept = [r for r in old["rows"] if r["model"] not in run]
        rows = kept + rows
        if kept:
            extra = {"kept_rows_from": old["machine"]}
            note = (f" Rows {', '.join(r['model'] for r in kept)} kept from the run of "
                    f"{old['machine']['date']} ({old['machine']['torch_threads']} torch threads).")
    md = [f"# Diff-NCA Tables 1-2 (measured; {torch.get_num_threads()} torch threads)", "",
          protocol + note, "",
          md_table(["model", "params (paper config)", "paper params", "params evaluated", "trained",
                    "FID", "KID", "paper FID", "paper KID", "s / sample"],
                   [[r["model"], r["params_paper_config"], r["paper_params"], r["params_evaluated"],
                     r["trained"], round(r["fid"], 4), f"{r['kid_mean']:.4f} ± {r['kid_std']:.4f}",
                     str(r["paper_fid"]), str(r["paper_kid"]),   # as printed in the paper
                     round(r["sample_seconds_per_image"], 3)]
                    for r in rows])]
    path = write_results(name, {"protocol": protocol, **extra}, "\n".join(md), rows=rows)
    print("\n".join(md))
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
