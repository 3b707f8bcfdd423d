""".nca format version 2 (entropy-coded weights): lossless, smaller, still reads version 1.

Version 3 (one scale per column) is in test_nca_file_v3.py.
"""
import lzma
import struct
import time
import zlib

import numpy as np
import pytest
import torch
from nca_file_helpers import SHIPPED, with_crc
from PIL import Image

from nca_zoo import cli
from nca_zoo.compression import entropy
from nca_zoo.compression.nca_file import (
    _HEADER,
    MAGIC,
    VERSION,
    NCAFormatError,
    _parse,
    decode,
    decode_image,
    encode,
    transcode,
)
from nca_zoo.models.gnca import GNCA


@pytest.fixture(scope="module")
def v1() -> bytes:
    return SHIPPED.read_bytes()


@pytest.fixture(scope="module")
def v2(v1) -> bytes:
    return transcode(v1, 2)


def v2_with_payload(v2: bytes, payload: bytes) -> bytes:
    """``v2`` with its weight payload replaced (valid CRC): only the decoder's checks remain."""
    start = len(v2) - 4 - struct.unpack_from("<I", v2, 16 + 6 * 9 + 1)[0]
    return with_crc(v2[: start - 4] + struct.pack("<I", len(payload)) + payload)


def test_version_2_round_trips_bit_identically(v1, v2):
    assert VERSION == 4 and v1[4] == 1 and v2[4] == 2
    (_, a), (_, b) = _parse(v1, None), _parse(v2, None)
    assert a.fields == b.fields
    assert np.array_equal(a.codes, b.codes) and a.codes.dtype == b.codes.dtype == np.int8
    assert a.scales.tobytes() == b.scales.tobytes()
    assert transcode(v2, 1) == v1 and transcode(v2, 2) == v2
    da, db = decode(v1), decode(v2)
    assert (da.version, db.version) == (1, 2)
    for name in ("w1", "b1", "w2"):
        assert torch.equal(da.state_dict[name], db.state_dict[name])
    # what encode writes from the decoded weights is the same file, in either version
    model = db.build()
    assert encode(model, db.height, db.width, db.steps, version=2) == v2
    assert encode(model, db.height, db.width, db.steps, version=1) == v1


def test_header_fields_and_scales_are_kept(v1, v2):
    assert v2[:4] == MAGIC and v2[5:16] == v1[5:16]  # sizes, n_c, h_s, steps
    assert v2[16 : 16 + 6 * 9] == v1[16 : 16 + 6 * 9]  # float16 scales, raw
    nca = decode(v2)
    assert (nca.height, nca.width, nca.patch_size, nca.channels, nca.hidden, nca.steps) == \
        _HEADER.unpack_from(v1)[2:]


def test_shipped_version_1_example_still_decodes_to_its_png(v1, v2):
    shipped_png = np.asarray(Image.open(SHIPPED.with_suffix(".decoded.png")).convert("RGB"))
    assert np.array_equal(decode_image(decode(v1)), shipped_png)
    assert np.array_equal(decode_image(decode(v2)), shipped_png)


def test_version_2_is_at_least_ten_percent_smaller_on_a_trained_bank(v1, v2):
    assert len(v2) <= 0.9 * len(v1)


def test_both_layouts_are_permutations_and_round_trip():
    rng = np.random.default_rng(0)
    for patches, nc, hs in ((1, 4, 1), (3, 5, 7), (9, 16, 32)):
        codes = rng.integers(-127, 128, (patches, hs * (4 * nc + 1))).astype(np.int8)
        assert sorted(np.concatenate(entropy.sections(nc, hs))) == list(range(codes.shape[1]))
        for layout in entropy.LAYOUTS:
            flat = entropy.layer_major(codes, nc, hs, layout)
            assert np.array_equal(entropy.patch_major(flat, patches, nc, hs, layout), codes)
            lay, payload = entropy.compress_codes(codes, nc, hs, layout)
            assert lay == layout
            back = entropy.decompress_codes(payload, layout, patches, nc, hs)
            assert np.array_equal(back, codes)


def test_encoder_picks_the_cross_patch_layout_for_a_shared_start():
    """Patches that started from one NCA (a prior) have correlated weights: layout 1 wins."""
    rng = np.random.default_rng(0)
    nc, hs, patches = 16, 32, 16
    shared = rng.normal(0, 30, hs * (4 * nc + 1))
    codes = np.clip(np.round(shared + rng.normal(0, 4, (patches, shared.size))), -127, 127)
    codes = codes.astype(np.int8)
    layout, payload = entropy.compress_codes(codes, nc, hs)
    assert layout == 1 and len(payload) < len(entropy.compress_codes(codes, nc, hs, 0)[1])
    independent = np.round(rng.normal(0, 30, codes.shape)).clip(-127, 127).astype(np.int8)
    assert entropy.compress_codes(independent, nc, hs)[0] == 0


def test_untrained_bank_round_trips_in_both_versions():
    torch.manual_seed(0)
    model = GNCA(16, 32, 4, 8, 4)
    for version in (1, 2):
        nca = decode(encode(model, 16, 16, 4, version=version))
        assert nca.version == version
        for name, p in model.cell.named_parameters():
            assert (nca.state_dict[name] - p).abs().max() <= p.abs().max() / 127


def _raw_lzma2(data: bytes) -> bytes:
    return lzma.compress(data, format=lzma.FORMAT_RAW, filters=[
        {"id": lzma.FILTER_LZMA2, "preset": 0, "dict_size": entropy.DICT_SIZE}])


def test_corrupted_version_2_files_give_one_line_errors(v2):
    weights = 9 * 2080
    flipped = bytearray(v2)
    flipped[200] ^= 0x10
    cases = {
        v2[:-1]: "checksum", v2[:100]: "checksum", bytes(flipped): "checksum",
        with_crc(v2[:-4] + b"x"): "header implies",  # one byte after the payload
        with_crc(v2[:-104]): "header implies",  # payload cut short, byte count kept
        with_crc(v2[: 16 + 54 + 3]): "header implies",  # not even the byte count
        with_crc(v2[:70] + b"\x07" + v2[71:-4]): "unknown weight layout 7",
        with_crc(v2[:4] + b"\x09" + v2[5:-4]): r"version 9 \(this build reads 1, 2, 3, 4 and 5\)",
        v2_with_payload(v2, b""): "not a valid LZMA2 stream|does not hold",
        v2_with_payload(v2, b"\x05" + bytes(range(256))): "not a valid LZMA2 stream",
        v2_with_payload(v2, _raw_lzma2(bytes(weights - 1))): "does not hold the 18,720",
        v2_with_payload(v2, _raw_lzma2(bytes(weights + 1))): "does not hold the 18,720",
        v2_with_payload(v2, _raw_lzma2(bytes(weights)) + b"\0"): "does not hold the 18,720",
    }
    payload = v2[16 + 54 + 5 : -4]
    for i in (0, 1, len(payload) // 2, len(payload) - 2):  # bytes changed, CRC made valid
        bad = bytearray(payload)
        bad[i] ^= 0xFF
        cases[v2_with_payload(v2, bytes(bad))] = "corrupted .nca file"
    for bad, msg in cases.items():
        with pytest.raises(NCAFormatError, match=msg) as err:
            decode(bad)
        assert "\n" not in str(err.value)


def test_decompression_bomb_stops_at_the_weights_the_header_implies(v2):
    bomb = v2_with_payload(v2, _raw_lzma2(bytes(32 * 2**20)))  # 32 MB of zeros in ~5 kB
    assert len(bomb) < 20_000
    start = time.perf_counter()
    with pytest.raises(NCAFormatError, match="does not hold"):
        decode(bomb)
    assert time.perf_counter() - start < 2.0


def test_limits_are_checked_before_the_payload_is_decoded(v2):
    absurd = _HEADER.pack(MAGIC, 2, 8, 8, 8, 4, 1, 65535)  # one 8 px patch, 65535 steps
    body = absurd + bytes(6) + struct.pack("<BI", 0, 3) + b"bad"
    with pytest.raises(NCAFormatError, match="limit on growth steps"):
        decode(with_crc(body))
    with pytest.raises(NCAFormatError, match="not a valid LZMA2 stream|does not hold"):
        decode(with_crc(body), limits=None)


def test_encode_refuses_unknown_versions():
    with pytest.raises(ValueError, match="unknown .nca format version 5"):
        encode(GNCA(16, 32, 1, 8, 4), 8, 8, 4, version=5)


def test_cli_decompresses_version_2_and_refuses_unknown_format_versions(v2, tmp_path, capsys):
    nca, png = tmp_path / "astronaut.nca", tmp_path / "astronaut.png"
    nca.write_bytes(v2)
    assert cli.run("decompress", [str(nca), "-o", str(png), "--quiet"]) == 0
    shipped_png = Image.open(SHIPPED.with_suffix(".decoded.png")).convert("RGB")
    assert np.array_equal(np.asarray(Image.open(png).convert("RGB")), np.asarray(shipped_png))
    capsys.readouterr()
    argv = ["embedded:astronaut", "-o", str(tmp_path / "x.nca"), "--format-version", "5"]
    assert cli.run("compress", argv) == 2
    err = capsys.readouterr().err.strip()
    assert "\n" not in err and err.startswith("error:") and "invalid choice: 5" in err
    assert not (tmp_path / "x.nca").exists()


def _documented_decode(data: bytes) -> tuple[np.ndarray, np.ndarray]:
    """docs/nca-format.md, version 2, followed step by step: (scales, v1-order codes)."""
    _, version, h, w, p, nc, hs, _ = struct.unpack_from("<4sBHHHBHH", data)
    assert version == 2 and zlib.crc32(data[:-4]) == struct.unpack("<I", data[-4:])[0]
    patches, n = -(-h // p) * -(-w // p), hs * (4 * nc + 1)
    scales = np.frombuffer(data, "<f2", 3 * patches, 16).reshape(patches, 3)
    layout, size = struct.unpack_from("<BI", data, 16 + 6 * patches)
    filters = [{"id": lzma.FILTER_LZMA2, "dict_size": 1 << 20}]
    if layout == 1:
        filters = [{"id": lzma.FILTER_DELTA, "dist": 1}, *filters]
    start = 16 + 6 * patches + 5
    d = np.frombuffer(lzma.decompress(data[start : start + size], lzma.FORMAT_RAW,
                                      filters=filters), np.int8)
    assert d.size == n * patches
    w1 = np.empty((patches, hs, 3 * nc), np.int8)
    b1 = np.empty((patches, hs), np.int8)
    w2 = np.empty((patches, nc, hs), np.int8)
    views = [(w1, np.s_[:, :, :nc]), (w1, np.s_[:, :, nc:]), (b1, np.s_[:, :]),
             (w2, np.s_[:, :3, :]), (w2, np.s_[:, 3:, :])]
    for tensor, where in views:
        shape = tensor[where].shape
        m = int(np.prod(shape[1:]))
        part, d = d[: patches * m], d[patches * m :]
        part = part.reshape(m, patches).T if layout == 1 else part.reshape(patches, m)
        tensor[where] = part.reshape(shape)
    return scales, np.concatenate([w1.reshape(patches, -1), b1, w2.reshape(patches, -1)], 1)


def test_the_documented_recipe_decodes_both_layouts(v1, v2):
    _, bank = _parse(v1, None)
    rng = np.random.default_rng(1)
    shared = rng.normal(0, 30, bank.codes.shape[1])  # patches sharing one start: layout 1
    correlated = np.clip(np.round(shared + rng.normal(0, 4, bank.codes.shape)), -127, 127)
    body = v1[: 16 + 54] + correlated.astype(np.int8).tobytes()
    files = {0: v2, 1: transcode(with_crc(body), 2)}
    for layout, data in files.items():
        assert data[16 + 54] == layout
        scales, codes = _documented_decode(data)
        _, ours = _parse(data, None)
        assert np.array_equal(codes, ours.codes) and scales.tobytes() == ours.scales.tobytes()
