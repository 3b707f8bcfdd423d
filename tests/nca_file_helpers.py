"""Shared by the ``.nca`` format tests: the shipped example file, CRC sealing, skewed banks."""
import struct
import zlib
from pathlib import Path

import numpy as np
import torch

from nca_zoo.models.gnca import GNCA

#: the shipped example: a version 1 file, GNCA-medium, 120x120 px, 40 px patches
SHIPPED = Path(__file__).resolve().parents[1] / "examples" / "gnca" / "astronaut_120.nca"


def with_crc(body: bytes) -> bytes:
    """``body`` sealed with the CRC-32 every ``.nca`` file ends with."""
    return body + struct.pack("<I", zlib.crc32(body))


def skewed_bank(seed: int = 0, channels: int = 16, hidden: int = 32) -> GNCA:
    """A bank whose weight columns differ in size by 100x, as trained banks' do (less so)."""
    torch.manual_seed(seed)
    model = GNCA(channels, hidden, 4, 8, 4)
    with torch.no_grad():
        model.cell.w1.mul_(torch.logspace(-2, 0, 3 * channels))
        model.cell.w2.normal_().mul_(torch.logspace(-2, 0, hidden))
    return model


def assert_weights_are_codes_times_column_scales(data: bytes, codes, s_w1, s_b1, s_w2) -> None:
    """The decoded weights of ``data`` are exactly ``code * scale``, per column (versions 3, 4).

    ``codes``: ``(patches, n)`` int8 in the v1 order; ``s_w1``, ``s_b1``, ``s_w2``: the scales as
    a reader computes them from the documented layout.
    """
    from nca_zoo.compression.nca_file import decode

    nca = decode(data)
    nc, hs, patches = nca.channels, nca.hidden, codes.shape[0]
    w1 = codes[:, : hs * 3 * nc].reshape(patches, hs, 3 * nc) * s_w1[:, None, :]
    b1 = codes[:, hs * 3 * nc : hs * (3 * nc + 1)] * s_b1[:, None]
    w2 = codes[:, hs * (3 * nc + 1) :].reshape(patches, nc, hs) * s_w2[:, None, :]
    for name, value in (("w1", w1), ("b1", b1), ("w2", w2)):
        assert np.array_equal(nca.state_dict[name].numpy(), value.astype(np.float32)), name
