"""GNCA vs JPEG, JPEG-2000 and WebP: GNCA Table 2 (mean +- std) and Table 3 (statistical tests).

For every image size (40, 80, 120 px like the paper) and GNCA variant, one bank is trained over
the patches of all images (several images share one bank), each image's ``.nca`` file is written
and decoded, and the codecs run at

* the paper's "maximum quality" protocol, and
* matched bytes: the codec setting whose file lands nearest the ``.nca`` file's size.

Metrics: PSNR, MSE (0-255 scale), SSIM (torchmetrics), CR = 1 - size(code) / size(I) (the paper's
parameter count for GNCA, and file bytes for everyone).  Friedman test over the max-quality
methods, then pairwise Mann-Whitney U (scipy), like Table 3.  Also a rate-distortion plot.

    python benchmarks/gnca_vs_codecs.py --quick                 # embedded photos, CPU minutes
    python benchmarks/gnca_vs_codecs.py --images coco30/ --iterations 5000   # the paper's setting
"""
from __future__ import annotations

import argparse
import itertools
import logging
import warnings
from collections import defaultdict

import numpy as np
from _common import RESULTS, md_table, write_results
from scipy import stats

METRICS = ("psnr", "mse", "ssim", "cr", "cr_file", "bytes")


def sources(args) -> list[str]:
    from nca_zoo.data.images import EMBEDDED_PHOTOS, ImageError, list_images, load_rgb_uint8

    if args.images:
        return [str(p) for p in list_images(args.images)[: args.n]]
    found = []
    for name in EMBEDDED_PHOTOS:
        try:
            load_rgb_uint8(f"embedded:{name}")
            found.append(f"embedded:{name}")
        except ImageError:
            continue
    return found[: args.n]


def rd_curves(originals: list[np.ndarray]) -> dict:
    """Mean bits per pixel and PSNR of each codec over a sweep of its quality setting."""
    from nca_zoo.compression import codecs
    from nca_zoo.compression.metrics import image_quality

    sweeps = {"JPEG": [10, 30, 50, 70, 85, 95, 100], "WebP": [5, 20, 40, 60, 80, 95, 100],
              "JPEG-2000": [100, 50, 25, 12, 8, 5, 3, 2]}
    curves = {}
    for codec, qs in sweeps.items():
        pts = []
        for q in qs:
            bpp, psnr = [], []
            for img in originals:
                data = codecs.encode(codec, img, q)
                bpp.append(8 * len(data) / (img.shape[0] * img.shape[1]))
                psnr.append(image_quality(img, codecs.decode(data))["psnr"])
            pts.append((float(np.mean(bpp)), float(np.mean(psnr))))
        curves[codec] = pts
    return curves


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--images", help="folder of images (default: scikit-image's photos)")
    parser.add_argument("--n", type=int, help="at most this many images (paper: 30; quick: 3)")
    parser.add_argument("--sizes", type=int, nargs="+", help="paper: 40 80 120; quick: 40 80")
    parser.add_argument("--models", nargs="+", default=["small", "medium", "large"])
    parser.add_argument("--iterations", type=int, help="training iterations (2000; quick: 300)")
    parser.add_argument("--patch", type=int, default=40)
    parser.add_argument("--quick", action="store_true",
                        help="CPU run in minutes: 3 photos, 40 and 80 px, 300 iterations")
    args = parser.parse_args()
    defaults = {"n": 3, "sizes": [40, 80], "iterations": 300} if args.quick else \
        {"n": 30, "sizes": [40, 80, 120], "iterations": 2000}
    for key, value in defaults.items():  # explicit flags win over the preset
        if getattr(args, key) is None:
            setattr(args, key, value)
    warnings.filterwarnings("ignore")
    logging.getLogger("lightning").setLevel(logging.ERROR)
    logging.getLogger("lightning.pytorch").setLevel(logging.ERROR)

    from nca_zoo.compression.compare import compare_with_codecs
    from nca_zoo.compression.nca_file import decode, decode_image
    from nca_zoo.compression.train import train_bank
    from nca_zoo.data.patch_bank import PatchBankDataModule

    srcs = sources(args)
    if len(srcs) < 1:
        raise SystemExit("error: no images found")
    per_image = []  # one record per (size, method, protocol, image)
    rd = {}
    for size in args.sizes:
        dm = PatchBankDataModule(srcs, size=size, patch_size=args.patch,
                                 iterations_per_epoch=args.iterations)
        rd[size] = {"codecs": rd_curves(dm.originals), "gnca": {}}
        for model in args.models:
            task = train_bank(dm, model, args.iterations)
            params_per_patch = sum(p.numel() for p in task.bank.parameters()) // dm.num_patches
            for i, (src, original) in enumerate(zip(srcs, dm.originals)):
                data = task.to_nca(i)
                decoded = decode_image(decode(data))
                rows = compare_with_codecs(original, len(data), params_per_patch * dm.layout[i][1],
                                           decoded, method=f"GNCA-{model}")
                for r in rows:
                    if r["method"].startswith("GNCA") or r["protocol"] == "matched bytes" \
                            or model == args.models[0]:  # max-quality codec rows: once
                        tag = r["protocol"] if not r["method"].startswith("GNCA") else "-"
                        if r["protocol"] == "matched bytes":
                            tag = f"matched to GNCA-{model}"
                        per_image.append({"size": size, "image": src, "method": r["method"],
                                          "protocol": tag, **{k: r[k] for k in METRICS},
                                          "setting": r["setting"]})
            g = [r for r in per_image if r["size"] == size and r["method"] == f"GNCA-{model}"]
            rd[size]["gnca"][model] = (float(np.mean([8 * r["bytes"] / size**2 for r in g])),
                                       float(np.mean([r["psnr"] for r in g])))
            print(f"size {size} GNCA-{model}: PSNR {np.mean([r['psnr'] for r in g]):.2f}")

    # ---------------------------------------------------------------- Table 2: mean +- std
    groups = defaultdict(list)
    for r in per_image:
        groups[(r["size"], r["method"], r["protocol"])].append(r)
    table2 = []
    for (size, method, protocol), rs in groups.items():
        row = {"size": size, "method": method, "protocol": protocol, "n": len(rs)}
        for k in METRICS:
            vals = np.array([r[k] for r in rs], dtype=float)
            row[k] = (float(vals.mean()), float(vals.std()))
        table2.append(row)

    # ---------------------------------------------------------------- Table 3: tests
    table3 = []
    for size in args.sizes:
        methods = [m for (s, m, p) in groups if s == size and p in ("-", "max quality")]
        for metric in ("psnr", "mse", "ssim"):
            samples = {m: [r[metric] for r in sorted(groups[(size, m, "-" if m.startswith("GNCA")
                                                              else "max quality")],
                                                     key=lambda r: r["image"])] for m in methods}
            friedman_p = float("nan")
            if len(methods) >= 3 and len(srcs) >= 2:
                friedman_p = float(stats.friedmanchisquare(*samples.values()).pvalue)
            for a, b in itertools.combinations(methods, 2):
                try:
                    p = float(stats.mannwhitneyu(samples[a], samples[b]).pvalue)
                except ValueError:
                    p = float("nan")
                table3.append({"size": size, "metric": metric, "a": a, "b": b, "p": p,
                               "significant": bool(p < 0.05), "friedman_p": friedman_p})

    # ---------------------------------------------------------------- outputs
    fmt = lambda v: f"{v[0]:.2f}±{v[1]:.2f}"  # noqa: E731
    md2 = md_table(["size", "method", "protocol", "n", "PSNR", "MSE", "SSIM", "CR %", "CR file %",
                    "bytes"],
                   [[r["size"], r["method"], r["protocol"], r["n"], fmt(r["psnr"]), fmt(r["mse"]),
                     f"{r['ssim'][0]:.3f}±{r['ssim'][1]:.3f}", fmt(r["cr"]), fmt(r["cr_file"]),
                     f"{r['bytes'][0]:.0f}"]
                    for r in sorted(table2, key=lambda r: (r["size"], r["protocol"], r["method"]))])
    md3 = md_table(["size", "metric", "pair", "Mann-Whitney p", "p<0.05", "Friedman p"],
                   [[r["size"], r["metric"], f"{r['a']} vs {r['b']}", f"{r['p']:.3g}",
                     "✓" if r["significant"] else "", f"{r['friedman_p']:.3g}"] for r in table3])
    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
        fig, axes = plt.subplots(1, len(args.sizes), figsize=(5 * len(args.sizes), 4),
                                 squeeze=False)
        for ax, size in zip(axes[0], args.sizes):
            for codec, pts in rd[size]["codecs"].items():
                ax.plot(*zip(*sorted(pts)), marker="o", label=codec)
            for model, (bpp, psnr) in rd[size]["gnca"].items():
                ax.scatter([bpp], [psnr], marker="*", s=150, label=f"GNCA-{model}", zorder=5)
            ax.set(title=f"{size}x{size}", xlabel="bits per pixel", ylabel="PSNR (dB)")
            ax.grid(alpha=0.3)
            ax.legend(fontsize=7)
        fig.tight_layout()
        fig.savefig(RESULTS / "gnca_rate_distortion.png", dpi=110)
    except ImportError:
        pass
    md = (f"# GNCA vs codecs ({'quick' if args.quick else 'full'}): {len(srcs)} images, "
          f"{args.iterations} iterations, patch {args.patch}, recipe of "
          f"nca_zoo.compress.train_bank (Adam lr 1e-2, final-state loss, batch 1)\n\n"
          f"Images: {', '.join(srcs)}\n\n"
          f"## Table 2 style (mean ± std)\n\n{md2}\n\n## Table 3 style (pairwise Mann-Whitney U, "
          f"max-quality protocol)\n\n{md3}\n\n![GNCA vs codecs, rate-distortion]"
          f"(benchmarks/results/gnca_rate_distortion.png)\n")
    write_results("gnca_vs_codecs", {"args": vars(args), "images": srcs, "per_image": per_image,
                                     "table2": table2, "table3": table3, "rate_distortion": {
                                         str(k): v for k, v in rd.items()}}, md)
    print(md)


if __name__ == "__main__":
    main()
