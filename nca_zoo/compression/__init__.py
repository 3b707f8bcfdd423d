"""GNCA image compression (GNCA paper): the codec around the patch bank.

* :mod:`.nca_file` -- the ``.nca`` container (header, CRC, 8-bit weights) and its decoder;
  :mod:`.entropy` -- the lossless coding of those weights in format version 2;
* :mod:`.prior` -- the Reptile-meta-learned prior every patch's NCA starts from, and its maths;
  :mod:`.memory` -- the training-memory estimate compress checks first;
* :mod:`.codecs`, :mod:`.compare`, :mod:`.metrics` -- JPEG / JPEG-2000 / WebP through Pillow,
  the Table 2 comparison, PSNR / SSIM / MSE on the 0-255 scale, MS-SSIM and the compression rate;
* :mod:`.rate_distortion` -- codec quality sweeps, Pareto fronts, BD-rate, paired tests and
  CompressAI-style result files (the benchmarks' rate-distortion tools);
* :mod:`.report` -- the callback that writes ``.nca`` files and the comparison after training.

Compressing an image end to end trains a task, so it sits above the tasks:
:func:`nca_zoo.drivers.compress`.  The 8-bit quantisation itself (§4.2) is
:mod:`nca_zoo.layers.quantize` (the Sobel-MLP cell uses it for quantisation-aware training).
The names below are imported when first used (PEP 562): decoding a file loads neither
Lightning nor torchmetrics.
"""
from .._lazy import lazy_exports

__getattr__, __dir__, __all__ = lazy_exports(__name__, {
    "compare_with_codecs": "compare", "format_table": "compare",
    "compression_rate": "metrics", "image_quality": "metrics", "ms_ssim": "metrics",
    "NCAFile": "nca_file", "NCAFormatError": "nca_file", "decode": "nca_file",
    "decode_image": "nca_file", "encode": "nca_file", "read": "nca_file",
    "transcode": "nca_file", "CompressionReport": "report"})
