"""What the 8-bit weight round trip costs a grown image: scales per tensor vs per column, and QAT.

For every size, a bank fits ``--n`` held-out 40 px patches (``nca_zoo.data.held_out``) from the
shipped prior at its card's ``fit_lr`` for ``--iterations`` iterations (compress's recipe at a
constant lr), then the same patches are scored as floats and after the 8-bit round trip of each
``.nca`` version: one float16 scale per tensor (versions 1 and 2), one float16 scale per column
(version 3), one entropy-coded one-byte scale per column (version 4, the default); the file
bytes are those of the bank written as one image in that version.  A second fit of the
same patches turns on quantisation-aware training (straight-through, per-column scales) for the
last ``--qat-from`` fraction of the iterations (0.25: as ``GNCACompression(qat_from=0.75)``, whose
``qat_from`` counts the iterations *before* the switch).

    OMP_NUM_THREADS=1 python benchmarks/gnca/gnca_quantisation.py          # 8 patches, 1000 it.
    python benchmarks/gnca/gnca_quantisation.py --sizes small --quick      # 2 patches, 20 it.

Last line: ``bytes_v4_vs_v3_<size>=<ratio> bytes_v4_vs_uncoded_<size>=<ratio>`` per size.
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # benchmarks/: _common
from _common import image_psnr, md_table, write_results

VERSIONS = (2, 3, 4)  # version 1 holds the same weights as 2, raw
#: code ranges of version 4 measured (``--code-max``; 127: one full byte per weight)
CODE_MAXES = (127, 95, 63, 47, 31)


def fit(size: str, targets: torch.Tensor, iterations: int, qat_from: float | None) -> dict:
    """Fit a bank from the shipped prior; PSNR float / per tensor / per column, file bytes."""
    from nca_zoo._registry import create_model
    from nca_zoo.compression.nca_file import encode, grouping, scale_format
    from nca_zoo.compression.prior import adapt, fit_lr, init_from_prior, load_prior, quantized_psnr
    from nca_zoo.compression.rate_distortion import v4_coding_bytes
    from nca_zoo.models.gnca import GNCA_SIZES, default_growth_steps

    patch = targets.shape[-1]
    steps = default_growth_steps(patch)
    torch.manual_seed(0)
    bank = create_model(f"gnca_{size}", num_models=len(targets), patch_size=patch, steps=steps)
    prior = load_prior(*GNCA_SIZES[size])
    init_from_prior(bank, prior)
    lr = fit_lr(prior)
    switch = iterations if qat_from is None else round((1 - qat_from) * iterations)

    def start_qat(b, i: int) -> None:  # one optimiser throughout: Adam's moments carry over
        b.cell.fake_quant = True

    adapt(bank.train(), targets, iterations, lr, steps,
          at=[switch] if switch < iterations else [], callback=start_qat)
    bank.cell.fake_quant = False
    bank.eval()
    out = {"lr": lr, "iterations": iterations, "qat_from": qat_from}
    out.update(v4_coding_bytes(bank, prior, steps))
    if qat_from is None:  # version 4 at smaller code ranges: the same fitted weights
        out["code_max"] = {m: {"psnr": image_psnr(quantized_psnr(bank, targets, steps,
                                                                 code_max=m)),
                               "bytes": len(encode(bank, patch, patch * len(targets), steps, 4,
                                                   code_max=m))} for m in CODE_MAXES}
    out["psnr_none"] = image_psnr(quantized_psnr(bank, targets, steps, "none"))
    for version in VERSIONS:
        out[f"psnr_v{version}"] = image_psnr(quantized_psnr(bank, targets, steps,
                                                            grouping(version),
                                                            scale_format(version)))
        out[f"bytes_v{version}"] = len(encode(bank, patch, patch * len(targets), steps, version))
    return out


def main() -> None:
    from nca_zoo.data.held_out import held_out_patches

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sizes", nargs="+", default=["small", "medium", "large"])
    ap.add_argument("--n", type=int, help="held-out patches (default 8; quick: 2)")
    ap.add_argument("--iterations", type=int, help="fitting iterations (default 1000; quick: 20)")
    ap.add_argument("--qat-from", type=float, default=0.25,
                    help="fraction of the iterations, at the end, with QAT (default 0.25)")
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--quick", action="store_true", help="2 patches, 20 iterations")
    args = ap.parse_args()
    if not 0 < args.qat_from < 1:
        ap.error(f"--qat-from must be in (0, 1), got {args.qat_from}")
    n = args.n or (2 if args.quick else 8)
    iterations = args.iterations or (20 if args.quick else 1000)
    torch.set_num_threads(args.threads)
    targets = held_out_patches(n, 40)
    per_size = {}
    for size in args.sizes:
        plain = fit(size, targets, iterations, None)
        qat = fit(size, targets, iterations, args.qat_from)
        per_size[size] = {"plain": plain, "qat": qat}
        print(f"{size}: float {plain['psnr_none']:.2f}, "
              + ", ".join(f"v{v} {plain[f'psnr_v{v}']:.2f} dB {plain[f'bytes_v{v}']:,} B"
                          for v in VERSIONS)
              + f", v4 with QAT {qat['psnr_v4']:.2f} dB", flush=True)
    rows = []
    for size, m in per_size.items():
        p, q = m["plain"], m["qat"]
        rows.append([f"GNCA-{size}", f"{p['psnr_none']:.2f}"]
                    + [x for v in VERSIONS for x in (f"{p[f'psnr_v{v}']:.2f}",
                                                     f"{p[f'bytes_v{v}']:,}")]
                    + [f"{(p['bytes_v4'] / p['bytes_v3'] - 1) * 100:+.1f} %",
                       f"{(p['bytes_v4'] / p['bytes_v2'] - 1) * 100:+.1f} %",
                       f"{p['bytes_v4_uncoded']:,}",
                       f"{(p['bytes_v4'] / p['bytes_v4_uncoded'] - 1) * 100:+.1f} %",
                       f"{p['bytes_v4_delta']:,}",
                       f"{(p['bytes_v4_delta'] / p['bytes_v4'] - 1) * 100:+.1f} %",
                       f"{q['psnr_v4']:.2f}", f"{q['psnr_v4'] - p['psnr_v4']:+.2f}"])
    md = ("# GNCA: what 8-bit weights cost, per tensor vs per column scales\n\n"
          f"{n} held-out 40 px patches, fitted from each shipped prior at its `fit_lr` for "
          f"{iterations} iterations (constant lr, {args.threads} thread(s)); PSNR of the "
          "patches as one image after each `.nca` version's round trip, and its file bytes. "
          "v2: one float16 scale per tensor; v3: one float16 scale per column of `w1` and `w2`; "
          "v4 (the default): one per column, stored as an entropy-coded one-byte exponent. "
          "Uncoded: the v4 file with its payload (scale exponents, int8 codes) stored raw, "
          "so the entropy coder's saving at identical PSNR; deltas from prior: the payload "
          "holding each code minus the prior's code at the same scale (exact, identical PSNR), "
          "plus 8 bytes naming the prior. "
          "QAT: a second fit of the same patches, the same optimiser throughout, with "
          "quantisation-aware training (v4's round trip, straight-through) for the last "
          f"{args.qat_from:.0%} of the iterations. "
          "`OMP_NUM_THREADS=1 python benchmarks/gnca/gnca_quantisation.py`.\n\n"
          + md_table(["model", "float PSNR"]
                     + [x for v in VERSIONS for x in (f"v{v} PSNR", f"v{v} bytes")]
                     + ["v4 bytes vs v3", "v4 bytes vs v2", "v4 uncoded bytes",
                        "v4 vs uncoded", "v4 deltas from prior bytes", "deltas vs v4",
                        "v4 PSNR with QAT", "QAT gain dB"], rows) + "\n")
    ranges = md_table(["model"] + [f"±{m}" for m in CODE_MAXES],
                      [[f"GNCA-{size}"] + [
                          f"{c[m]['psnr']:.2f} dB, {c[m]['bytes']:,} B "
                          f"({(c[m]['bytes'] / c[127]['bytes'] - 1) * 100:+.1f} %)"
                          for m in CODE_MAXES]
                       for size, c in ((k, v["plain"]["code_max"]) for k, v in per_size.items())])
    md += ("\n## Version 4 with smaller code ranges (`--code-max N`: codes in [-N, N])\n\n"
           "The plain fits above, written with `s >= max|w| / N` per column: PSNR after the round "
           "trip, file bytes and bytes relative to N = 127.\n\n" + ranges + "\n")
    settings = {"n_patches": n, "iterations": iterations, "qat_from": args.qat_from,
                "threads": args.threads, "patch": 40}
    write_results("gnca_quantisation", {"settings": settings, "per_size": per_size}, md)
    print(md)
    ranges_of = {s: m["plain"]["code_max"] for s, m in per_size.items()}
    print(" ".join(f"psnr_{s}_code_max_63_minus_127={c[63]['psnr'] - c[127]['psnr']:.2f} "
                   f"bytes_{s}_code_max_63_vs_127={c[63]['bytes'] / c[127]['bytes']:.3f}"
                   for s, c in ranges_of.items()))
    print(" ".join(f"bytes_v4_vs_v3_{s}={m['plain']['bytes_v4'] / m['plain']['bytes_v3']:.3f} "
                   f"bytes_v4_vs_uncoded_{s}="
                   f"{m['plain']['bytes_v4'] / m['plain']['bytes_v4_uncoded']:.3f}"
                   for s, m in per_size.items()))


if __name__ == "__main__":
    main()
