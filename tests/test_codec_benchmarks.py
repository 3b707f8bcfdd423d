"""The statistics and file layouts of the GNCA codec benchmarks (``benchmarks/gnca_*.py``).

The benchmarks publish BD-rates, significance tests and CompressAI-style curves; these tests pin
what those helpers compute on inputs whose answer is known.
"""
import json
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

BENCHMARKS = Path(__file__).resolve().parents[1] / "benchmarks"
sys.path.insert(0, str(BENCHMARKS))
import _common  # noqa: E402
import gnca_patch_sweep  # noqa: E402
import gnca_quantisation  # noqa: E402
import gnca_vs_codecs  # noqa: E402


def curve(rates, psnrs):
    return [{"bpp": r, "psnr-rgb": p} for r, p in zip(rates, psnrs)]


def test_pareto_keeps_only_points_that_buy_psnr_with_bits():
    pts = curve([1, 2, 3, 4, 2.5], [20, 25, 24, 30, 26])
    assert gnca_vs_codecs.pareto(pts) == ([1, 2, 2.5, 4], [20, 25, 26, 30])


def test_bd_rate_of_a_curve_needing_twice_the_bits_is_plus_100_percent():
    rates = np.array([0.5, 1.0, 2.0, 4.0])
    psnr = 25 + 6 * np.log2(rates)
    anchor = curve(rates, psnr)
    same = gnca_vs_codecs.bd_metrics(curve(rates, psnr), anchor)
    assert same["bd_rate"] == pytest.approx(0, abs=1e-6)
    assert same["bd_psnr"] == pytest.approx(0, abs=1e-6)
    double = gnca_vs_codecs.bd_metrics(curve(2 * rates, psnr), anchor)
    assert double["bd_rate"] == pytest.approx(100, abs=0.5)
    assert double["bd_psnr"] == pytest.approx(-6, abs=0.1)  # 6 dB per octave of rate


def test_bd_metrics_say_none_where_the_curves_do_not_overlap():
    anchor = curve([1, 2, 4], [40, 45, 50])
    far = gnca_vs_codecs.bd_metrics(curve([8, 16, 32], [20, 22, 24]), anchor)
    assert far == {"bd_rate": None, "bd_psnr": None}
    single = gnca_vs_codecs.bd_metrics(curve([1], [40]), anchor)
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
    rows = gnca_vs_codecs.paired_tests(synthetic_rows(gap=10), ["prior"])
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
    rows = gnca_vs_codecs.paired_tests(synthetic_rows(gap=-0.5), ["prior"])
    codec = [r for r in rows if "its bytes" in r["comparison"]]
    assert not any(r["significant"] for r in codec)  # within +-0.5 dB: no consistent sign


def test_compressai_files_have_the_layout_learned_codecs_use(tmp_path, monkeypatch):
    monkeypatch.setattr(gnca_vs_codecs, "RESULTS", tmp_path)
    point = {"psnr-rgb": 30.0, "ms-ssim-rgb": 0.9, "bpp": 1.5, "encoding_time": 2.0,
             "decoding_time": 0.1}
    files = gnca_vs_codecs.write_compressai({"GNCA (prior)": [point, point]}, 40, "desc", "x")
    assert files == ["compressai/x/40px/GNCA_prior.json"]
    data = json.loads((tmp_path / files[0]).read_text())
    assert data["name"] == "GNCA (prior)" and data["description"] == "desc"
    assert set(data["results"]) == {"psnr-rgb", "ms-ssim-rgb", "bpp", "encoding_time",
                                    "decoding_time"}
    assert data["results"]["bpp"] == [1.5, 1.5]


def test_v4_coding_bytes_count_the_raw_payload_and_code_deltas_exactly():
    from nca_zoo.compression.nca_file import encode, scales_per_patch
    from nca_zoo.compression.prior import bank_like
    from nca_zoo.models.gnca import GNCA

    torch.manual_seed(0)
    prior = GNCA(8, 12, 1, 10, 12)
    bank = bank_like(prior, 3, 10, 12)
    sizes = gnca_quantisation.v4_coding_bytes(bank, prior, 12)
    per_patch = scales_per_patch(4, 8, 12) + 12 * (4 * 8 + 1)
    assert sizes["bytes_v4_uncoded"] == 16 + 5 + 3 * per_patch + 4  # header, payload head, CRC
    # a bank that is the prior: every delta is 0, so the delta payload is tiny
    assert sizes["bytes_v4_delta"] < 0.5 * len(encode(bank, 10, 30, 12, 4))
    with torch.no_grad():
        bank.cell.w1.add_(0.05 * torch.randn_like(bank.cell.w1))
    moved = gnca_quantisation.v4_coding_bytes(bank, prior, 12)
    assert moved["bytes_v4_delta"] > sizes["bytes_v4_delta"]


def test_patch_sweep_smoke_run_writes_curves_per_iteration_count(tmp_path, monkeypatch):
    for module in (_common, gnca_vs_codecs, gnca_patch_sweep):
        monkeypatch.setattr(module, "RESULTS", tmp_path)
    gnca_patch_sweep.main(["--n", "1", "--side", "40", "--patches", "20", "40",
                           "--iterations", "1", "2", "--out", "smoke"])
    data = json.loads((tmp_path / "smoke.json").read_text())
    curves = {k: v for k, v in data["curves"].items() if k.startswith("GNCA")}
    assert set(curves) == {"GNCA-medium 1it", "GNCA-medium 2it"}
    for points in curves.values():
        assert [p["patch"] for p in points] == [40, 20]  # by rate: more NCAs, more bits
        assert [p["nca_per_image"] for p in points] == [1, 4]
        assert points[0]["bpp"] < points[1]["bpp"]
    assert (tmp_path / "compressai" / "smoke" / "40px" / "GNCA-medium_2it.json").is_file()
    assert len(data["bd"]) == 2 * 3
