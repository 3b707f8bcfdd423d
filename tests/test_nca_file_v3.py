""".nca format version 3: one float16 scale per weight column; versions 1 and 2 convert to it."""
import lzma
import struct

import numpy as np
import pytest
import torch
from nca_file_helpers import (
    SHIPPED,
    assert_weights_are_codes_times_column_scales,
    skewed_bank,
    with_crc,
)
from PIL import Image

from nca_zoo.compression.nca_file import (
    NCAFormatError,
    _parse,
    decode,
    decode_image,
    encode,
    scales_per_patch,
    transcode,
)

NC, HS, PATCHES = 16, 32, 9  # the shipped example: GNCA-medium, 120x120 px, 40 px patches


def test_version_3_has_a_float16_scale_per_column():
    model = skewed_bank(channels=NC, hidden=HS)
    data = encode(model, 16, 16, 4, version=3)
    assert data[4] == 3
    assert scales_per_patch(3, NC, HS) == 3 * NC + 1 + HS and scales_per_patch(2, NC, HS) == 3
    payload = struct.unpack_from("<I", data, 16 + 2 * (3 * NC + 1 + HS) * 4 + 1)[0]
    assert len(data) == 16 + 2 * (3 * NC + 1 + HS) * 4 + 5 + payload + 4
    nca = decode(data)
    assert nca.version == 3
    for name, p in model.cell.named_parameters():
        err = (nca.state_dict[name] - p).abs()
        column_max = p.abs().amax(dim=1, keepdim=True) if p.dim() == 3 else p.abs().amax()
        assert torch.all(err <= column_max / 127 * 0.5 + 1e-3 * column_max)
    assert encode(nca.build(), 16, 16, 4, version=3) == data  # stable


def test_version_3_keeps_skewed_weights_more_exactly_than_version_2():
    model = skewed_bank(channels=NC, hidden=HS)
    errors = {}
    for version in (2, 3):
        state = decode(encode(model, 16, 16, 4, version=version)).state_dict
        errors[version] = sum(float((state[n] - p).pow(2).sum())
                              for n, p in model.cell.named_parameters())
    assert errors[3] < 0.2 * errors[2]


def test_older_versions_convert_to_version_3_exactly():
    v1 = SHIPPED.read_bytes()
    v3 = transcode(v1, 3)
    assert v3[4] == 3 and v3[5:16] == v1[5:16]
    (_, a), (_, b) = _parse(v1, None), _parse(v3, None)
    assert np.array_equal(a.codes, b.codes)
    assert b.scales.shape == (PATCHES, 3 * NC + 1 + HS)  # the tensor's scale, per column
    assert np.array_equal(b.scales, np.repeat(a.scales, [3 * NC, 1, HS], axis=1))
    shipped_png = np.asarray(Image.open(SHIPPED.with_suffix(".decoded.png")).convert("RGB"))
    assert np.array_equal(decode_image(decode(v3)), shipped_png)
    # scales that are equal within each tensor go back without loss
    assert transcode(v3, 1) == v1 and transcode(v3, 2) == transcode(v1, 2)


def test_per_column_scales_cannot_be_written_as_an_older_version():
    v3 = encode(skewed_bank(channels=NC, hidden=HS), 16, 16, 4, version=3)
    for version in (1, 2):
        with pytest.raises(ValueError, match="one scale per column.*--format-version") as err:
            transcode(v3, version)
        assert "\n" not in str(err.value)


def test_truncated_or_padded_version_3_files_give_one_line_errors():
    v3 = encode(skewed_bank(channels=NC, hidden=HS), 16, 16, 4, version=3)
    scales_end = 16 + 2 * (3 * NC + 1 + HS) * 4
    for bad in (with_crc(v3[:scales_end - 2]), with_crc(v3[:-4] + b"\0"),
                with_crc(v3[:scales_end])):
        with pytest.raises(NCAFormatError, match="header implies") as err:
            decode(bad)
        assert "\n" not in str(err.value)


def test_the_documented_layout_reads_version_3():
    """docs/nca-format.md, version 3: scales per column, then version 2's payload."""
    model = skewed_bank(1, channels=NC, hidden=HS)
    data = encode(model, 16, 16, 4, version=3)
    _, version, h, w, p, nc, hs, _ = struct.unpack_from("<4sBHHHBHH", data)
    patches, per = -(-h // p) * -(-w // p), 3 * nc + 1 + hs
    scales = np.frombuffer(data, "<f2", per * patches, 16).reshape(patches, per).astype(np.float32)
    s_w1, s_b1, s_w2 = scales[:, : 3 * nc], scales[:, 3 * nc], scales[:, 3 * nc + 1 :]
    layout, size = struct.unpack_from("<BI", data, 16 + 2 * per * patches)
    start = 16 + 2 * per * patches + 5
    filters = [{"id": lzma.FILTER_LZMA2, "dict_size": 1 << 20}]
    if layout == 1:
        filters = [{"id": lzma.FILTER_DELTA, "dist": 1}, *filters]
    d = np.frombuffer(lzma.decompress(data[start : start + size], lzma.FORMAT_RAW,
                                      filters=filters), np.int8)
    _, ours = _parse(data, None)
    assert d.size == ours.codes.size
    assert_weights_are_codes_times_column_scales(data, ours.codes, s_w1, s_b1, s_w2)
