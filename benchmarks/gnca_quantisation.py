"""What the 8-bit weight round trip costs a grown image: scales per tensor vs per column, and QAT.

For every size, a bank fits ``--n`` held-out 40 px patches (``nca_zoo.data.held_out``) from the
shipped prior at its card's ``fit_lr`` for ``--iterations`` iterations (compress's recipe at a
constant lr), then the same patches are scored as floats, after the 8-bit round trip with one
scale per tensor (``.nca`` versions 1 and 2) and with one per column (version 3, the default);
the file bytes of both versions are those of the bank written as one image.  A second fit of the
same patches turns on quantisation-aware training (straight-through, per-column scales, as
``GNCACompression qat_from``) for the last ``--qat-from`` fraction of the iterations.

    cd benchmarks && OMP_NUM_THREADS=1 python gnca_quantisation.py          # 8 patches, 1000 it.
    cd benchmarks && python gnca_quantisation.py --sizes small --quick      # 2 patches, 20 it.

Last line: ``gain_db_<size>=<per column - per tensor>`` per size.
"""
from __future__ import annotations

import argparse

import torch
from _common import md_table, write_results


def image_psnr(per_patch: torch.Tensor) -> float:
    """PSNR of the patches as one image: from the mean of their MSEs."""
    mse = (255.0**2 / 10 ** (per_patch / 10)).mean()
    return float(10 * torch.log10(255.0**2 / mse))


def fit(size: str, targets: torch.Tensor, iterations: int, qat_from: float | None) -> dict:
    """Fit a bank from the shipped prior; PSNR float / per tensor / per column, file bytes."""
    from nca_zoo._registry import create_model
    from nca_zoo.compression.nca_file import encode
    from nca_zoo.compression.prior import adapt, fit_lr, init_from_prior, load_prior, quantized_psnr
    from nca_zoo.models.gnca import GNCA_SIZES, default_steps

    patch = targets.shape[-1]
    steps = default_steps(patch)
    torch.manual_seed(0)
    bank = create_model(f"gnca_{size}", num_models=len(targets), patch_size=patch, steps=steps)
    prior = load_prior(*GNCA_SIZES[size])
    init_from_prior(bank, prior)
    lr = fit_lr(prior)
    switch = iterations if qat_from is None else round((1 - qat_from) * iterations)
    adapt(bank.train(), targets, switch, lr, steps)
    if switch < iterations:  # the optimiser restarts: Adam's moments are not carried over
        bank.cell.fake_quant = True
        adapt(bank, targets, iterations - switch, lr, steps)
        bank.cell.fake_quant = False
    bank.eval()
    out = {"lr": lr, "iterations": iterations, "qat_from": qat_from}
    for per in ("none", "tensor", "column"):
        out[f"psnr_{per}"] = image_psnr(quantized_psnr(bank, targets, steps, per))
    for version in (2, 3):
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
        print(f"{size}: float {plain['psnr_none']:.2f}, per tensor {plain['psnr_tensor']:.2f}, "
              f"per column {plain['psnr_column']:.2f}, QAT {qat['psnr_column']:.2f} dB",
              flush=True)
    rows = []
    for size, m in per_size.items():
        p, q = m["plain"], m["qat"]
        rows.append([f"GNCA-{size}", f"{p['psnr_none']:.2f}", f"{p['psnr_tensor']:.2f}",
                     f"{p['bytes_v2']:,}", f"{p['psnr_column']:.2f}", f"{p['bytes_v3']:,}",
                     f"{p['psnr_column'] - p['psnr_tensor']:+.2f}",
                     f"{(p['bytes_v3'] / p['bytes_v2'] - 1) * 100:+.1f} %",
                     f"{q['psnr_column']:.2f}"])
    md = ("# GNCA: what 8-bit weights cost, per tensor vs per column scales\n\n"
          f"{n} held-out 40 px patches, fitted from each shipped prior at its `fit_lr` for "
          f"{iterations} iterations (constant lr, {args.threads} thread(s)); PSNR of the "
          "patches as one image. Version 2 files store one float16 scale per tensor, version 3 "
          "(the default) one per column of `w1` and `w2`. QAT: a second fit with "
          f"quantisation-aware training (per-column, straight-through) for the last "
          f"{args.qat_from:.0%} of the iterations. `cd benchmarks && OMP_NUM_THREADS=1 python "
          "gnca_quantisation.py`.\n\n"
          + md_table(["model", "float PSNR", "v2 PSNR", "v2 bytes", "v3 PSNR", "v3 bytes",
                      "v3 - v2", "bytes", "v3 PSNR with QAT"], rows) + "\n")
    settings = {"n_patches": n, "iterations": iterations, "qat_from": args.qat_from,
                "threads": args.threads, "patch": 40}
    write_results("gnca_quantisation", {"settings": settings, "per_size": per_size}, md)
    print(md)
    print(" ".join(f"gain_db_{s}={m['plain']['psnr_column'] - m['plain']['psnr_tensor']:.2f}"
                   for s, m in per_size.items()))


if __name__ == "__main__":
    main()
