"""GNCA image compression (GNCA paper): the codec around the patch bank.

* :mod:`.train` -- ``compress(image)``: train one GNCA per patch (one bank) and return the file;
* :mod:`.nca_file` -- the ``.nca`` container (header, CRC, 8-bit weights) and its decoder;
* :mod:`.quantize` -- one byte per parameter (§4.2);
* :mod:`.codecs`, :mod:`.compare`, :mod:`.metrics` -- JPEG / JPEG-2000 / WebP through Pillow,
  the Table 2 comparison, PSNR / SSIM / MSE on the 0-255 scale and the compression rate;
* :mod:`.report` -- the callback that writes ``.nca`` files and the comparison after training.

Names are imported lazily (the cells import :mod:`.quantize`, and the codec imports the cells).
"""
from __future__ import annotations

import importlib

_EXPORTS = {
    "compress": "train", "train_bank": "train",
    "NCAFile": "nca_file", "NCAFormatError": "nca_file", "decode": "nca_file",
    "decode_image": "nca_file", "encode": "nca_file", "read": "nca_file",
    "quantize": "quantize", "dequantize": "quantize",
    "compare_with_codecs": "compare", "format_table": "compare",
    "image_quality": "metrics", "compression_rate": "metrics",
    "CompressionReport": "report",
}
__all__ = sorted(_EXPORTS)


def __getattr__(name: str):
    """Import ``name`` from its submodule on first use (PEP 562)."""
    if name not in _EXPORTS:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(f".{_EXPORTS[name]}", __name__), name)
