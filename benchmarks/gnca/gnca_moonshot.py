"""How close GNCA-medium gets to the paper's 40x40 figure in a few CPU-minutes per patch.

The GNCA paper reports 32.58 dB for GNCA-medium on 40x40 px images (Table 2), trained for long
on a GPU from random weights.  Here a bank of ``--n`` held-out 40 px patches
(``nca_zoo.data.held_out``: photos no prior saw) fits from the shipped ``gnca-medium-prior`` at
its card's ``fit_lr``, with compress's schedule (lr / 10 after 75 % of the iterations), for
``--minutes`` CPU-minutes *per patch* (process CPU time; the bank fits its patches in parallel,
so the bank gets ``n x minutes`` of CPU).  The iteration count is planned from a timed
calibration fit; PSNR is measured after the ``.nca`` version 4 round trip (8-bit weights) at ten
points along the way, on the patches as one image (mean MSE) and per patch.  The paper's images
are not ours, so the comparison is of levels, not of the same pictures.

    OMP_NUM_THREADS=1 python benchmarks/gnca/gnca_moonshot.py            # 8 patches x 5 min
    python benchmarks/gnca/gnca_moonshot.py --n 1 --minutes 0.05         # a smoke run

Last line: ``moonshot_db=<x> target_db=32.58 cpu_min_per_patch=<y>``.
"""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # benchmarks/: _common
from _common import image_psnr, md_table, write_results

TARGET_DB = 32.58  # GNCA paper, Table 2: GNCA-medium, 40x40 px
CALIBRATION_ITERATIONS = 10


def fresh_bank(targets: torch.Tensor, steps: int):
    from nca_zoo._registry import create_model
    from nca_zoo.compression.prior import init_from_prior, load_prior
    from nca_zoo.models.gnca import GNCA_SIZES

    torch.manual_seed(0)
    bank = create_model("gnca_medium", num_models=len(targets), patch_size=targets.shape[-1],
                        steps=steps)
    return init_from_prior(bank, load_prior(*GNCA_SIZES["medium"])).train()


def main() -> None:
    from nca_zoo.compression.prior import adapt, fit_lr, load_prior, quantized_psnr
    from nca_zoo.data.held_out import held_out_patches
    from nca_zoo.models.gnca import GNCA_SIZES, default_growth_steps

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=8, help="held-out 40 px patches (default 8)")
    ap.add_argument("--minutes", type=float, default=5.0,
                    help="CPU-minutes per patch (default 5)")
    ap.add_argument("--threads", type=int, default=1)
    args = ap.parse_args()
    if args.n < 1 or args.minutes <= 0:
        ap.error("--n must be >= 1 and --minutes > 0")
    torch.set_num_threads(args.threads)
    targets = held_out_patches(args.n, 40)
    steps = default_growth_steps(40)
    lr = fit_lr(load_prior(*GNCA_SIZES["medium"]))

    start = time.process_time()
    adapt(fresh_bank(targets, steps), targets, CALIBRATION_ITERATIONS, lr, steps)
    per_iteration = (time.process_time() - start) / CALIBRATION_ITERATIONS
    iterations = max(CALIBRATION_ITERATIONS,
                     round(args.minutes * 60 * args.n / per_iteration))
    at = sorted({max(1, round(iterations * k / 10)) for k in range(1, 11)})

    curve, spent = [], {"eval": 0.0}

    def measure(bank, i: int) -> None:
        tick = time.process_time()
        bank.eval()
        per_patch = quantized_psnr(bank, targets, steps)
        bank.train()
        curve.append({"iteration": i, "cpu_s": tick - fit_start - spent["eval"],
                      "psnr": image_psnr(per_patch), "per_patch": per_patch.tolist()})
        spent["eval"] += time.process_time() - tick
        print(f"it {i}: {curve[-1]['psnr']:.2f} dB after "
              f"{curve[-1]['cpu_s'] / 60 / args.n:.2f} CPU-min per patch", flush=True)

    bank = fresh_bank(targets, steps)
    fit_start = time.process_time()
    adapt(bank, targets, iterations, lr, steps, at=at, callback=measure, lr_decay_at=0.75)
    final = curve[-1]
    minutes_per_patch = final["cpu_s"] / 60 / args.n
    rows = [[f"{c['iteration']:,}", f"{c['cpu_s'] / 60 / args.n:.2f}", f"{c['psnr']:.2f}",
             f"{min(c['per_patch']):.2f} .. {max(c['per_patch']):.2f}"] for c in curve]
    md = ("# GNCA moonshot: the paper's 40x40 figure in a few CPU-minutes per patch?\n\n"
          f"GNCA-medium, {args.n} held-out 40 px patches fitted as one bank from the shipped "
          f"prior (lr {lr:g}, / 10 after 75 %), {iterations:,} iterations planned for "
          f"{args.minutes:g} CPU-minutes per patch ({args.threads} thread(s), "
          f"{per_iteration:.3f} CPU-s per bank iteration); PSNR after the `.nca` version 4 "
          f"round trip. Paper (Table 2, GNCA-medium, 40x40, its own images, long GPU training): "
          f"{TARGET_DB} dB. "
          "`OMP_NUM_THREADS=1 python benchmarks/gnca/gnca_moonshot.py`.\n\n"
          + md_table(["iteration", "CPU-min per patch", "PSNR (dB)", "per patch (dB)"], rows)
          + f"\n\nReached {final['psnr']:.2f} dB after {minutes_per_patch:.2f} CPU-minutes per "
          f"patch: {final['psnr'] - TARGET_DB:+.2f} dB from the paper's figure.\n")
    settings = {"n_patches": args.n, "minutes_per_patch": args.minutes, "threads": args.threads,
                "lr": lr, "lr_decay_at": 0.75, "iterations": iterations, "steps": steps,
                "cpu_s_per_iteration": per_iteration, "target_db": TARGET_DB}
    write_results("gnca_moonshot", {"settings": settings, "curve": curve}, md)
    print(md)
    print(f"moonshot_db={final['psnr']:.2f} target_db={TARGET_DB} "
          f"cpu_min_per_patch={minutes_per_patch:.2f}")


if __name__ == "__main__":
    main()
