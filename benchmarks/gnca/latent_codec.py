"""Rate-distortion of the latent-seeded NCA codec vs JPEG, WebP, JPEG-2000, AVIF and GNCA.

Each held-out photo (``nca_zoo.data.held_out``: no rule, prior or lambda was fitted on them) is
centre-cropped and resized to ``--size`` px and compressed at every lambda of ``--lambdas`` by
``compress --codec latent`` (:func:`nca_zoo.drivers.latent_compress.compress_latent`: latents
fitted on D + lambda R with the shipped rule ``latent-nca-prior`` fixed, ``.nca`` version 5).
Every point is measured on the real file: its bytes, and the image its decoder grows.  The
classical codecs run over their quality sweeps on the same images; the paper's GNCA curve comes
from ``gnca_patch_sweep.json`` (same photos, 120 px) when the size matches.  Reported: mean
curves, BD-rate / BD-PSNR against each codec (bjontegaard, pchip) on the mean curves and the
median of the per-image BD-rates, encode / decode time, MAC per pixel; CompressAI JSON and a
figure.

    python benchmarks/gnca/latent_codec.py                       # 6 photos x 6 lambdas at 120 px
    python benchmarks/gnca/latent_codec.py --size 256 --lambdas 0.002 0.008 --out latent_codec_256
"""
from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # benchmarks/: _common
from _common import RESULTS, md_table, write_results  # noqa: E402

LAMBDAS = [0.0005, 0.001, 0.002, 0.005, 0.01, 0.02]
CODEC_NAMES = ("JPEG", "WebP", "JPEG-2000", "AVIF")
AVIF_SWEEP = [10, 30, 50, 70, 85, 95]


def codec_curves_with_avif(originals):
    """The library's codec sweeps, plus AVIF over :data:`AVIF_SWEEP` when Pillow has it."""
    from PIL import features

    from nca_zoo.compression.rate_distortion import CODEC_SWEEPS, codec_curves

    avif = {"AVIF": AVIF_SWEEP} if features.check("avif") else {}
    return codec_curves(originals, {**CODEC_SWEEPS, **avif})


def per_image_codec_points(img):
    """Every codec setting on one image: ``{codec: [points]}`` (for per-image BD-rates)."""
    return {name: curve for name, curve in codec_curves_with_avif([img]).items()}


def gnca_curve(size: int):
    """The paper's GNCA (medium, from its prior, 300 iterations) from gnca_patch_sweep.json."""
    path = RESULTS / "gnca_patch_sweep.json"
    if not path.is_file():
        return None
    sweep = json.loads(path.read_text())
    if sweep["args"].get("side") != size:
        return None
    return sweep["curves"].get("GNCA-medium 300it")


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--size", type=int, default=120, help="image side in px (default 120)")
    parser.add_argument("--lambdas", type=float, nargs="*", default=LAMBDAS,
                        help="the curve's lambdas; none: only the rate control check")
    parser.add_argument("--iterations", type=int, default=1000)
    parser.add_argument("--n", type=int, default=None, help="first N held-out photos only")
    parser.add_argument("--rule", default="latent-nca-prior", help="shipped rule or folder")
    parser.add_argument("--fit-rule", action="store_true",
                        help="fine-tune the rule per image and store it in the file")
    parser.add_argument("--rate-control", type=float, nargs="*", default=[1.0], metavar="BPP",
                        help="rate control check: compress each photo with --bpp B too")
    parser.add_argument("--out", default="latent_codec", help="results name")
    args = parser.parse_args(argv)

    import numpy as np
    import torch

    from nca_zoo.cli._common import quiet_lightning
    from nca_zoo.compression.latent_prior import load_rule
    from nca_zoo.compression.metrics import image_quality, ms_ssim
    from nca_zoo.compression.nca_file import decode, decode_image
    from nca_zoo.compression.rate_distortion import (
        bd_metrics,
        plot_rate_distortion,
        write_compressai,
    )
    from nca_zoo.data.held_out import HELD_OUT_PHOTOS, held_out_photo
    from nca_zoo.data.images import resize_square, save_png_atomic
    from nca_zoo.drivers.latent_compress import compress_latent

    quiet_lightning()
    names = list(HELD_OUT_PHOTOS[: args.n] if args.n else HELD_OUT_PHOTOS)
    originals = [resize_square(held_out_photo(n), args.size) for n in names]
    rule = load_rule(args.rule)
    method = f"Latent NCA ({'rule in file' if args.fit_rule else 'shipped rule'})"
    rows, rate_control = [], []
    with tempfile.TemporaryDirectory() as tmp:
        for name, img in zip(names, originals):
            path = Path(tmp) / f"{name}.png"
            save_png_atomic(img, path)
            for lam in args.lambdas:
                start = time.perf_counter()
                data, _, _ = compress_latent(str(path), lam=lam, iterations=args.iterations,
                                             rule=rule, fit_rule=args.fit_rule)
                encode_s = time.perf_counter() - start
                start = time.perf_counter()
                decoded = decode_image(decode(data))
                decode_s = time.perf_counter() - start
                q = image_quality(img, decoded)
                rows.append({"image": name, "lambda": lam, "bytes": len(data),
                             "bpp": 8 * len(data) / (args.size**2), "psnr-rgb": q["psnr"],
                             "ssim": q["ssim"], "ms-ssim-rgb": ms_ssim(img, decoded),
                             "encoding_time": encode_s, "decoding_time": decode_s})
                print(f"{name} lambda {lam:g}: {len(data)} B, {rows[-1]['bpp']:.3f} bpp, "
                      f"{q['psnr']:.2f} dB, encode {encode_s:.0f} s", flush=True)
            for target in args.rate_control:
                start = time.perf_counter()
                data, _, _ = compress_latent(str(path), bpp=target, iterations=args.iterations,
                                             rule=rule, fit_rule=args.fit_rule)
                encode_s = time.perf_counter() - start
                q = image_quality(img, decode_image(decode(data)))
                rate_control.append({"image": name, "target_bpp": target,
                                     "bpp": 8 * len(data) / (args.size**2), "psnr": q["psnr"],
                                     "encoding_time": encode_s})
                print(f"{name} --bpp {target:g}: {rate_control[-1]['bpp']:.3f} bpp, "
                      f"{q['psnr']:.2f} dB", flush=True)

    control_md = md_table(
        ["photo", "--bpp", "file bpp", "error %", "PSNR dB", "encode s"],
        [[r["image"], f"{r['target_bpp']:g}", f"{r['bpp']:.3f}",
          f"{100 * (r['bpp'] / r['target_bpp'] - 1):+.1f}", f"{r['psnr']:.2f}",
          f"{r['encoding_time']:.0f}"] for r in rate_control])
    if not args.lambdas:
        command = (f"`python benchmarks/gnca/latent_codec.py --size {args.size} --lambdas "
                   f"--rate-control {' '.join(f'{v:g}' for v in args.rate_control)} --iterations "
                   f"{args.iterations}{' --fit-rule' if args.fit_rule else ''} --out {args.out}`")
        md = (f"# Latent NCA codec: rate control on {len(names)} held-out photos at {args.size} "
              f"px\n\n{command}; {method}.\n\n{control_md}\n")
        write_results(args.out, {"args": vars(args), "images": names, "method": method,
                                 "rate_control": rate_control}, md)
        print(md)
        return
    fields = ("bpp", "psnr-rgb", "ms-ssim-rgb", "encoding_time", "decoding_time")
    curve = sorted(({"lambda": lam, **{f: float(np.mean([r[f] for r in rows
                                                          if r["lambda"] == lam]))
                                       for f in fields}} for lam in args.lambdas),
                   key=lambda p: p["bpp"])
    curves = codec_curves_with_avif(originals)
    gnca = gnca_curve(args.size)
    anchors = dict(curves)
    if gnca:
        anchors["GNCA-medium (paper, 300 it)"] = gnca
    bd = []
    image_curves = [per_image_codec_points(img) for img in originals]
    for anchor, anchor_curve in anchors.items():
        mean_bd = bd_metrics(curve, anchor_curve)
        per_image = []
        if anchor in curves:
            for name, ref in zip(names, image_curves):
                own = sorted((r for r in rows if r["image"] == name), key=lambda r: r["bpp"])
                per_image.append(bd_metrics(own, ref[anchor])["bd_rate"])
        valid = [v for v in per_image if v is not None]
        bd.append({"anchor": anchor, **mean_bd,
                   "median_per_image_bd_rate": statistics.median(valid) if valid else None,
                   "images_with_bd_rate": len(valid)})
    macs = rule.macs_per_pixel()
    curves_all = {**curves, method: curve, **({"GNCA-medium (paper, 300 it)": gnca} if gnca
                                              else {})}
    folder = RESULTS / "compressai" / args.out / f"{args.size}px"
    written = write_compressai({k: v for k, v in curves_all.items()}, folder,
                               f"held-out photos at {args.size} px ({len(names)})")
    figure = RESULTS / f"{args.out}.png"
    plot_rate_distortion({args.size: curves_all}, figure)

    fmt = lambda v, d=1: "-" if v is None else f"{v:+.{d}f}"  # noqa: E731
    md = [f"# Latent NCA codec: rate-distortion on {len(names)} held-out photos at "
          f"{args.size} px\n",
          f"`python benchmarks/gnca/latent_codec.py --size {args.size} --lambdas "
          f"{' '.join(f'{v:g}' for v in args.lambdas)} --iterations {args.iterations}"
          f"{' --fit-rule' if args.fit_rule else ''} --out {args.out}`; rule "
          f"`{args.rule}` ({sum(p.numel() for p in rule.parameters())} parameters, "
          f"{macs:,} MAC per pixel); photos: {', '.join(names)}.\n",
          "## Mean curve\n",
          md_table(["lambda", "bpp", "PSNR dB", "MS-SSIM", "encode s", "decode s"],
                   [[f"{p['lambda']:g}", f"{p['bpp']:.3f}", f"{p['psnr-rgb']:.2f}",
                     f"{p['ms-ssim-rgb']:.4f}", f"{p['encoding_time']:.1f}",
                     f"{p['decoding_time']:.3f}"] for p in curve]),
          "\n## BD-rate of the latent codec (negative: fewer bits for the same PSNR)\n",
          md_table(["anchor", "BD-rate % (mean curves)", "BD-PSNR dB",
                    "median per-image BD-rate %", "images"],
                   [[b["anchor"], fmt(b["bd_rate"]), fmt(b["bd_psnr"], 2),
                     fmt(b["median_per_image_bd_rate"]), b["images_with_bd_rate"]]
                    for b in bd]),
          "\n## Rate control (`--bpp`): achieved rate per photo\n", control_md,
          "\n## Codecs (mean over the photos per setting)\n",
          md_table(["codec", "bpp", "PSNR dB"],
                   [[c, f"{p['bpp']:.3f}", f"{p['psnr-rgb']:.2f}"]
                    for c, pts in curves_all.items() if c != method for p in pts])]
    files = [str(p.relative_to(RESULTS)) for p in written]
    write_results(args.out, {"args": vars(args), "images": names, "method": method,
                             "macs_per_pixel": macs, "curve": curve, "curves": curves_all,
                             "bd": bd, "rate_control": rate_control, "compressai_files": files,
                             "threads": torch.get_num_threads()},
                  "\n".join(md) + "\n", rows=rows)
    print("\n".join(md))


if __name__ == "__main__":
    main()
