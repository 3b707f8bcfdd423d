"""Sampling speed of the paper-size denoisers: seconds per denoising step (one network call).

FourierDiff-NCA (32 Fourier + 20 image steps), Diff-NCA (20 image steps), UNet S and M, batch
``--batch`` at ``--size`` px, no gradients, median of ``--repeats``.  A full sample costs T = 300
such calls with the ancestral DDPM sampler, or ``k`` with DDIM-k; both are derived from the
measured per-call time and labelled as such.

    python benchmarks/diffusion/diffusion_speed.py [--size 64] [--batch 1] [--repeats 3]
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # benchmarks/: _common
from _common import md_table, median_time, write_results


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--models", nargs="+",
                    default=["fourierdiff_nca", "diff_nca", "unet_s", "unet_m"])
    ap.add_argument("--size", type=int, default=64)
    ap.add_argument("--batch", type=int, default=1)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--ddim-steps", type=int, default=50)
    a = ap.parse_args()

    import torch

    import nca_zoo

    dev = "cuda" if torch.cuda.is_available() else "cpu"
    x = torch.randn(a.batch, 3, a.size, a.size, device=dev)
    t = torch.full((a.batch,), 0.5, device=dev)
    rows = []
    for name in a.models:
        model = nca_zoo.create_model(name).to(dev).eval()
        with torch.no_grad():
            sec = median_time(lambda: model(x, t), a.repeats)
        rows.append({"model": name, "params": sum(p.numel() for p in model.parameters()),
                     "seconds_per_call": sec, "ddpm_300_seconds_derived": 300 * sec,
                     f"ddim_{a.ddim_steps}_seconds_derived": a.ddim_steps * sec})
        print(f"{name}: {sec:.3f} s per denoising step", flush=True)
    md = [f"# Diff-NCA sampling speed ({dev}, {torch.get_num_threads()} threads, batch {a.batch}, "
          f"{a.size}x{a.size})", "",
          "Measured: one denoising step (median of repeats). Derived: x300 (DDPM) and "
          f"x{a.ddim_steps} (DDIM).", "",
          md_table(["model", "params", "s / step (measured)", "s / sample DDPM-300 (derived)",
                    f"s / sample DDIM-{a.ddim_steps} (derived)"],
                   [[r["model"], r["params"], round(r["seconds_per_call"], 4),
                     round(r["ddpm_300_seconds_derived"], 1),
                     round(r[f"ddim_{a.ddim_steps}_seconds_derived"], 1)] for r in rows])]
    path = write_results("diffusion_speed", {"size": a.size, "batch": a.batch, "rows": rows},
                         "\n".join(md))
    print("\n".join(md))
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
