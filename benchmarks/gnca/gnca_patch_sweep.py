"""GNCA rate-distortion over patch size and iterations, against JPEG, WebP and JPEG-2000.

``gnca_vs_codecs.py`` gives one GNCA point per GNCA size (patch 40, fixed iterations).  Here the
*rate* moves with the patch side -- every patch is one NCA of fixed size, so a 120 px image costs
36 NCAs at patch 20, 16 at 30, 9 at 40 and 4 at 60 -- and the *distortion* with the training
iterations.  Each (GNCA size, patch, iterations) point is one run of compress's recipe over the
held-out photos (``gnca_vs_codecs.run_gnca``: ``train_bank`` from the prior, real ``.nca`` file
lengths, decoded images), so the points are comparable with that benchmark's.  Reported: PSNR,
MS-SSIM and bits per pixel per point; one curve per (GNCA size, iterations) over the patch
sides; BD-rate / BD-PSNR of each curve against each codec; the curves in CompressAI's JSON
layout (``results/compressai/gnca_patch_sweep/<side>px``) and a figure.

    python benchmarks/gnca/gnca_patch_sweep.py                      # medium, patches 20 40 60
    python benchmarks/gnca/gnca_patch_sweep.py --models small medium --patches 20 30 40 60
    python benchmarks/gnca/gnca_patch_sweep.py --n 1 --side 40 --patches 20 40 --iterations 2 \
        --out smoke                                                 # a smoke run

Last line: ``best_bd_rate_vs_<codec>=<percent or none>`` per codec (the best GNCA curve).
"""
from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # benchmarks/: _common
from _common import RESULTS, md_table, write_results
from gnca_vs_codecs import MODELS, image_sources, run_gnca, show_delta, write_curves

from nca_zoo.cli._common import quiet_lightning
from nca_zoo.compression.rate_distortion import (
    CODEC_SWEEPS,
    bd_metrics,
    codec_curves,
    plot_rate_distortion,
)

DEFAULT_OUT = "gnca_patch_sweep"


def curve_name(model: str, iterations: int) -> str:
    return f"GNCA-{model} {iterations}it"


def command_args(args: argparse.Namespace) -> str:
    """The flags that re-run this benchmark as it ran (``--out`` left out)."""
    flags = [f"--side {args.side}", f"--models {' '.join(args.models)}",
             f"--patches {' '.join(map(str, args.patches))}",
             f"--iterations {' '.join(map(str, args.iterations))}", f"--init {args.init}"]
    flags += [f"--images {args.images}"] if args.images else []
    flags += [f"--n {args.n}"] if args.n else []
    return "".join(" " + f for f in flags)


def sweep(srcs: list[str], side: int, models: list[str], patches: list[int],
          iterations: list[int], init: str) -> dict:
    """``{curve name: [points by rate]}``: one trained bank per (model, patch, iterations)."""
    from nca_zoo.data.patch_bank import PatchBankDataModule

    names = [Path(s).stem for s in srcs]
    curves = {}
    for model in models:
        for its in iterations:
            points = []
            for patch in patches:
                dm = PatchBankDataModule(srcs, size=side, patch_size=patch,
                                         iterations_per_epoch=its)
                point = run_gnca(dm, names, side, model, init, its, [], keep_max_quality=False)
                points.append({**point, "patch": patch, "iterations": its,
                               "nca_per_image": dm.num_patches // len(srcs)})
            curves[curve_name(model, its)] = sorted(points, key=lambda p: p["bpp"])
    return curves


def main(argv: list | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--images", help="folder of images (default: the held-out photos)")
    ap.add_argument("--n", type=int, help="at most this many images")
    ap.add_argument("--side", type=int, default=120, help="image side in px (default 120)")
    ap.add_argument("--models", nargs="+", default=["medium"], choices=MODELS)
    ap.add_argument("--patches", type=int, nargs="+", default=[20, 40, 60])
    ap.add_argument("--iterations", type=int, nargs="+", default=[100, 300])
    ap.add_argument("--init", default="prior", choices=["prior", "random"])
    ap.add_argument("--out", default=DEFAULT_OUT,
                    help="results name (a smoke run under another name keeps the real results)")
    args = ap.parse_args(argv)
    if min(args.patches) < 3 or min(args.iterations) < 1:
        ap.error("--patches must be >= 3 and --iterations >= 1")
    quiet_lightning()
    from nca_zoo.data.patch_bank import PatchBankDataModule

    with tempfile.TemporaryDirectory() as tmp:
        srcs = image_sources(args.images, args.n, Path(tmp))
        originals = PatchBankDataModule(srcs, size=args.side, patch_size=args.side).originals
        curves = {**codec_curves(originals),
                  **sweep(srcs, args.side, args.models, sorted(args.patches),
                          sorted(args.iterations), args.init)}
    gnca = [c for c in curves if c.startswith("GNCA")]
    bd_rows = [{"gnca": g, "codec": c, **bd_metrics(curves[g], curves[c])}
               for g in gnca for c in CODEC_SWEEPS]
    names = [Path(s).stem for s in srcs]
    files = write_curves(curves, args.side, (
        f"{len(srcs)} images at {args.side}x{args.side} px "
        f"({args.images or 'held-out photos'}); GNCA from the {args.init} start, one curve per "
        f"(size, iterations) over patch sides {sorted(args.patches)}; codecs: Pillow over a "
        f"quality sweep"), args.out)
    figure = f"{args.out}.png"
    plot_rate_distortion({args.side: curves}, RESULTS / figure)

    rows = [[g, p["patch"], p["nca_per_image"], p["iterations"], f"{p['bpp']:.2f}",
             f"{p['psnr-rgb']:.2f}", f"{p['ms-ssim-rgb']:.3f}", f"{p['encoding_time']:.1f}"]
            for g in gnca for p in sorted(curves[g], key=lambda p: p["patch"])]
    md = (f"# GNCA rate-distortion over patch size and iterations ({args.side} px)\n\n"
          f"{len(srcs)} images ({', '.join(names)}"
          f"{'; held out: no GNCA prior was trained on them' if not args.images else ''}) at "
          f"{args.side}x{args.side} px; GNCA from the {args.init} start with compress's recipe "
          f"(`train_bank`), `.nca` file lengths; each codec over its quality sweep. "
          f"`python benchmarks/gnca/gnca_patch_sweep.py{command_args(args)}`.\n\n"
          + md_table(["curve", "patch", "NCAs per image", "iterations", "bpp", "PSNR",
                      "MS-SSIM", "encode s per image"], rows)
          + "\n\nBjøntegaard deltas of each GNCA curve (over the patch sides) against each codec "
          "(pchip; negative BD-rate = fewer bits than the codec):\n\n"
          + md_table(["curve", "anchor", "BD-rate", "BD-PSNR"],
                     [[r["gnca"], r["codec"], show_delta(r["bd_rate"], " %"),
                       show_delta(r["bd_psnr"], " dB")] for r in bd_rows])
          + f"\n\nCurves in CompressAI's JSON layout: {', '.join(f'`{f}`' for f in files)}.\n\n"
          f"![GNCA rate-distortion over patch sizes]({figure})\n")
    write_results(args.out, {"args": vars(args), "images": names, "curves": curves,
                             "bd": bd_rows, "compressai_files": files}, md)
    print(md)
    best = {}
    for c in CODEC_SWEEPS:
        rates = [r["bd_rate"] for r in bd_rows if r["codec"] == c and r["bd_rate"] is not None]
        best[c] = f"{min(rates):.1f}" if rates else "none"
    print(" ".join(f"best_bd_rate_vs_{c}={v}" for c, v in best.items()))


if __name__ == "__main__":
    main()
