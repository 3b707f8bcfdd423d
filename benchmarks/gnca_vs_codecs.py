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

    python benchmarks/gnca_vs_codecs.py --sizes 40 80 120 --iterations 300  # published, ~70 min
    python benchmarks/gnca_vs_codecs.py --quick       # 6 held-out photos at 40 px, ~30 CPU-min
    python benchmarks/gnca_vs_codecs.py --images coco30/ --iterations 5000 --inits random  # paper
    python benchmarks/gnca_vs_codecs.py --quick --n 1 --iterations 2 --out smoke  # smoke run
"""
from __future__ import annotations

import argparse
import json
import tempfile
import time
import warnings
from collections import defaultdict
from pathlib import Path

import numpy as np
from _common import RESULTS, md_table, write_results
from scipy import stats

from nca_zoo.cli._common import quiet_lightning

METRICS = ("psnr", "mse", "ssim", "cr", "cr_file", "bytes")
#: results name of the published run (``--out``)
DEFAULT_OUT = "gnca_vs_codecs"
MODELS = ("small", "medium", "large")
#: quality settings of each codec's rate-distortion sweep
SWEEPS = {"JPEG": [10, 30, 50, 70, 85, 95, 100], "WebP": [5, 20, 40, 60, 80, 95, 100],
          "JPEG-2000": [100, 50, 25, 12, 8, 5, 3, 2]}
#: MS-SSIM's five scale weights (Wang et al. 2003)
MS_SSIM_BETAS = (0.0448, 0.2856, 0.3001, 0.2363, 0.1333)


def held_out_files(folder: Path) -> list[str]:
    """The held-out photos written as PNG files into ``folder``."""
    from PIL import Image

    from nca_zoo.data.held_out import held_out_photos

    paths = []
    for name, arr in held_out_photos().items():
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


def ms_ssim_scales(side: int) -> tuple[int, int]:
    """(kernel size, number of scales) MS-SSIM can use on images whose short side is ``side``."""
    kernel = 11 if side >= 176 else 7
    return kernel, max(1, min(5, int(np.floor(np.log2(side / kernel))) + 1))


def ms_ssim(reference: np.ndarray, test: np.ndarray) -> float:
    """MS-SSIM of two ``uint8`` images with as many scales as their size allows."""
    from torchmetrics.functional.image import multiscale_structural_similarity_index_measure

    from nca_zoo.layers import to_tensor

    kernel, scales = ms_ssim_scales(min(reference.shape[:2]))
    betas = np.array(MS_SSIM_BETAS[:scales])
    value = multiscale_structural_similarity_index_measure(
        to_tensor(test)[None], to_tensor(reference)[None], data_range=1.0, kernel_size=kernel,
        betas=tuple(float(b) for b in betas / betas.sum()), normalize="relu")
    return float(value)


def codec_curves(originals: list[np.ndarray]) -> dict:
    """Each codec over its quality sweep: per setting the mean bpp, PSNR, MS-SSIM and times."""
    from nca_zoo.compression import codecs
    from nca_zoo.compression.metrics import image_quality

    curves = {}
    for codec, settings in SWEEPS.items():
        points = []
        for q in settings:
            rec = defaultdict(list)
            for img in originals:
                start = time.perf_counter()
                data = codecs.encode(codec, img, q)
                rec["encoding_time"].append(time.perf_counter() - start)
                start = time.perf_counter()
                decoded = codecs.decode(data)
                rec["decoding_time"].append(time.perf_counter() - start)
                rec["bpp"].append(8 * len(data) / (img.shape[0] * img.shape[1]))
                rec["psnr-rgb"].append(image_quality(img, decoded)["psnr"])
                rec["ms-ssim-rgb"].append(ms_ssim(img, decoded))
            points.append({k: float(np.mean(v)) for k, v in rec.items()})
        curves[codec] = sorted(points, key=lambda p: p["bpp"])
    return curves


def pareto(points: list[dict]) -> tuple[list[float], list[float]]:
    """(bpp, PSNR) of the points no other point beats (more PSNR for no more bits), by rate."""
    rates, psnrs = [], []
    for p in sorted(points, key=lambda p: (p["bpp"], -p["psnr-rgb"])):
        if not psnrs or (p["psnr-rgb"] > psnrs[-1] and p["bpp"] > rates[-1]):
            rates.append(p["bpp"])
            psnrs.append(p["psnr-rgb"])
    return rates, psnrs


def bd_metrics(gnca: list[dict], codec: list[dict]) -> dict:
    """BD-rate (%) and BD-PSNR (dB) of a GNCA curve against a codec's, or None without overlap.

    Negative BD-rate: GNCA needs fewer bits for the same PSNR.  Each curve is reduced to its Pareto
    front (the interpolation needs rate and PSNR both increasing; a larger GNCA that ends below a
    smaller one drops out); computed only on the PSNR (rate) range both curves cover.
    """
    import bjontegaard as bd

    (r1, d1), (r2, d2) = pareto(codec), pareto(gnca)
    out = {"bd_rate": None, "bd_psnr": None}
    if len(r1) < 2 or len(r2) < 2:
        return out
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        if min(max(d1), max(d2)) > max(min(d1), min(d2)):  # PSNR ranges overlap
            out["bd_rate"] = float(bd.bd_rate(r1, d1, r2, d2, method="pchip",
                                              require_matching_points=False))
        if min(max(r1), max(r2)) > max(min(r1), min(r2)):  # rate ranges overlap
            out["bd_psnr"] = float(bd.bd_psnr(r1, d1, r2, d2, method="pchip",
                                              require_matching_points=False))
    return out


def paired_tests(per_image: list[dict], inits: list[str]) -> list[dict]:
    """Friedman per GNCA variant (with the codecs at its budget), then Wilcoxon pairs, BH-adjusted.

    Blocks are (image, size); the statistic is PSNR.
    """
    by = {(r["size"], r["image"], r["method"], r["protocol"]): r["psnr"] for r in per_image}
    blocks = sorted({(r["size"], r["image"]) for r in per_image})
    rows = []
    for init in inits:
        for model in MODELS:
            name = f"GNCA-{model} ({init})"
            if not any(k[2] == name for k in by):
                continue
            gnca = [by[(s, i, name, "-")] for s, i in blocks]
            matched = {c: [by[(s, i, c, f"matched to {name}")] for s, i in blocks]
                       for c in ("JPEG", "JPEG-2000", "WebP")}
            friedman = float("nan")
            if len(blocks) >= 2:
                friedman = float(stats.friedmanchisquare(gnca, *matched.values()).pvalue)
            pairs = [(f"{name} vs {c} (its bytes)", gnca, v) for c, v in matched.items()]
            other = "random" if init == "prior" else "prior"
            rival = f"GNCA-{model} ({other})"
            if init == "prior" and any(k[2] == rival for k in by):
                pairs.append((f"{name} vs {rival}", gnca,
                              [by[(s, i, rival, "-")] for s, i in blocks]))
            for label, a, b in pairs:
                diff = np.array(a) - np.array(b)
                p = float("nan") if np.all(diff == 0) else float(stats.wilcoxon(a, b).pvalue)
                rows.append({"comparison": label, "n": len(blocks),
                             "mean_diff_db": float(diff.mean()), "wilcoxon_p": p,
                             "friedman_p": friedman})
    ps = [r["wilcoxon_p"] for r in rows]
    finite = [i for i, p in enumerate(ps) if np.isfinite(p)]
    if finite:
        adjusted = stats.false_discovery_control([ps[i] for i in finite])
        for i, a in zip(finite, adjusted):
            rows[i]["adjusted_p"] = float(a)
    for r in rows:
        r.setdefault("adjusted_p", float("nan"))
        r["significant"] = bool(r["adjusted_p"] < 0.05)
    return rows


def write_compressai(curves: dict, size: int, description: str, out: str) -> list[str]:
    """One CompressAI-style JSON file per method in ``results/compressai/<size>px``.

    With another ``--out``: ``results/compressai/<out>/<size>px``.
    """
    folder = RESULTS / "compressai" / ("" if out == DEFAULT_OUT else out) / f"{size}px"
    folder.mkdir(parents=True, exist_ok=True)
    written = []
    for method, points in curves.items():
        payload = {"name": method, "description": description,
                   "results": {k: [p[k] for p in points] for k in
                               ("psnr-rgb", "ms-ssim-rgb", "bpp", "encoding_time",
                                "decoding_time")}}
        path = folder / f"{method.replace(' ', '_').replace('(', '').replace(')', '')}.json"
        path.write_text(json.dumps(payload, indent=2) + "\n")
        written.append(str(path.relative_to(RESULTS)))
    return written


def run_gnca(dm, names: list[str], size: int, model: str, init: str, iterations: int,
             per_image: list[dict], keep_max_quality: bool) -> dict:
    """Train one bank, write and decode every image's file; append its rows; its RD point.

    ``keep_max_quality``: also append the codecs' max-quality rows (they do not depend on GNCA:
    once per size).
    """
    from nca_zoo.compression.compare import compare_with_codecs
    from nca_zoo.compression.nca_file import decode, decode_image
    from nca_zoo.compression.train import train_bank

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


def plot(rd: dict, path: Path) -> None:
    """Rate-distortion curves, one panel per image size."""
    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return
    fig, axes = plt.subplots(1, len(rd), figsize=(5 * len(rd), 4), squeeze=False)
    for ax, (size, curves) in zip(axes[0], rd.items()):
        for method, pts in curves.items():
            style = dict(marker="*", markersize=11) if method.startswith("GNCA") else \
                dict(marker="o")
            ax.plot([p["bpp"] for p in pts], [p["psnr-rgb"] for p in pts], label=method,
                    **style)
        ax.set(title=f"{size}x{size}", xlabel="bits per pixel", ylabel="PSNR (dB)")
        ax.grid(alpha=0.3)
        ax.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=110)


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
            for codec in SWEEPS:
                bd_rows.append({"size": size, "gnca": f"GNCA ({init})", "codec": codec,
                                **bd_metrics(curves[f"GNCA ({init})"], curves[codec])})
    tests = paired_tests(per_image, args.inits)
    t2 = table2(per_image)
    files = []
    for size, curves in rd.items():
        scales = ms_ssim_scales(size)[1]
        where = args.images or "held-out photos"
        files += write_compressai(curves, size, (
            f"{len(srcs)} images at {size}x{size} px ({where}); "
            f"GNCA: {args.iterations} iterations, patch {args.patch}, one point per GNCA size; "
            f"codecs: Pillow over a quality sweep; MS-SSIM with {scales} of 5 scales"), args.out)
    figure = "gnca_rate_distortion.png" if args.out == DEFAULT_OUT else \
        f"{args.out}_rate_distortion.png"
    plot(rd, RESULTS / figure)

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
