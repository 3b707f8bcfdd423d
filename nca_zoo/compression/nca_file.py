"""The ``.nca`` container: a GNCA bank's 8-bit weights *are* the compressed image.

Layout (little endian)::

    offset size  field
    0      4     magic  b"GNCA"
    4      1     format version (1)
    5      2     image height        7  2  image width
    9      2     patch size          11 1  n_c (state channels)
    12     2     h_s (hidden width)  14 2  growth steps
    16     6*P   per patch: float16 scales of w1, b1, w2
    ...    n*P   per patch: int8 weights w1 (h_s x 3 n_c), b1 (h_s), w2 (n_c x h_s)
    end-4  4     CRC-32 of everything before it

P = number of patches (derived from image and patch size), n = h_s (4 n_c + 1) (GNCA Eq. 4).
Header: 16 bytes + 4 of CRC, plus 6 bytes of scales per patch.
"""
from __future__ import annotations

import os
import struct
import zlib
from dataclasses import dataclass
from pathlib import Path
from typing import Union

import numpy as np
import torch

from ..cells.sobel_mlp import SobelMLPCell
from ..layers import grid_shape, stitch, to_uint8
from ..layers.quantize import dequantize, quantize
from ..models.gnca import GNCA

MAGIC = b"GNCA"
VERSION = 1
_HEADER = struct.Struct("<4sBHHHBHH")
_TENSORS = ("w1", "b1", "w2")


class NCAFormatError(ValueError):
    """A ``.nca`` file that cannot be decoded; the message is one line meant for the user."""


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

    def build(self) -> GNCA:
        """A ready-to-run :class:`GNCA` bank carrying the dequantised weights."""
        rows, cols = grid_shape(self.height, self.width, self.patch_size)
        model = GNCA(self.channels, self.hidden, rows * cols, self.patch_size, self.steps)
        model.cell.load_state_dict(self.state_dict, strict=True)
        return model.eval()


def encode(model: GNCA, height: int, width: int, steps: int) -> bytes:
    """Serialise a trained bank (quantising its weights to one byte per parameter)."""
    cell: SobelMLPCell = model.cell
    rows, cols = grid_shape(height, width, model.patch_size)
    if cell.num_models != rows * cols:
        raise ValueError(f"bank has {cell.num_models} models, image needs {rows * cols}")
    if not (cell.channels < 256 and cell.hidden < 65536 and steps < 65536
            and model.patch_size < 65536 and height < 65536 and width < 65536):
        raise ValueError("model or image too large for the .nca format")
    codes, scales = zip(*(quantize(getattr(cell, n)) for n in _TENSORS))
    header = _HEADER.pack(MAGIC, VERSION, height, width, model.patch_size, cell.channels,
                          cell.hidden, steps)
    scale_bytes = torch.stack(scales, 1).numpy().astype("<f2").tobytes()
    weight_bytes = torch.cat([c.flatten(1) for c in codes], 1).numpy().astype(np.int8).tobytes()
    body = header + scale_bytes + weight_bytes
    return body + struct.pack("<I", zlib.crc32(body))


def decode(data: bytes) -> NCAFile:
    """Parse and verify a ``.nca`` byte string; :class:`NCAFormatError` on any problem."""
    if len(data) < _HEADER.size + 4:
        raise NCAFormatError(f"file too short to be a .nca file ({len(data)} bytes)")
    magic, version, h, w, patch, nc, hs, steps = _HEADER.unpack_from(data)
    if magic != MAGIC:
        raise NCAFormatError(f"not a .nca file (magic {magic!r}, expected {MAGIC!r})")
    if version != VERSION:
        raise NCAFormatError(f"unsupported .nca format version {version} "
                             f"(this build reads {VERSION})")
    (crc,) = struct.unpack_from("<I", data, len(data) - 4)
    if zlib.crc32(data[:-4]) != crc:
        raise NCAFormatError("checksum mismatch: the .nca file is corrupted or truncated")
    if min(h, w, patch, hs, steps) < 1 or nc < 4:
        raise NCAFormatError("invalid header values in .nca file")
    rows, cols = grid_shape(h, w, patch)
    models, per_model = rows * cols, SobelMLPCell.params_per_model(nc, hs)
    expected = _HEADER.size + models * (6 + per_model) + 4
    if len(data) != expected:
        raise NCAFormatError(f".nca file has {len(data)} bytes, header implies {expected}")
    off = _HEADER.size
    scales = torch.from_numpy(np.frombuffer(data, "<f2", models * 3, off).astype(np.float16)
                              ).reshape(models, 3)
    off += models * 6
    codes = torch.from_numpy(np.frombuffer(data, np.int8, models * per_model, off).copy()
                             ).reshape(models, per_model)
    shapes = {"w1": (hs, 3 * nc), "b1": (hs,), "w2": (nc, hs)}
    state, start = {}, 0
    for i, name in enumerate(_TENSORS):
        n = int(np.prod(shapes[name]))
        chunk = codes[:, start : start + n].reshape(models, *shapes[name])
        state[name] = dequantize(chunk, scales[:, i])
        start += n
    return NCAFile(h, w, patch, nc, hs, steps, state)


def read(path: Union[str, os.PathLike]) -> NCAFile:
    """Read and decode a ``.nca`` file."""
    path = Path(path)
    if not path.is_file():
        raise NCAFormatError(f"no such file: {path}")
    return decode(path.read_bytes())


def decode_image(nca: NCAFile) -> np.ndarray:
    """Grow every patch from its seed and stitch: ``uint8 (H, W, 3)``."""
    with torch.inference_mode():
        patches = nca.build()(steps=nca.steps)
    return to_uint8(stitch(patches, nca.height, nca.width))
