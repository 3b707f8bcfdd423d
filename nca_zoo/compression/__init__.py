"""GNCA image compression (GNCA paper): the codec around the patch bank.

* :func:`compress` (:mod:`.train`) -- train one GNCA per patch (one bank) and return the file;
* :mod:`.nca_file` -- the ``.nca`` container (header, CRC, 8-bit weights) and its decoder;
  :mod:`.entropy` -- the lossless coding of those weights in format version 2;
* :mod:`.codecs`, :mod:`.compare`, :mod:`.metrics` -- JPEG / JPEG-2000 / WebP through Pillow,
  the Table 2 comparison, PSNR / SSIM / MSE on the 0-255 scale and the compression rate;
* :mod:`.report` -- the callback that writes ``.nca`` files and the comparison after training.

The 8-bit quantisation itself (§4.2) is :mod:`nca_zoo.layers.quantize` (the Sobel-MLP cell uses it
for quantisation-aware training).
"""
from .compare import compare_with_codecs, format_table
from .metrics import compression_rate, image_quality
from .nca_file import NCAFile, NCAFormatError, decode, decode_image, encode, read, transcode
from .report import CompressionReport
from .train import compress, train_bank

__all__ = ["CompressionReport", "NCAFile", "NCAFormatError", "compare_with_codecs", "compress",
           "compression_rate", "decode", "decode_image", "encode", "format_table", "image_quality",
           "read", "train_bank", "transcode"]
