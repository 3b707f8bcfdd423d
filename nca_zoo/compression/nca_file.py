"""The ``.nca`` container: a GNCA bank's 8-bit weights *are* the compressed image.

Four versions (byte by byte: ``docs/nca-format.md``); :func:`encode` writes version 4, every
reader reads all four.  Version 1 layout (little endian)::

    offset size  field
    0      4     magic  b"GNCA"
    4      1     format version (1, 2, 3 or 4)
    5      2     image height        7  2  image width
    9      2     patch size          11 1  n_c (state channels)
    12     2     h_s (hidden width)  14 2  growth steps
    16     6*P   per patch: float16 scales of w1, b1, w2
    ...    n*P   per patch: int8 weights w1 (h_s x 3 n_c), b1 (h_s), w2 (n_c x h_s)
    end-4  4     CRC-32 of everything before it

P = number of patches (derived from image and patch size), n = h_s (4 n_c + 1) (GNCA Eq. 4).
Header: 16 bytes + 4 of CRC, plus 6 bytes of scales per patch.

Version 2 keeps the header, scales and CRC and replaces the ``n*P`` raw weight bytes by a uint8
weight layout, a uint32 byte count ``L`` and ``L`` bytes of entropy-coded weights
(:mod:`.entropy`: layer-major order, LZMA2): the same int8 codes, so the same decoded image, in
fewer bytes.

Version 3 is version 2 with one float16 scale per input column of ``w1`` and ``w2`` (and one for
``b1``) instead of one per tensor: ``3 n_c + 1 + h_s`` scales per patch, in the order w1's
columns, b1, w2's columns.  The finer scales keep ~2 dB that the 8-bit round trip of a grown
image loses with one scale per tensor (:mod:`nca_zoo.layers.quantize`).  Versions 1 and 2
convert to version 3 exactly (their scale repeated over the columns).

Version 4 is version 3 with one-byte scales: each scale is an exponent on a grid of 1/16 octave
(:func:`~nca_zoo.layers.quantize.log_scale_table`), and the exponents are coded in the LZMA2
stream ahead of the weights instead of as raw float16 after the header: 5-7 % smaller files
than version 3 at the same PSNR (``benchmarks/gnca/gnca_quantisation.py``).  Its scales differ from
float16 ones, so versions 1-3 and 4 do not convert into each other (encode again).

A valid header can still ask for absurd work: a 43-byte file may claim one 65535x65535 patch or
65535 growth steps.  :func:`decode` therefore checks the header against :class:`DecodeLimits`
before it allocates anything, and :func:`decode_image` grows large banks a chunk of patches at a
time, so memory stays bounded too.
"""
from __future__ import annotations

import os
import struct
import zlib
from dataclasses import dataclass
from pathlib import Path
from typing import Optional, Union

import numpy as np
import torch

from ..cells.sobel_mlp import SobelMLPCell
from ..layers import grid_shape, stitch, to_uint8
from ..layers.quantize import (
    DEFAULT_CODE_MAX,
    dequantize,
    log_scale_exponents,
    log_scale_table,
    quantize,
)
from ..models.gnca import GNCA
from .entropy import compress_codes, decompress_payload

MAGIC = b"GNCA"
#: the version :func:`encode` writes; :data:`VERSIONS`: those :func:`decode` reads
VERSION = 4
VERSIONS = (1, 2, 3, 4)
#: the latent codec's version (:mod:`.nca_file_latent`), read by :func:`decode` as well
LATENT_VERSION = 5
_HEADER = struct.Struct("<4sBHHHBHH")
_PAYLOAD = struct.Struct("<BI")  # v2: weight layout, payload byte count
_TENSORS = ("w1", "b1", "w2")


#: activations of one chunk of patches grown at once by :func:`decode_image`
DECODE_CHUNK_BYTES = 256 * 2**20


class NCAFormatError(ValueError):
    """A ``.nca`` file that cannot be decoded; the message is one line meant for the user."""


@dataclass(frozen=True)
class DecodeLimits:
    """What a ``.nca`` header may ask of the decoder; ``None`` disables one limit.

    The defaults accept every file ``nca_zoo.compress`` writes (it refuses to write others) and
    bound decoding to about 1 GB of memory and a couple of minutes on a 2-core CPU.
    """

    #: pixels grown (the patch grid, padding included): Pillow's ``Image.MAX_IMAGE_PIXELS``
    max_pixels: Optional[int] = 89_478_485
    #: patch side: compress's own maximum ``--patch``
    max_patch: Optional[int] = 1024
    #: growth steps: 1.2 x patch by default, i.e. 1229 at patch 1024
    max_steps: Optional[int] = 4096
    #: state channels n_c and hidden width h_s: 2-3x the largest GNCA of Table 1 (16, 40)
    max_channels: Optional[int] = 32
    max_hidden: Optional[int] = 128
    #: cell updates = pixels grown x steps (decode time is proportional): about 10 Mpx at the
    #: default patch 40 (48 steps); 3.5 M updates/s on 2 CPU cores
    max_work: Optional[int] = 500_000_000


DEFAULT_LIMITS = DecodeLimits()


def exceeded_limit(height: int, width: int, patch: int, channels: int, hidden: int, steps: int,
                   limits: Optional[DecodeLimits] = DEFAULT_LIMITS) -> Optional[tuple[str, str]]:
    """The first limit these header values exceed, or None.

    Returns ``("limit on growth steps: 65,535 > 4,096", "--no-limits")``: what, and the option of
    ``decompress`` that raises it.
    """
    if limits is None:
        return None
    rows, cols = grid_shape(height, width, patch)
    pixels = rows * cols * patch * patch
    checks = ((channels, limits.max_channels, "state channels", "--no-limits"),
              (hidden, limits.max_hidden, "hidden width", "--no-limits"),
              (patch, limits.max_patch, "patch side", "--no-limits"),
              (steps, limits.max_steps, "growth steps", "--no-limits"),
              (pixels, limits.max_pixels, "pixels to grow", "--max-pixels N"),
              (pixels * steps, limits.max_work, "cell updates (pixels x steps)", "--max-work N"))
    for value, limit, what, option in checks:
        if limit is not None and value > limit:
            return f"limit on {what}: {value:,} > {limit:,}", option
    return None


@dataclass
class NCAFile:
    """Decoded contents of a ``.nca`` file (weights already dequantised)."""

    height: int
    width: int
    patch_size: int
    channels: int
    hidden: int
    steps: int
    state_dict: dict
    #: the format version the file was written in
    version: int = VERSION

    def build(self) -> GNCA:
        """A ready-to-run :class:`GNCA` bank carrying the dequantised weights."""
        rows, cols = grid_shape(self.height, self.width, self.patch_size)
        model = GNCA(self.channels, self.hidden, rows * cols, self.patch_size, self.steps)
        model.cell.load_state_dict(self.state_dict, strict=True)
        return model.eval()


@dataclass(frozen=True)
class _Bank:
    """A ``.nca`` file before dequantisation: header fields, float16 scales, int8 codes."""

    fields: tuple  # height, width, patch, channels, hidden, steps
    #: float16 (P, 3): w1, b1, w2 (v1, v2); (P, 3 n_c + 1 + h_s) float16 (v3) or uint8
    #: exponents (v4)
    scales: np.ndarray
    codes: np.ndarray  # (P, n) int8, v1 order: w1 (h_s x 3 n_c), b1 (h_s), w2 (n_c x h_s)


def scales_per_patch(version: int, channels: int, hidden: int) -> int:
    """Scales stored per patch: 3 (one per tensor) or ``3 n_c + 1 + h_s`` (versions 3, 4)."""
    return 3 * channels + 1 + hidden if version >= 3 else 3


def grouping(version: int) -> str:
    """The :func:`~nca_zoo.layers.quantize.quantize` grouping a format version stores."""
    return "column" if version >= 3 else "tensor"


def scale_format(version: int) -> str:
    """How a format version stores a scale: ``"log"`` exponents (4) or ``"float16"``."""
    return "log" if version >= 4 else "float16"


def _convert_scales(scales: np.ndarray, nc: int, hs: int, version: int) -> np.ndarray:
    """The same scales laid out for ``version``: exact, or a ValueError if they cannot be."""
    stored = "log" if scales.dtype == np.uint8 else "float16"
    if stored != scale_format(version):
        raise ValueError(f"this .nca file has {stored} scales; version {version} stores "
                         f"{scale_format(version)} ones and they do not convert exactly: compress "
                         f"again with --format-version {version}")
    if scales.shape[1] == scales_per_patch(version, nc, hs):
        return scales
    if version >= 3:  # one scale per tensor -> the same scale for each of its columns
        return np.repeat(scales, [3 * nc, 1, hs], axis=1)
    parts = np.split(scales, [3 * nc, 3 * nc + 1], axis=1)
    if any((part != part[:, :1]).any() for part in parts):
        raise ValueError(f"this .nca file has one scale per column; version {version} stores "
                         f"one per tensor: compress again with --format-version {version}")
    return np.concatenate([part[:, :1] for part in parts], axis=1)


def _pack(bank: _Bank, version: int) -> bytes:
    if version not in VERSIONS:
        raise ValueError(f"unknown .nca format version {version}; choose from {VERSIONS}")
    h, w, patch, nc, hs, steps = bank.fields
    header = _HEADER.pack(MAGIC, version, h, w, patch, nc, hs, steps)
    scales = _convert_scales(bank.scales, nc, hs, version)
    if version == 1:
        weights = bank.codes.astype(np.int8).tobytes()
    else:
        exponents = scales if version >= 4 else None  # v4: the scales go into the payload
        layout, payload = compress_codes(bank.codes, nc, hs, exponents=exponents)
        weights = _PAYLOAD.pack(layout, len(payload)) + payload
    raw_scales = b"" if version >= 4 else scales.astype("<f2").tobytes()
    body = header + raw_scales + weights
    return body + struct.pack("<I", zlib.crc32(body))


def encode(model: GNCA, height: int, width: int, steps: int, version: int = VERSION,
           code_max: int = DEFAULT_CODE_MAX) -> bytes:
    """Serialise a trained bank (quantising its weights to one byte per parameter).

    ``version``: 4 (default: entropy-coded weights, one entropy-coded one-byte scale per
    column), 3 (float16 scales per column), 2 (one per tensor) or 1 (raw int8 weights, one
    scale per tensor).  ``code_max``: the codes' range (:func:`~nca_zoo.layers.quantize.quantize`;
    every version reads any range).
    """
    if version not in VERSIONS:
        raise ValueError(f"unknown .nca format version {version}; choose from {VERSIONS}")
    cell: SobelMLPCell = model.cell
    rows, cols = grid_shape(height, width, model.patch_size)
    if cell.num_models != rows * cols:
        raise ValueError(f"bank has {cell.num_models} models, image needs {rows * cols}")
    if not (cell.channels < 256 and cell.hidden < 65536 and steps < 65536
            and model.patch_size < 65536 and height < 65536 and width < 65536):
        raise ValueError("model or image too large for the .nca format")
    codes, scales = zip(*(quantize(getattr(cell, n), grouping(version), scale_format(version),
                                   code_max=code_max) for n in _TENSORS))
    models = cell.num_models
    scales = torch.cat([s.reshape(models, -1) for s in scales], 1)
    if version >= 4:
        scales = log_scale_exponents(scales)
    bank = _Bank((height, width, model.patch_size, cell.channels, cell.hidden, steps),
                 scales.numpy(),
                 torch.cat([c.flatten(1) for c in codes], 1).numpy().astype(np.int8))
    return _pack(bank, version)


def transcode(data: bytes, version: int = VERSION,
              limits: Optional[DecodeLimits] = DEFAULT_LIMITS) -> bytes:
    """The same ``.nca`` file in another format version: identical header, scales and codes.

    Raises ValueError for a version 3 file with different scales within a tensor, which
    versions 1 and 2 cannot hold, and between version 4 and the others (log vs float16
    scales).
    """
    return _pack(_parse(data, limits)[1], version)


def _parse(data: bytes, limits: Optional[DecodeLimits]) -> tuple[int, _Bank]:
    """Verify ``data`` and split it into its version and :class:`_Bank` (no dequantisation)."""
    if len(data) < _HEADER.size + 4:
        raise NCAFormatError(f"file too short to be a .nca file ({len(data)} bytes)")
    magic, version, h, w, patch, nc, hs, steps = _HEADER.unpack_from(data)
    if magic != MAGIC:
        raise NCAFormatError(f"not a .nca file (magic {magic!r}, expected {MAGIC!r})")
    if version not in VERSIONS:
        raise NCAFormatError(f"unsupported .nca format version {version} "
                             f"(this build reads {', '.join(map(str, VERSIONS))} and "
                             f"{LATENT_VERSION})")
    (crc,) = struct.unpack_from("<I", data, len(data) - 4)
    if zlib.crc32(data[:-4]) != crc:
        raise NCAFormatError("checksum mismatch: the .nca file is corrupted or truncated")
    if min(h, w, patch, hs, steps) < 1 or nc < 4:
        raise NCAFormatError("invalid header values in .nca file")
    exceeded = exceeded_limit(h, w, patch, nc, hs, steps, limits)
    if exceeded:
        raise NCAFormatError(f".nca file exceeds the decoder's {exceeded[0]} (decompress "
                             f"{exceeded[1]} lifts it; only for files you trust)")
    rows, cols = grid_shape(h, w, patch)
    models, per_model = rows * cols, SobelMLPCell.params_per_model(nc, hs)
    n_scales = scales_per_patch(version, nc, hs)
    off = _HEADER.size + (0 if version >= 4 else models * n_scales * 2)
    if version == 1:
        expected = off + models * per_model + 4
    elif len(data) < off + _PAYLOAD.size + 4:
        expected = off + _PAYLOAD.size + 4  # not even room for the payload's layout and size
    else:
        expected = off + _PAYLOAD.size + _PAYLOAD.unpack_from(data, off)[1] + 4
    if len(data) != expected:
        raise NCAFormatError(f".nca file has {len(data)} bytes, header implies {expected}")
    if version < 4:
        scales = np.frombuffer(data, "<f2", models * n_scales, _HEADER.size).astype(np.float16)
        scales = scales.reshape(models, n_scales)
    if version == 1:
        codes = np.frombuffer(data, np.int8, models * per_model, off).reshape(models, per_model)
    else:
        try:
            exponents, codes = decompress_payload(data[off + _PAYLOAD.size : -4], data[off],
                                                  models, nc, hs, n_scales if version >= 4 else 0)
        except ValueError as err:
            raise NCAFormatError(f"corrupted .nca file: {err}") from None
        if version >= 4:
            scales = exponents
    return version, _Bank((h, w, patch, nc, hs, steps), scales, codes)


def decode(data: bytes, limits: Optional[DecodeLimits] = DEFAULT_LIMITS):
    """Parse and verify a ``.nca`` file; :class:`NCAFormatError` on a problem.

    Versions 1 to 4 (a GNCA bank) give an :class:`NCAFile`, version 5 (the latent codec) a
    :class:`~nca_zoo.compression.nca_file_latent.LatentFile`.  ``limits`` bound what the header
    may ask for (None: no bound, for files you trust); they are checked before anything is
    allocated or decompressed.
    """
    if len(data) > 4 and data[:4] == MAGIC and data[4] == LATENT_VERSION:
        from .nca_file_latent import LatentFormatError, decode_latent

        try:
            return decode_latent(data, limits)
        except LatentFormatError as err:
            raise NCAFormatError(str(err)) from None
    version, bank = _parse(data, limits)
    h, w, patch, nc, hs, steps = bank.fields
    models = bank.codes.shape[0]
    codes = torch.from_numpy(bank.codes.copy())
    if version >= 4:
        per_column = log_scale_table()[torch.from_numpy(bank.scales.copy()).long()]
    else:  # per column: one scale per tensor repeats exactly
        per_column = torch.from_numpy(_convert_scales(bank.scales, nc, hs, 3).copy())
    scales = per_column.split([3 * nc, 1, hs], dim=1)
    shapes = {"w1": (hs, 3 * nc), "b1": (hs,), "w2": (nc, hs)}
    state, start = {}, 0
    for name, scale in zip(_TENSORS, scales):
        n = int(np.prod(shapes[name]))
        chunk = codes[:, start : start + n].reshape(models, *shapes[name])
        state[name] = dequantize(chunk, scale[:, 0] if name == "b1" else scale)
        start += n
    return NCAFile(h, w, patch, nc, hs, steps, state, version)


def read(path: Union[str, os.PathLike], limits: Optional[DecodeLimits] = DEFAULT_LIMITS):
    """Read and decode a ``.nca`` file (see :func:`decode`)."""
    path = Path(path)
    if path.is_dir():
        raise NCAFormatError(f"{path} is a directory, not a .nca file")
    if not path.is_file():
        raise NCAFormatError(f"no such file: {path}")
    return decode(path.read_bytes(), limits)


def decode_image(nca, chunk_bytes: int = DECODE_CHUNK_BYTES) -> np.ndarray:
    """Grow every patch from its seed and stitch: ``uint8 (H, W, 3)``.

    Patches grow ``chunk_bytes`` of activations at a time (all at once for usual images).  A
    version 5 file (:class:`~nca_zoo.compression.nca_file_latent.LatentFile`) grows its image
    from its latents.
    """
    if not isinstance(nca, NCAFile):
        return nca.decode_image()
    model = nca.build()
    n = model.num_models
    per_patch = 4 * nca.patch_size**2 * (3 * nca.channels + nca.hidden)
    chunk = max(1, chunk_bytes // per_patch)
    parts = []
    with torch.inference_mode():
        for start in range(0, n, chunk):
            models = None if chunk >= n else torch.arange(start, min(start + chunk, n))
            state, _ = model.grow(models, steps=nca.steps)
            parts.append(model.rgb(state)[0].clamp(0.0, 1.0))
    return to_uint8(stitch(torch.cat(parts), nca.height, nca.width))
