"""GNCA beside JPEG, JPEG-2000 and WebP on one image (GNCA Table 2, one row per method).

Used by the training report (end of ``nca_zoo.fit`` for GNCA) and by
``benchmarks/gnca/gnca_vs_codecs.py``.
"""
from __future__ import annotations

import numpy as np

from . import codecs
from .metrics import compression_rate, image_quality


def compare_with_codecs(original: np.ndarray, nca_bytes: int, nca_params: int,
                        nca_decoded: np.ndarray, method: str = "GNCA") -> list[dict]:
    """Rows ``{method, protocol, setting, bytes, psnr, mse, ssim, cr, cr_file}``.

    ``cr`` is the paper's ``1 - params / size(I)`` (one byte per parameter) for GNCA and the file
    rate for codecs; ``cr_file`` is always from real file bytes.  Codecs run both at the paper's
    maximum quality and at the quality matching the ``.nca`` file's bytes.
    """
    h, w = original.shape[:2]
    rows = [{"method": method, "protocol": "-", "setting": "", "bytes": nca_bytes,
             **image_quality(original, nca_decoded),
             "cr": compression_rate(nca_params, h, w),
             "cr_file": compression_rate(nca_bytes, h, w)}]
    for protocol in ("max", nca_bytes):
        for codec in codecs.CODECS:
            q, data, decoded = codecs.run_codec(codec, original, protocol)
            rate = compression_rate(len(data), h, w)
            rows.append({"method": codec, "protocol": "max quality" if protocol == "max"
                         else "matched bytes", "setting": q, "bytes": len(data),
                         **image_quality(original, decoded), "cr": rate, "cr_file": rate})
    return rows


def format_table(rows: list[dict]) -> str:
    """A small fixed-width table of :func:`compare_with_codecs` rows."""
    head = (f"{'method':<12}{'protocol':<15}{'setting':>8}{'bytes':>8}{'PSNR':>8}{'MSE':>9}"
            f"{'SSIM':>7}{'CR%':>7}{'CRfile%':>9}")
    lines = [head, "-" * len(head)]
    for r in rows:
        setting = f"{r['setting']:g}" if isinstance(r["setting"], (int, float)) else r["setting"]
        lines.append(f"{r['method']:<12}{r['protocol']:<15}{setting:>8}{r['bytes']:>8}"
                     f"{r['psnr']:>8.2f}{r['mse']:>9.2f}{r['ssim']:>7.3f}{r['cr']:>7.1f}"
                     f"{r['cr_file']:>9.1f}")
    return "\n".join(lines)
