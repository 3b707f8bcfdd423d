"""Rate-distortion tools for comparing the GNCA codec with JPEG, JPEG-2000 and WebP.

* :func:`codec_curves` -- each codec over a sweep of its quality setting (bpp, PSNR, MS-SSIM, time);
* :func:`pareto` and :func:`bd_metrics` -- Pareto fronts and Bjøntegaard deltas (BD-rate, BD-PSNR)
  between two curves (the ``bjontegaard`` package, pchip);
* :func:`paired_tests` -- Friedman and paired Wilcoxon tests per image, Benjamini-Hochberg adjusted
  (replacing GNCA Table 3's all-pairs Mann-Whitney);
* :func:`write_compressai` -- the curves as CompressAI's JSON files, to plot beside learned codecs;
  :func:`plot_rate_distortion` -- the curves as a figure (matplotlib);
* :func:`v4_coding_bytes` -- what the entropy coder and a prior save on a version 4 ``.nca`` file.

Used by ``benchmarks/gnca/gnca_vs_codecs.py``, ``gnca_patch_sweep.py`` and
``gnca_quantisation.py``.  A curve is a list of points ``{"bpp", "psnr-rgb", ...}``.
"""
from __future__ import annotations

import json
import time
import warnings
from collections import defaultdict
from pathlib import Path

import numpy as np
import torch

from ..models.gnca import GNCA_SIZES
from .codecs import CODECS

#: quality settings of each codec's rate-distortion sweep
CODEC_SWEEPS = {"JPEG": [10, 30, 50, 70, 85, 95, 100], "WebP": [5, 20, 40, 60, 80, 95, 100],
                "JPEG-2000": [100, 50, 25, 12, 8, 5, 3, 2]}
#: the fields of one point of a CompressAI results file
COMPRESSAI_FIELDS = ("psnr-rgb", "ms-ssim-rgb", "bpp", "encoding_time", "decoding_time")


def codec_curves(originals: list[np.ndarray],
                 sweeps: dict[str, list] = CODEC_SWEEPS) -> dict[str, list[dict]]:
    """Each codec over its quality sweep: per setting the mean of :data:`COMPRESSAI_FIELDS`."""
    from . import codecs
    from .metrics import image_quality, ms_ssim

    curves = {}
    for codec, settings in sweeps.items():
        points = []
        for q in settings:
            rec = defaultdict(list)
            for img in originals:
                start = time.perf_counter()
                data = codecs.encode(codec, img, q)
                rec["encoding_time"].append(time.perf_counter() - start)
                start = time.perf_counter()
                decoded = codecs.decode(data)
                rec["decoding_time"].append(time.perf_counter() - start)
                rec["bpp"].append(8 * len(data) / (img.shape[0] * img.shape[1]))
                rec["psnr-rgb"].append(image_quality(img, decoded)["psnr"])
                rec["ms-ssim-rgb"].append(ms_ssim(img, decoded))
            points.append({k: float(np.mean(v)) for k, v in rec.items()})
        curves[codec] = sorted(points, key=lambda p: p["bpp"])
    return curves


def pareto(points: list[dict]) -> tuple[list[float], list[float]]:
    """(bpp, PSNR) of the points no other point beats (more PSNR for no more bits), by rate."""
    rates, psnrs = [], []
    for p in sorted(points, key=lambda p: (p["bpp"], -p["psnr-rgb"])):
        if not psnrs or (p["psnr-rgb"] > psnrs[-1] and p["bpp"] > rates[-1]):
            rates.append(p["bpp"])
            psnrs.append(p["psnr-rgb"])
    return rates, psnrs


def bd_metrics(curve: list[dict], anchor: list[dict]) -> dict:
    """BD-rate (%) and BD-PSNR (dB) of ``curve`` against ``anchor``, or None without overlap.

    Negative BD-rate: ``curve`` needs fewer bits for the same PSNR.  Each curve is reduced to its
    Pareto front (the interpolation needs rate and PSNR both increasing; a larger GNCA that ends
    below a smaller one drops out); computed only on the PSNR (rate) range both curves cover.
    """
    import bjontegaard as bd

    (r1, d1), (r2, d2) = pareto(anchor), pareto(curve)
    out = {"bd_rate": None, "bd_psnr": None}
    if len(r1) < 2 or len(r2) < 2:
        return out
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        if min(max(d1), max(d2)) > max(min(d1), min(d2)):  # PSNR ranges overlap
            out["bd_rate"] = float(bd.bd_rate(r1, d1, r2, d2, method="pchip",
                                              require_matching_points=False))
        if min(max(r1), max(r2)) > max(min(r1), min(r2)):  # rate ranges overlap
            out["bd_psnr"] = float(bd.bd_psnr(r1, d1, r2, d2, method="pchip",
                                              require_matching_points=False))
    return out


def paired_tests(per_image: list[dict], inits: list[str],
                 models: tuple[str, ...] = tuple(GNCA_SIZES)) -> list[dict]:
    """Friedman per GNCA variant (with the codecs at its budget), then Wilcoxon pairs, BH-adjusted.

    ``per_image`` rows are ``{size, image, method, protocol, psnr}``: a GNCA variant
    ``GNCA-<model> (<init>)`` with protocol ``-``, each codec with protocol
    ``matched to <variant>`` (``model`` in ``models``).  Blocks are (image, size); the statistic
    is PSNR.  For each variant: a Friedman test over it and the codecs, paired Wilcoxon
    signed-rank tests against each codec and (for a prior start) against the random start; every
    Wilcoxon p-value is then Benjamini-Hochberg adjusted.  Returns one row per pair.
    """
    from scipy import stats

    by = {(r["size"], r["image"], r["method"], r["protocol"]): r["psnr"] for r in per_image}
    blocks = sorted({(r["size"], r["image"]) for r in per_image})
    rows = []
    for init in inits:
        for model in models:
            name = f"GNCA-{model} ({init})"
            if not any(k[2] == name for k in by):
                continue
            gnca = [by[(s, i, name, "-")] for s, i in blocks]
            matched = {c: [by[(s, i, c, f"matched to {name}")] for s, i in blocks]
                       for c in CODECS}
            friedman = float("nan")
            if len(blocks) >= 2:
                friedman = float(stats.friedmanchisquare(gnca, *matched.values()).pvalue)
            pairs = [(f"{name} vs {c} (its bytes)", gnca, v) for c, v in matched.items()]
            rival = f"GNCA-{model} (random)"
            if init == "prior" and any(k[2] == rival for k in by):
                pairs.append((f"{name} vs {rival}", gnca,
                              [by[(s, i, rival, "-")] for s, i in blocks]))
            for label, a, b in pairs:
                diff = np.array(a) - np.array(b)
                p = float("nan") if np.all(diff == 0) else float(stats.wilcoxon(a, b).pvalue)
                rows.append({"comparison": label, "n": len(blocks),
                             "mean_diff_db": float(diff.mean()), "wilcoxon_p": p,
                             "friedman_p": friedman})
    ps = [r["wilcoxon_p"] for r in rows]
    finite = [i for i, p in enumerate(ps) if np.isfinite(p)]
    if finite:
        adjusted = stats.false_discovery_control([ps[i] for i in finite])
        for i, a in zip(finite, adjusted):
            rows[i]["adjusted_p"] = float(a)
    for r in rows:
        r.setdefault("adjusted_p", float("nan"))
        r["significant"] = bool(r["adjusted_p"] < 0.05)
    return rows


def write_compressai(curves: dict[str, list[dict]], folder: Path, description: str) -> list[Path]:
    """One CompressAI-style JSON file per method in ``folder``; returns their paths.

    Each file is ``{"name", "description", "results": {field: [one value per point]}}`` with the
    fields of :data:`COMPRESSAI_FIELDS`, named after the method (spaces to ``_``, no brackets).
    """
    folder.mkdir(parents=True, exist_ok=True)
    written = []
    for method, points in curves.items():
        payload = {"name": method, "description": description,
                   "results": {k: [p[k] for p in points] for k in COMPRESSAI_FIELDS}}
        path = folder / f"{method.replace(' ', '_').replace('(', '').replace(')', '')}.json"
        path.write_text(json.dumps(payload, indent=2) + "\n")
        written.append(path)
    return written


def plot_rate_distortion(rd: dict[int, dict[str, list[dict]]], path: Path) -> bool:
    """PSNR over bits per pixel, one panel per image size; False when matplotlib is missing."""
    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return False
    fig, axes = plt.subplots(1, len(rd), figsize=(5 * len(rd), 4), squeeze=False)
    for ax, (size, curves) in zip(axes[0], rd.items()):
        for method, pts in curves.items():
            style = dict(marker="*", markersize=11) if method.startswith("GNCA") else \
                dict(marker="o")
            ax.plot([p["bpp"] for p in pts], [p["psnr-rgb"] for p in pts], label=method,
                    **style)
        ax.set(title=f"{size}x{size}", xlabel="bits per pixel", ylabel="PSNR (dB)")
        ax.grid(alpha=0.3)
        ax.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return True


def v4_coding_bytes(bank, prior, steps: int) -> dict:
    """What the entropy coder and the prior save on the version 4 file of ``bank``.

    * ``bytes_v4_uncoded``: the version 4 file with its payload (scale exponents and int8
      codes) stored raw instead of LZMA2-coded -- the same weights, so the same PSNR;
    * ``bytes_v4_delta``: the payload holding each code minus the prior's code at the same
      scale (mod 256, so exact: ``code = delta + round(prior / s)``), plus 8 bytes for a hash
      naming the prior -- again the same weights and PSNR.
    """
    from ..layers.quantize import QMAX, log_scale_exponents, quantize
    from .entropy import compress_codes
    from .nca_file import encode

    cell, models = bank.cell, bank.cell.num_models
    codes, deltas, exponents = [], [], []
    for name in ("w1", "b1", "w2"):
        weight = getattr(cell, name)
        code, scale = quantize(weight, "column", "log")
        step = scale.unsqueeze(1) if scale.dim() == 2 else scale.reshape(-1, 1)
        prior_code = torch.round(getattr(prior.cell, name).detach().float() / step)
        prior_code = prior_code.clamp(-QMAX, QMAX).to(torch.int16)
        delta = (code.to(torch.int16) - prior_code + 128) % 256 - 128
        codes.append(code.flatten(1))
        deltas.append(delta.to(torch.int8).flatten(1))
        exponents.append(log_scale_exponents(scale).reshape(models, -1))
    codes, deltas = torch.cat(codes, 1).numpy(), torch.cat(deltas, 1).numpy()
    exponents = torch.cat(exponents, 1).numpy()
    patch = bank.patch_size
    size = len(encode(bank, patch, patch * models, steps, 4))
    payload = len(compress_codes(codes, cell.channels, cell.hidden, exponents=exponents)[1])
    delta = len(compress_codes(deltas, cell.channels, cell.hidden, exponents=exponents)[1])
    return {"bytes_v4_uncoded": size - payload + codes.size + exponents.size,
            "bytes_v4_delta": size - payload + delta + 8}
