"""Rate-distortion tools of the GNCA codec benchmarks (:mod:`nca_zoo.compression.rate_distortion`).

The benchmarks publish BD-rates, significance tests, CompressAI-style curves and MS-SSIM; these
tests pin what those helpers compute on inputs whose answer is known.
"""
import json

import numpy as np
import pytest
import torch

from nca_zoo.compression.metrics import ms_ssim, ms_ssim_scales
from nca_zoo.compression.rate_distortion import (
    bd_metrics,
    codec_curves,
    paired_tests,
    pareto,
    v4_coding_bytes,
    write_compressai,
)


def curve(rates, psnrs):
    return [{"bpp": r, "psnr-rgb": p} for r, p in zip(rates, psnrs)]


def test_pareto_keeps_only_points_that_buy_psnr_with_bits():
    pts = curve([1, 2, 3, 4, 2.5], [20, 25, 24, 30, 26])
    assert pareto(pts) == ([1, 2, 2.5, 4], [20, 25, 26, 30])


def test_bd_rate_of_a_curve_needing_twice_the_bits_is_plus_100_percent():
    rates = np.array([0.5, 1.0, 2.0, 4.0])
    psnr = 25 + 6 * np.log2(rates)
    anchor = curve(rates, psnr)
    same = bd_metrics(curve(rates, psnr), anchor)
    assert same["bd_rate"] == pytest.approx(0, abs=1e-6)
    assert same["bd_psnr"] == pytest.approx(0, abs=1e-6)
    double = bd_metrics(curve(2 * rates, psnr), anchor)
    assert double["bd_rate"] == pytest.approx(100, abs=0.5)
    assert double["bd_psnr"] == pytest.approx(-6, abs=0.1)  # 6 dB per octave of rate


def test_bd_metrics_say_none_where_the_curves_do_not_overlap():
    anchor = curve([1, 2, 4], [40, 45, 50])
    far = bd_metrics(curve([8, 16, 32], [20, 22, 24]), anchor)
    assert far == {"bd_rate": None, "bd_psnr": None}
    single = bd_metrics(curve([1], [40]), anchor)
    assert single == {"bd_rate": None, "bd_psnr": None}


def synthetic_rows(gap: float, n_images: int = 6) -> list[dict]:
    """GNCA-medium (prior) ``gap`` dB below each codec (plus per-image noise), random 3 dB lower."""
    rng = np.random.default_rng(0)
    rows = []
    for size in (40, 80):
        for i in range(n_images):
            base = 30 + rng.normal()
            name = "GNCA-medium (prior)"
            rows.append({"size": size, "image": f"im{i}", "method": name, "protocol": "-",
                         "psnr": base})
            rows.append({"size": size, "image": f"im{i}", "method": "GNCA-medium (random)",
                         "protocol": "-", "psnr": base - 3 - rng.random()})
            for codec in ("JPEG", "JPEG-2000", "WebP"):
                rows.append({"size": size, "image": f"im{i}", "method": codec,
                             "protocol": f"matched to {name}",
                             "psnr": base + gap + rng.random()})
    return rows


def test_paired_tests_find_a_consistent_gap_with_twelve_blocks():
    rows = paired_tests(synthetic_rows(gap=10), ["prior"])
    by = {r["comparison"]: r for r in rows}
    assert set(by) == {"GNCA-medium (prior) vs JPEG (its bytes)",
                       "GNCA-medium (prior) vs JPEG-2000 (its bytes)",
                       "GNCA-medium (prior) vs WebP (its bytes)",
                       "GNCA-medium (prior) vs GNCA-medium (random)"}
    for r in rows:
        assert r["n"] == 12 and r["significant"]
        assert r["adjusted_p"] >= r["wilcoxon_p"] and r["friedman_p"] < 0.05
    assert by["GNCA-medium (prior) vs JPEG (its bytes)"]["mean_diff_db"] < -10
    assert by["GNCA-medium (prior) vs GNCA-medium (random)"]["mean_diff_db"] > 3


def test_paired_tests_do_not_call_noise_significant():
    rows = paired_tests(synthetic_rows(gap=-0.5), ["prior"])
    codec = [r for r in rows if "its bytes" in r["comparison"]]
    assert not any(r["significant"] for r in codec)  # within +-0.5 dB: no consistent sign


def test_compressai_files_have_the_layout_learned_codecs_use(tmp_path):
    point = {"psnr-rgb": 30.0, "ms-ssim-rgb": 0.9, "bpp": 1.5, "encoding_time": 2.0,
             "decoding_time": 0.1}
    files = write_compressai({"GNCA (prior)": [point, point]}, tmp_path / "40px", "desc")
    assert files == [tmp_path / "40px" / "GNCA_prior.json"]
    data = json.loads(files[0].read_text())
    assert data["name"] == "GNCA (prior)" and data["description"] == "desc"
    assert set(data["results"]) == {"psnr-rgb", "ms-ssim-rgb", "bpp", "encoding_time",
                                    "decoding_time"}
    assert data["results"]["bpp"] == [1.5, 1.5]


def test_ms_ssim_uses_the_scales_a_small_image_allows():
    assert [ms_ssim_scales(s) for s in (40, 80, 120, 176, 512)] == \
        [(7, 3), (7, 4), (7, 5), (11, 5), (11, 5)]
    rng = np.random.default_rng(0)
    img = rng.integers(0, 256, (40, 40, 3), dtype=np.uint8)
    noisy = np.clip(img + rng.normal(0, 40, img.shape), 0, 255).astype(np.uint8)
    assert ms_ssim(img, img) == pytest.approx(1.0, abs=1e-6)
    assert 0 < ms_ssim(img, noisy) < 0.95


def test_codec_curves_sweep_every_codec_by_rate():
    rng = np.random.default_rng(0)
    img = rng.integers(0, 256, (40, 40, 3), dtype=np.uint8)
    curves = codec_curves([img])
    assert set(curves) == {"JPEG", "JPEG-2000", "WebP"}
    for points in curves.values():
        rates = [p["bpp"] for p in points]
        assert rates == sorted(rates) and rates[0] > 0
        assert set(points[0]) == {"psnr-rgb", "ms-ssim-rgb", "bpp", "encoding_time",
                                  "decoding_time"}


def test_v4_coding_bytes_count_the_raw_payload_and_code_deltas_exactly():
    from nca_zoo.compression.nca_file import encode, scales_per_patch
    from nca_zoo.compression.prior import bank_like
    from nca_zoo.models.gnca import GNCA

    torch.manual_seed(0)
    prior = GNCA(8, 12, 1, 10, 12)
    bank = bank_like(prior, 3, 10, 12)
    sizes = v4_coding_bytes(bank, prior, 12)
    per_patch = scales_per_patch(4, 8, 12) + 12 * (4 * 8 + 1)
    assert sizes["bytes_v4_uncoded"] == 16 + 5 + 3 * per_patch + 4  # header, payload head, CRC
    # a bank that is the prior: every delta is 0, so the delta payload is tiny
    assert sizes["bytes_v4_delta"] < 0.5 * len(encode(bank, 10, 30, 12, 4))
    with torch.no_grad():
        bank.cell.w1.add_(0.05 * torch.randn_like(bank.cell.w1))
    moved = v4_coding_bytes(bank, prior, 12)
    assert moved["bytes_v4_delta"] > sizes["bytes_v4_delta"]
