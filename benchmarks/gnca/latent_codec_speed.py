"""Encode and decode time of the latent codec, beside the paper's GNCA decoding a 520 px file.

Targets: a 256 px photo at ~1 bpp encoded in 3 CPU-minutes, a 512 px file decoded in 1 s.

Encode: one held-out colour photo (stereo_motorcycle) at 256 px, ``compress --codec latent --bpp
1`` with the shipped rule and with the rule fine-tuned into the file; wall time with all threads.
Decode: the same photo at 512 px through the latent codec (zero-cost latents would be too easy, so
the file is a real fit at 0.5 bpp, 300 iterations), median of 5, in-process (``decode`` +
``decode_image``); GNCA: a 520 px bank of 169 random-weight GNCA-medium patches (decoding cost
does not depend on the weights).

    python benchmarks/gnca/latent_codec_speed.py
"""
from __future__ import annotations

import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # benchmarks/: _common
from _common import md_table, median_time, write_results  # noqa: E402


def main() -> None:
    import torch

    from nca_zoo.cli._common import quiet_lightning
    from nca_zoo.compression.latent_prior import load_rule
    from nca_zoo.compression.nca_file import decode, decode_image, encode
    from nca_zoo.data.held_out import held_out_photo
    from nca_zoo.data.images import resize_square, save_png_atomic
    from nca_zoo.drivers.latent_compress import compress_latent
    from nca_zoo.layers import grid_shape
    from nca_zoo.models.gnca import GNCA, GNCA_SIZES, default_growth_steps

    quiet_lightning()
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for size, bpp, iterations in ((256, 1.0, 1000), (512, 0.5, 300)):
            path = Path(tmp) / f"photo{size}.png"
            save_png_atomic(resize_square(held_out_photo("stereo_motorcycle"), size), path)
            for fit_rule in (False, True) if size == 256 else (False,):
                start = time.perf_counter()
                data, _, _ = compress_latent(str(path), bpp=bpp, iterations=iterations,
                                             fit_rule=fit_rule)
                encode_s = time.perf_counter() - start
                decode_s = median_time(lambda: decode_image(decode(data)), repeats=5)
                rows.append({"codec": "latent NCA (" + ("rule in file" if fit_rule else
                                                        "shipped rule") + ")",
                             "size": size, "iterations": iterations, "bytes": len(data),
                             "bpp": 8 * len(data) / size**2, "encode_s": encode_s,
                             "decode_s": decode_s})
                print(rows[-1], flush=True)
    channels, hidden = GNCA_SIZES["medium"]
    rows_, cols = grid_shape(520, 520, 40)
    bank = GNCA(channels, hidden, rows_ * cols, 40, default_growth_steps(40))
    with torch.no_grad():
        bank.cell.w2.normal_(0, 0.02)
    data = encode(bank, 520, 520, default_growth_steps(40))
    decode_s = median_time(lambda: decode_image(decode(data)), repeats=5)
    rows.append({"codec": "GNCA-medium (paper)", "size": 520, "iterations": None,
                 "bytes": len(data), "bpp": 8 * len(data) / 520**2, "encode_s": None,
                 "decode_s": decode_s})
    print(rows[-1], flush=True)
    rule = load_rule()
    md = ("# Latent codec: encode and decode time\n\n`python benchmarks/gnca/latent_codec_speed.py`"
          f", {torch.get_num_threads()} threads; the shipped rule decodes at "
          f"{rule.macs_per_pixel():,} MAC per pixel.\n\n" + md_table(
              ["codec", "image px", "iterations", "bytes", "bpp", "encode s", "decode s"],
              [[r["codec"], r["size"], r["iterations"] or "-", f"{r['bytes']:,}",
                f"{r['bpp']:.3f}", "-" if r["encode_s"] is None else f"{r['encode_s']:.0f}",
                f"{r['decode_s']:.3f}"] for r in rows]) + "\n")
    write_results("latent_codec_speed", {"rows": rows, "macs_per_pixel": rule.macs_per_pixel()},
                  md)
    print(md)


if __name__ == "__main__":
    main()
