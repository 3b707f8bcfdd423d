""".nca format version 4 (the default): one-byte log scales, entropy-coded with the weights."""
import lzma
import struct
import zlib

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
    VERSION,
    NCAFormatError,
    _parse,
    decode,
    decode_image,
    encode,
    transcode,
)
from nca_zoo.layers.quantize import (
    QMAX,
    dequantize,
    fake_quantize,
    log_scale_exponents,
    log_scale_table,
    quantize,
)

NC, HS = 16, 32
PER = 3 * NC + 1 + HS  # scales per patch


def test_log_scale_table_is_a_sixteenth_octave_grid():
    table = log_scale_table()
    assert table.dtype == torch.float32 and table.shape == (256,)
    assert float(table[14 * 16]) == 1.0 and float(table[0]) == 2.0**-14
    ratios = table[1:] / table[:-1]
    assert torch.allclose(ratios, torch.full_like(ratios, 2 ** (1 / 16)), rtol=1e-6)
    e = torch.arange(256).to(torch.uint8)
    assert torch.equal(log_scale_exponents(table), e)  # exact inverse
    # any other scale: the smallest grid scale at or above it
    s = torch.tensor([1e-4, 0.0123, 0.5, 3.0])
    got = table[log_scale_exponents(s).long()]
    assert torch.all(got >= s) and torch.all(got / 2 ** (1 / 16) < s)


def test_log_scales_never_clip_and_cost_at_most_a_sixteenth_octave():
    torch.manual_seed(0)
    w = torch.randn(5, 7, 11) * torch.logspace(-2, 1, 11)  # within the grid
    codes, scale = quantize(w, "column", "log")
    assert scale.dtype == torch.float32 and scale.shape == (5, 11)
    step = w.abs().amax(dim=1) / QMAX
    assert torch.all(scale >= step) and torch.all(scale <= step * 2 ** (1 / 16) * (1 + 1e-6))
    assert int(codes.abs().max()) <= QMAX
    err = (dequantize(codes, scale) - w).abs()
    assert torch.all(err <= scale[:, None, :] / 2 + 1e-7)


def test_weights_beyond_the_log_range_are_a_one_line_error():
    w = torch.zeros(1, 2, 3)
    w[0, 0, 0] = 1000.0
    with pytest.raises(ValueError, match="beyond the log scales' range.*--format-version 3") as err:
        quantize(w, "column", "log")
    assert "\n" not in str(err.value)
    codes, scale = quantize(w, "column", "float16")  # float16 scales still hold it
    assert float(dequantize(codes, scale)[0, 0, 0]) == pytest.approx(1000.0, rel=1e-3)
    # training (QAT) does not sync with the host to check: the weight clips to the grid's top
    top = float(log_scale_table()[-1]) * QMAX
    assert float(fake_quantize(w)[0, 0, 0]) == pytest.approx(top)


def test_version_4_is_the_default_and_has_no_raw_scales():
    model = skewed_bank(channels=NC, hidden=HS)
    data = encode(model, 16, 16, 4)
    assert VERSION == 4 and data[4] == 4
    layout, size = struct.unpack_from("<BI", data, 16)  # straight after the header
    assert len(data) == 16 + 5 + size + 4
    nca = decode(data)
    assert nca.version == 4
    for name, p in model.cell.named_parameters():
        err = (nca.state_dict[name] - p).abs()
        column_max = p.abs().amax(dim=1, keepdim=True) if p.dim() == 3 else p.abs().amax()
        step = (column_max / QMAX * 2 ** (1 / 16)).clamp_min(2.0**-14)  # the grid's floor
        assert torch.all(err <= step * 0.5 + 1e-7)
    assert encode(nca.build(), 16, 16, 4) == data  # re-encoding the decoded weights is stable
    v3 = encode(model, 16, 16, 4, version=3)
    assert len(data) < len(v3) - 4 * PER  # the float16 scales were 2 bytes each


def test_version_4_is_as_exact_as_version_3_on_skewed_weights():
    model = skewed_bank(2, channels=NC, hidden=HS)
    errors = {}
    for version in (2, 3, 4):
        state = decode(encode(model, 16, 16, 4, version=version)).state_dict
        errors[version] = sum(float((state[n] - p).pow(2).sum())
                              for n, p in model.cell.named_parameters())
    assert errors[4] < 0.2 * errors[2] and errors[4] < 1.3 * errors[3]


def test_the_documented_layout_reads_version_4():
    """docs/nca-format.md, version 4, followed step by step."""
    model = skewed_bank(1, channels=NC, hidden=HS)
    data = encode(model, 16, 16, 4)
    _, version, h, w, p, nc, hs, _ = struct.unpack_from("<4sBHHHBHH", data)
    assert version == 4 and zlib.crc32(data[:-4]) == struct.unpack("<I", data[-4:])[0]
    patches, per = -(-h // p) * -(-w // p), 3 * nc + 1 + hs
    layout, size = struct.unpack_from("<BI", data, 16)
    filters = [{"id": lzma.FILTER_LZMA2, "dict_size": 1 << 20}]
    if layout == 1:
        filters = [{"id": lzma.FILTER_DELTA, "dist": 1}, *filters]
    raw = lzma.decompress(data[21 : 21 + size], lzma.FORMAT_RAW, filters=filters)
    assert len(raw) == patches * per + patches * hs * (4 * nc + 1)
    e = np.frombuffer(raw, np.uint8, patches * per).reshape(per, patches).T  # scale j of all
    mantissa = np.array([2.0 ** (j / 16) for j in range(16)], np.float32)
    octave = np.float32(2.0) ** (e.astype(np.int32) // 16 - 14).astype(np.float32)
    scales = octave * mantissa[e % 16]
    s_w1, s_b1, s_w2 = scales[:, : 3 * nc], scales[:, 3 * nc], scales[:, 3 * nc + 1 :]
    _, ours = _parse(data, None)
    assert np.array_equal(ours.scales, e)
    assert_weights_are_codes_times_column_scales(data, ours.codes, s_w1, s_b1, s_w2)


def test_float16_and_log_scales_do_not_convert_into_each_other():
    v4 = encode(skewed_bank(channels=NC, hidden=HS), 16, 16, 4)
    for version in (1, 2, 3):
        with pytest.raises(ValueError, match="log scales.*--format-version " + str(version)) as err:
            transcode(v4, version)
        assert "\n" not in str(err.value)
    v1 = SHIPPED.read_bytes()
    with pytest.raises(ValueError, match="float16 scales.*--format-version 4"):
        transcode(v1, 4)
    assert transcode(v4, 4) == v4
    # the shipped version 1 example still decodes to its PNG
    shipped_png = np.asarray(Image.open(SHIPPED.with_suffix(".decoded.png")).convert("RGB"))
    assert np.array_equal(decode_image(decode(v1)), shipped_png)


def test_corrupted_version_4_files_give_one_line_errors():
    v4 = encode(skewed_bank(channels=NC, hidden=HS), 16, 16, 4)
    patches, weights = 4, 4 * HS * (4 * NC + 1)
    raw = lzma.decompress(v4[21:-4], lzma.FORMAT_RAW,
                          filters=[{"id": lzma.FILTER_LZMA2, "dict_size": 1 << 20}]
                          if v4[16] == 0 else
                          [{"id": lzma.FILTER_DELTA, "dist": 1},
                           {"id": lzma.FILTER_LZMA2, "dict_size": 1 << 20}])
    assert len(raw) == patches * PER + weights

    def with_payload(payload: bytes) -> bytes:
        return with_crc(v4[:16] + struct.pack("<BI", 0, len(payload)) + payload)

    def lzma2(data: bytes) -> bytes:
        return lzma.compress(data, format=lzma.FORMAT_RAW,
                             filters=[{"id": lzma.FILTER_LZMA2, "dict_size": 1 << 20}])

    held = f"does not hold the {patches * PER:,} scales and {weights:,} weights"
    cases = {
        v4[:-1]: "checksum",
        with_crc(v4[:-4] + b"x"): "header implies",
        with_crc(v4[:18]): "header implies",
        with_payload(lzma2(bytes(patches * PER + weights - 1))): held,
        with_payload(lzma2(bytes(weights))): held,  # the weights without the scales
        with_payload(lzma2(bytes(patches * PER + weights + 1))): held,
        with_payload(b"\x05" + bytes(range(256))): "not a valid LZMA2 stream",
    }
    for bad, msg in cases.items():
        with pytest.raises(NCAFormatError, match=msg) as err:
            decode(bad)
        assert "\n" not in str(err.value)
