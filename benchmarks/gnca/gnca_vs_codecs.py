"""GNCA vs JPEG, JPEG-2000 and WebP on unseen photos: GNCA Tables 2-3, BD-rate, CompressAI JSON.

For every image size (40, 80, 120 px like the paper), GNCA size (small / medium / large) and start
(``--inits``: the meta-learned ``prior`` that ``compress`` uses, and/or the paper's ``random``),
one bank is trained over the patches of all images, each image's ``.nca`` file (the default
version, entropy coded) is written and decoded, and the codecs run at

* matched bytes: the codec setting whose file lands nearest the ``.nca`` file's size, and
* the paper's "maximum quality" protocol.

The default images are the held-out photos (``nca_zoo.data.held_out``): the GNCA priors were
meta-trained on the other embedded photos, so these are photos no part of GNCA has seen.

Reported:

* Table 2 style: PSNR, MSE, SSIM (torchmetrics), CR = 1 - size(code) / size(I) (the paper's
  parameter count for GNCA; file bytes for everyone), bytes, mean +- std over the images;
* significance, the pairs that matter (replacing Table 3's all-pairs Mann-Whitney): for each GNCA
  variant, a Friedman test over it and the three codecs at its byte budget (blocks = image x
  size), then paired Wilcoxon signed-rank tests of GNCA against each codec, and prior against
  random init, Benjamini-Hochberg adjusted (scipy);
* rate-distortion: bits per pixel from real file lengths; each codec over a sweep of its quality
  setting, GNCA over its three sizes; BD-rate and BD-PSNR of GNCA against each codec (the
  ``bjontegaard`` package, pchip), or "no overlap" where the PSNR ranges do not overlap;
* the curves in CompressAI's JSON layout (``results/compressai/<size>px/<method>.json``: ``name``,
  ``description``, ``results: {psnr-rgb, ms-ssim-rgb, bpp, encoding_time, decoding_time}``), so
  they plot beside learned codecs.  MS-SSIM uses as many of its 5 scales as the image allows
  (kernel 7 below 176 px: 3 scales at 40 px, 4 at 80, 5 from 120; the weights renormalised) --
  noted in each file's description.

    python benchmarks/gnca/gnca_vs_codecs.py --sizes 40 80 120 --iterations 300  # published, 70 min
    python benchmarks/gnca/gnca_vs_codecs.py --quick      # 6 held-out photos at 40 px, ~30 CPU-min
    python benchmarks/gnca/gnca_vs_codecs.py --images coco30/ --iterations 5000 --inits random
    python benchmarks/gnca/gnca_vs_codecs.py --quick --n 1 --iterations 2 --out smoke  # smoke run

(the third line is the paper's setting, on a folder of 30 COCO images)
"""
from __future__ import annotations

import argparse
import sys
import tempfile
import time
from collections import defaultdict
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # benchmarks/: _common
from _common import RESULTS, md_table, write_results

from nca_zoo.cli._common import quiet_lightning
from nca_zoo.compression.metrics import ms_ssim, ms_ssim_scales
from nca_zoo.compression.rate_distortion import (
    CODEC_SWEEPS,
    bd_metrics,
    codec_curves,
    paired_tests,
    plot_rate_distortion,
    write_compressai,
)

METRICS = ("psnr", "mse", "ssim", "cr", "cr_file", "bytes")
#: results name of the published run (``--out``)
DEFAULT_OUT = "gnca_vs_codecs"
MODELS = ("small", "medium", "large")


def held_out_files(folder: Path) -> list[str]:
    """The held-out photos written as PNG files into ``folder``."""
    from PIL import Image

    from nca_zoo.data.held_out import HELD_OUT_PHOTOS, held_out_photos

    paths = []
    for name, arr in held_out_photos(HELD_OUT_PHOTOS).items():  # the GNCA priors' set
        path = folder / f"{name}.png"
        Image.fromarray(arr).save(path)
        paths.append(str(path))
    return paths


def image_sources(images: str | None, n: int | None, tmp: Path) -> list[str]:
    """At most ``n`` image paths: the folder ``images``, else the held-out photos (into ``tmp``)."""
    from nca_zoo.data.images import list_images

    srcs = [str(p) for p in list_images(images)] if images else held_out_files(tmp)
    return srcs[:n]


def show_delta(value: float | None, unit: str) -> str:
    """A BD-rate / BD-PSNR cell: ``+12.3 %``, or "no overlap" where it is undefined."""
    return "no overlap" if value is None else f"{value:+.1f}{unit}"


def write_curves(curves: dict, size: int, description: str, out: str) -> list[str]:
    """The curves as CompressAI JSON in ``results/compressai/<size>px``, paths from ``results/``.

    With another ``--out``: ``results/compressai/<out>/<size>px``.
    """
    folder = RESULTS / "compressai" / ("" if out == DEFAULT_OUT else out) / f"{size}px"
    return [str(p.relative_to(RESULTS)) for p in write_compressai(curves, folder, description)]


def run_gnca(dm, names: list[str], size: int, model: str, init: str, iterations: int,
             per_image: list[dict], keep_max_quality: bool) -> dict:
    """Train one bank, write and decode every image's file; append its rows; its RD point.

    ``keep_max_quality``: also append the codecs' max-quality rows (they do not depend on GNCA:
    once per size).
    """
    from nca_zoo.compression.compare import compare_with_codecs
    from nca_zoo.compression.nca_file import decode, decode_image
    from nca_zoo.drivers.compression import train_bank

    start = time.perf_counter()
    task = train_bank(dm, model, iterations, init=init)
    train_seconds = time.perf_counter() - start
    name = f"GNCA-{model} ({init})"
    params_per_patch = sum(p.numel() for p in task.bank.parameters()) // dm.num_patches
    rec = defaultdict(list)
    for i, (src, original) in enumerate(zip(names, dm.originals)):
        data = task.to_nca(i)
        start = time.perf_counter()
        decoded = decode_image(decode(data))
        rec["decoding_time"].append(time.perf_counter() - start)
        patches = dm.layout[i][1]
        rec["encoding_time"].append(train_seconds * patches / dm.num_patches)
        rec["bpp"].append(8 * len(data) / (original.shape[0] * original.shape[1]))
        rows = compare_with_codecs(original, len(data), params_per_patch * patches, decoded,
                                   method=name)
        rec["psnr-rgb"].append(rows[0]["psnr"])  # the GNCA row
        rec["ms-ssim-rgb"].append(ms_ssim(original, decoded))
        for r in rows:
            if r["protocol"] == "max quality" and not keep_max_quality:
                continue
            tag = {"-": "-", "matched bytes": f"matched to {name}"}.get(r["protocol"],
                                                                     r["protocol"])
            per_image.append({"size": size, "image": src, "method": r["method"],
                              "protocol": tag, "setting": r["setting"],
                              **{k: r[k] for k in METRICS}})
    point = {k: float(np.mean(v)) for k, v in rec.items()}
    print(f"size {size} {name}: PSNR {point['psnr-rgb']:.2f} dB at {point['bpp']:.2f} bpp, "
          f"{train_seconds:.0f} s", flush=True)
    return point


def table2(per_image: list[dict]) -> list[dict]:
    """Mean and std of every metric per (size, method, protocol)."""
    groups = defaultdict(list)
    for r in per_image:
        groups[(r["size"], r["method"], r["protocol"])].append(r)
    rows = []
    for (size, method, protocol), rs in groups.items():
        row = {"size": size, "method": method, "protocol": protocol, "n": len(rs)}
        for k in METRICS:
            vals = np.array([r[k] for r in rs], dtype=float)
            row[k] = (float(vals.mean()), float(vals.std()))
        rows.append(row)
    return sorted(rows, key=lambda r: (r["size"], r["protocol"], r["method"]))


def main(argv: list | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--images", help="folder of images (default: the held-out photos)")
    parser.add_argument("--n", type=int, help="at most this many images (paper: 30)")
    parser.add_argument("--sizes", type=int, nargs="+", help="paper: 40 80 120; quick: 40")
    parser.add_argument("--models", nargs="+", default=list(MODELS), choices=MODELS)
    parser.add_argument("--inits", nargs="+", default=["prior", "random"],
                        choices=["prior", "random"])
    parser.add_argument("--iterations", type=int, help="training iterations (2000; quick: 300)")
    parser.add_argument("--patch", type=int, default=40)
    parser.add_argument("--quick", action="store_true",
                        help="a CPU run (~30 min): the 6 held-out photos at 40 px, 300 "
                             "iterations")
    parser.add_argument("--out", default=DEFAULT_OUT,
                        help="results name (a smoke run under another name keeps the real "
                             "results)")
    args = parser.parse_args(argv)
    defaults = {"sizes": [40], "iterations": 300} if args.quick else \
        {"n": 30, "sizes": [40, 80, 120], "iterations": 2000}
    for key, value in defaults.items():  # explicit flags win over the preset
        if getattr(args, key) is None:
            setattr(args, key, value)
    quiet_lightning()

    from nca_zoo.compression.nca_file import VERSION as NCA_VERSION
    from nca_zoo.data.patch_bank import PatchBankDataModule

    with tempfile.TemporaryDirectory() as tmp:
        srcs = image_sources(args.images, args.n, Path(tmp))
        names = [Path(s).stem for s in srcs]
        per_image, rd = [], {}
        for size in args.sizes:
            dm = PatchBankDataModule(srcs, size=size, patch_size=args.patch,
                                     iterations_per_epoch=args.iterations)
            rd[size] = codec_curves(dm.originals)
            for init in args.inits:
                rd[size][f"GNCA ({init})"] = sorted(
                    (run_gnca(dm, names, size, m, init, args.iterations, per_image,
                              keep_max_quality=(m, init) == (args.models[0], args.inits[0]))
                     for m in args.models), key=lambda p: p["bpp"])
    bd_rows = []
    for size, curves in rd.items():
        for init in args.inits:
            for codec in CODEC_SWEEPS:
                bd_rows.append({"size": size, "gnca": f"GNCA ({init})", "codec": codec,
                                **bd_metrics(curves[f"GNCA ({init})"], curves[codec])})
    tests = paired_tests(per_image, args.inits, tuple(args.models))
    t2 = table2(per_image)
    files = []
    for size, curves in rd.items():
        scales = ms_ssim_scales(size)[1]
        where = args.images or "held-out photos"
        files += write_curves(curves, size, (
            f"{len(srcs)} images at {size}x{size} px ({where}); "
            f"GNCA: {args.iterations} iterations, patch {args.patch}, one point per GNCA size; "
            f"codecs: Pillow over a quality sweep; MS-SSIM with {scales} of 5 scales"), args.out)
    figure = "gnca_rate_distortion.png" if args.out == DEFAULT_OUT else \
        f"{args.out}_rate_distortion.png"
    plot_rate_distortion(rd, RESULTS / figure)

    fmt = lambda v: f"{v[0]:.2f}±{v[1]:.2f}"  # noqa: E731
    md2 = md_table(["size", "method", "protocol", "n", "PSNR", "MSE", "SSIM", "CR %", "CR file %",
                    "bytes"],
                   [[r["size"], r["method"], r["protocol"], r["n"], fmt(r["psnr"]), fmt(r["mse"]),
                     f"{r['ssim'][0]:.3f}±{r['ssim'][1]:.3f}", fmt(r["cr"]), fmt(r["cr_file"]),
                     f"{r['bytes'][0]:.0f}"] for r in t2])
    md3 = md_table(["comparison", "n", "mean ΔPSNR dB", "Wilcoxon p", "BH-adjusted p",
                    "p<0.05", "Friedman p"],
                   [[r["comparison"], r["n"], f"{r['mean_diff_db']:+.2f}",
                     f"{r['wilcoxon_p']:.3g}", f"{r['adjusted_p']:.3g}",
                     "✓" if r["significant"] else "", f"{r['friedman_p']:.3g}"] for r in tests])
    md_bd = md_table(["size", "GNCA", "anchor", "BD-rate", "BD-PSNR"],
                     [[r["size"], r["gnca"], r["codec"], show_delta(r["bd_rate"], " %"),
                       show_delta(r["bd_psnr"], " dB")] for r in bd_rows])
    md = (f"# GNCA vs codecs: {len(srcs)} images at {', '.join(map(str, args.sizes))} px, "
          f"{args.iterations} iterations, patch {args.patch}, inits {', '.join(args.inits)}; "
          f"recipe of nca_zoo.compression.train_bank (Adam at lr 1e-2 from random weights, at "
          f"the prior's fit_lr from a prior; final-state loss, batch 1), "
          f"`.nca` version {NCA_VERSION}\n\n"
          f"Images: {', '.join(names)}"
          f"{' (held out: no GNCA prior was trained on them)' if not args.images else ''}\n\n"
          f"## Table 2 style (mean ± std)\n\n{md2}\n\n"
          f"## Significance: Friedman + the pairs that matter (PSNR; blocks = image × size)\n\n"
          f"{md3}\n\n"
          f"## Bjøntegaard deltas (GNCA against each codec; pchip; negative BD-rate = fewer "
          f"bits than the anchor)\n\n{md_bd}\n\n"
          f"Curves in CompressAI's JSON layout: {', '.join(f'`{f}`' for f in files)}.\n\n"
          f"![GNCA vs codecs, rate-distortion]({figure})\n")
    write_results(args.out, {"args": vars(args), "images": names, "per_image": per_image,
                                     "table2": t2, "tests": tests, "bd": bd_rows,
                                     "rate_distortion": {str(k): v for k, v in rd.items()},
                                     "compressai_files": files}, md)
    print(md)


if __name__ == "__main__":
    main()
