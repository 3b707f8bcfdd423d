"""``.nca`` version 5: the latent codec's file (integer latent grids, range coded, + the rule).

Layout (little endian; byte by byte in ``docs/nca-format.md``)::

    offset size  field
    0      4     magic b"GNCA"
    4      1     format version 5
    5      2     image height        7  2  image width
    9      1     levels L            10 1  state channels
    11     1     hidden width        12 1  NCA steps
    13     1     flags: bit 0 set = the rule is in the file
    14     ...   rule: 8-byte id of a shipped rule (flag clear), or a uint32 byte count R and R
                 bytes of LZMA2-coded rule (flag set): per tensor (w1, b1, w2, gain) its one-byte
                 log scales then its int8 codes, as ``.nca`` version 4 stores a GNCA's weights
    ...    4*L   per level: uint16 largest magnitude K, uint16 Laplace ratio code r
    ...    ...   the ANS stream of all latents (uint32 words), level 0 first, row-major
    end-4  4     CRC-32 of everything before it

Every header field is checked against :class:`~nca_zoo.compression.nca_file.DecodeLimits`
before anything is allocated; the latent stream must decode to exactly the grids the header
implies, with no word left over.
"""
from __future__ import annotations

import lzma
import struct
import zlib
from dataclasses import dataclass
from typing import Optional

import numpy as np
import torch

from ..layers import to_uint8
from ..layers.quantize import dequantize, log_scale_exponents, log_scale_table, quantize
from ..models.latent_nca import LatentNCA, latent_shapes
from .latent_entropy import MAX_MAGNITUDE, RATIO_BITS, decode_grids, encode_grids
from .latent_prior import RULE_ID_BYTES, RuleError, remember_rule, rule_by_id

VERSION = 5
MAGIC = b"GNCA"
_HEADER = struct.Struct("<4sBHHBBBBB")
_LEVEL = struct.Struct("<HH")
_RULE_IN_FILE = 1
#: activations the decoder may hold at once (state, perception and hidden layer, float32)
MAX_DECODE_BYTES = 4 * 2**30
_RULE_TENSORS = ("w1", "b1", "w2")
_LZMA = [{"id": lzma.FILTER_LZMA2, "preset": 9 | lzma.PRESET_EXTREME, "dict_size": 1 << 16,
          "lc": 0, "lp": 0, "pb": 0}]
_LZMA_DECODE = [{"id": lzma.FILTER_LZMA2, "dict_size": 1 << 16}]


class LatentFormatError(ValueError):
    """A version 5 file that cannot be decoded; the message is one line meant for the user."""


@dataclass
class LatentFile:
    """A decoded version 5 file: image size, integer latents and the rule that grows them."""

    height: int
    width: int
    rule: LatentNCA
    latents: list  # per level int64 (h_l, w_l)
    rule_in_file: bool

    @property
    def steps(self) -> int:
        """NCA steps from the seed to the image."""
        return self.rule.steps

    @property
    def version(self) -> int:
        """The format version: 5."""
        return VERSION

    def decode_image(self) -> np.ndarray:
        """The image, ``uint8 (H, W, 3)``."""
        ys = [torch.from_numpy(y).float()[None, None] for y in self.latents]
        with torch.inference_mode():
            return to_uint8(self.rule.eval()(ys, self.height, self.width)[0])


def _rule_tensors(rule: LatentNCA) -> list[torch.Tensor]:
    """The rule's tensors as ``(1, ...)`` for the quantiser: w1, b1, w2, level gains."""
    cell = rule.cell
    return [getattr(cell, n) for n in _RULE_TENSORS] + [rule.gain[None]]


def _pack_rule(rule: LatentNCA) -> bytes:
    parts = []
    for tensor in _rule_tensors(rule):
        codes, scale = quantize(tensor, "column", "log")
        parts += [log_scale_exponents(scale).numpy().astype(np.uint8).tobytes(),
                  codes.numpy().astype(np.int8).tobytes()]
    return lzma.compress(b"".join(parts), lzma.FORMAT_RAW, filters=_LZMA)


def _unpack_rule(data: bytes, levels: int, channels: int, hidden: int, steps: int) -> LatentNCA:
    rule = LatentNCA(levels, channels, hidden, steps)
    shapes = [t.shape for t in _rule_tensors(rule)]
    n_scales = [s[-1] if len(s) == 3 else 1 for s in shapes]
    need = sum(n + int(np.prod(s)) for n, s in zip(n_scales, shapes))
    try:
        decompressor = lzma.LZMADecompressor(lzma.FORMAT_RAW, filters=_LZMA_DECODE)
        raw = decompressor.decompress(data, need + 1)
    except lzma.LZMAError as err:
        raise LatentFormatError(f"corrupted .nca file: rule does not decompress ({err})") from None
    if len(raw) != need:
        raise LatentFormatError(f"corrupted .nca file: rule holds {len(raw)} bytes, "
                                f"expected {need}")
    table, off, values = log_scale_table(), 0, []
    for n, shape in zip(n_scales, shapes):
        scale = table[torch.from_numpy(np.frombuffer(raw, np.uint8, n, off).copy()).long()]
        off += n
        codes = torch.from_numpy(np.frombuffer(raw, np.int8, int(np.prod(shape)), off).copy())
        off += codes.numel()
        values.append(dequantize(codes.reshape(shape), scale[None] if n > 1 else scale))
    with torch.no_grad():
        for name, value in zip(_RULE_TENSORS, values):
            getattr(rule.cell, name).copy_(value)
        rule.gain.copy_(values[-1][0])
    return rule.eval()


def encode_latent(latents: list, height: int, width: int, rule: LatentNCA,
                  rule_in_file: bool = False) -> bytes:
    """A version 5 file for integer ``latents`` (per level ``(h_l, w_l)`` arrays or tensors).

    ``rule_in_file``: store the rule quantised (one byte per weight, per-column log scales);
    otherwise the file names it by id and the decoder must ship it.
    """
    grids = [np.asarray(y.detach().cpu().numpy() if torch.is_tensor(y) else y).reshape(
        y.shape[-2:]).astype(np.int64) for y in latents]
    if [g.shape for g in grids] != latent_shapes(height, width, rule.levels):
        raise ValueError("latent grid shapes do not match the image size and the rule's levels")
    if not (height < 65536 and width < 65536 and rule.channels < 256 and rule.hidden < 256
            and rule.steps < 256):
        raise ValueError("image or rule too large for the .nca version 5 format")
    params, stream = encode_grids(grids)
    flags = _RULE_IN_FILE if rule_in_file else 0
    header = _HEADER.pack(MAGIC, VERSION, height, width, rule.levels, rule.channels,
                          rule.hidden, rule.steps, flags)
    if rule_in_file:
        packed = _pack_rule(rule)
        rule_part = struct.pack("<I", len(packed)) + packed
    else:
        rule_part = remember_rule(rule)  # this process can decode what it wrote
    levels = b"".join(_LEVEL.pack(k, r) for k, r in params)
    body = header + rule_part + levels + stream
    return body + struct.pack("<I", zlib.crc32(body))


def fixed_bytes(rule: LatentNCA, rule_in_file: bool) -> int:
    """Bytes of a version 5 file that are not latents: header, rule, level table, CRC."""
    rule_part = 4 + len(_pack_rule(rule)) if rule_in_file else RULE_ID_BYTES
    return _HEADER.size + rule_part + _LEVEL.size * rule.levels + 4


def _check_limits(h: int, w: int, levels: int, channels: int, hidden: int, steps: int,
                  limits) -> None:
    if min(h, w, levels, hidden, steps) < 1 or channels < max(levels, 4):
        raise LatentFormatError("invalid header values in .nca file")
    if limits is None:
        return
    pixels = h * w
    checks = ((channels, limits.max_channels, "state channels", "--no-limits"),
              (hidden, limits.max_hidden, "hidden width", "--no-limits"),
              (steps, limits.max_steps, "growth steps", "--no-limits"),
              (pixels, limits.max_pixels, "pixels to grow", "--max-pixels N"),
              (pixels * steps, limits.max_work, "cell updates (pixels x steps)", "--max-work N"),
              (pixels * 4 * (3 * channels + hidden), MAX_DECODE_BYTES, "decoder memory (bytes)",
               "--no-limits"))
    for value, limit, what, option in checks:
        if limit is not None and value > limit:
            raise LatentFormatError(f".nca file exceeds the decoder's limit on {what}: "
                                    f"{value:,} > {limit:,} (decompress {option} lifts it; "
                                    f"only for files you trust)")


def decode_latent(data: bytes, limits=None) -> LatentFile:
    """Parse and verify a version 5 file; :class:`LatentFormatError` on any problem.

    ``limits``: a :class:`~nca_zoo.compression.nca_file.DecodeLimits` (None: no bound).
    """
    if len(data) < _HEADER.size + 4:
        raise LatentFormatError(f"file too short to be a .nca file ({len(data)} bytes)")
    magic, version, h, w, levels, channels, hidden, steps, flags = _HEADER.unpack_from(data)
    if magic != MAGIC or version != VERSION:
        raise LatentFormatError(f"not a .nca version {VERSION} file")
    (crc,) = struct.unpack_from("<I", data, len(data) - 4)
    if zlib.crc32(data[:-4]) != crc:
        raise LatentFormatError("checksum mismatch: the .nca file is corrupted or truncated")
    if flags & ~_RULE_IN_FILE:
        raise LatentFormatError(f"unknown flags {flags:#04x} in .nca file")
    _check_limits(h, w, levels, channels, hidden, steps, limits)
    off, end = _HEADER.size, len(data) - 4
    if flags & _RULE_IN_FILE:
        if off + 4 > end:
            raise LatentFormatError("corrupted .nca file: truncated rule")
        (n,) = struct.unpack_from("<I", data, off)
        if off + 4 + n > end:
            raise LatentFormatError("corrupted .nca file: rule runs past the end")
        rule = _unpack_rule(data[off + 4 : off + 4 + n], levels, channels, hidden, steps)
        off += 4 + n
    else:
        if off + RULE_ID_BYTES > end:
            raise LatentFormatError("corrupted .nca file: truncated rule id")
        try:
            rule = rule_by_id(data[off : off + RULE_ID_BYTES])
        except RuleError as err:
            raise LatentFormatError(str(err)) from None
        if (rule.levels, rule.channels, rule.hidden, rule.steps) != (levels, channels, hidden,
                                                                      steps):
            raise LatentFormatError("corrupted .nca file: header does not match its rule")
        off += RULE_ID_BYTES
    if off + _LEVEL.size * levels > end:
        raise LatentFormatError("corrupted .nca file: truncated level table")
    params = [_LEVEL.unpack_from(data, off + _LEVEL.size * i) for i in range(levels)]
    off += _LEVEL.size * levels
    if any(k > MAX_MAGNITUDE or not 1 <= r < (1 << RATIO_BITS) for k, r in params):
        raise LatentFormatError("corrupted .nca file: invalid latent level parameters")
    try:
        grids = decode_grids(data[off:end], latent_shapes(h, w, levels), params)
    except ValueError as err:
        raise LatentFormatError(f"corrupted .nca file: {err}") from None
    return LatentFile(h, w, rule, grids, bool(flags & _RULE_IN_FILE))


def peek_version(data: bytes) -> Optional[int]:
    """The format version byte of ``data`` if it starts like a ``.nca`` file, else None."""
    return data[4] if len(data) > 4 and data[:4] == MAGIC else None
