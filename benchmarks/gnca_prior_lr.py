"""Which fitting learning rate keeps a GNCA prior's head start: 8-bit PSNR vs Adam lr, held out.

Adam's first updates move every weight by about ``lr`` whatever its gradient, so the lr that is
right from random weights (compress's 1e-2) may throw a meta-learned start away.  For each GNCA
size and each lr, one bank of held-out patches (``held_out_patches``, as
``benchmarks/gnca_prior.py``) is fitted from the shipped prior and one from random weights, with
compress's recipe at that constant lr; the PSNR after the ``.nca`` file's 8-bit round trip is
read at each checkpoint of the one run.

    python benchmarks/gnca_prior_lr.py --sizes small large --lrs 1e-3 3e-3 1e-2 --iterations 300

Writes ``results/gnca_prior_lr.{json,md}``; last line: ``best=<size>:<init>:<lr>,...`` (the lr
with the highest PSNR at the last checkpoint, per size and init).
"""
from __future__ import annotations

import argparse
import json

import torch
from _common import md_table, write_results

CHECKPOINTS = (10, 50, 100, 300, 1000)


def main() -> None:
    from nca_zoo.compression.prior import load_prior, psnr_curve
    from nca_zoo.data.held_out import held_out_patches
    from nca_zoo.models.gnca import GNCA_SIZES

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sizes", nargs="+", default=["small", "medium", "large"],
                    choices=list(GNCA_SIZES))
    ap.add_argument("--lrs", nargs="+", type=float, default=[1e-3, 3e-3, 1e-2])
    ap.add_argument("--inits", nargs="+", default=["prior", "random"], choices=["prior", "random"])
    ap.add_argument("--n", type=int, default=4, help="held-out patches")
    ap.add_argument("--iterations", type=int, default=300, help="last checkpoint")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--threads", type=int, default=1)
    args = ap.parse_args()
    if args.iterations < 1 or args.n < 1 or min(args.lrs) <= 0:
        ap.error("--iterations, --n and every --lrs value must be > 0")
    torch.set_num_threads(args.threads)
    at = sorted({i for i in CHECKPOINTS if i < args.iterations} | {args.iterations})
    targets = held_out_patches(args.n)

    runs, rows, best = [], [], []
    for size in args.sizes:
        prior = load_prior(*GNCA_SIZES[size])
        for init in args.inits:
            scores = {}
            for lr in args.lrs:
                curve = psnr_curve(targets, size, init, at, prior=prior, lr=lr, seed=args.seed)
                curve = json.loads(json.dumps(curve))  # int keys -> str, as read back
                runs.append({"size": size, "init": init, "lr": lr, **curve})
                scores[lr] = curve["psnr"][str(at[-1])]
                rows.append([f"GNCA-{size}", init, f"{lr:g}"]
                            + [f"{curve['psnr'][str(i)]:.2f}" for i in at])
                print(rows[-1], flush=True)
            best.append(f"{size}:{init}:{max(scores, key=scores.get):g}")

    md = ("# GNCA: fitting learning rate from the prior vs from random weights\n\n"
          f"{args.n} held-out patches (40 px, `held_out_patches`), PSNR (dB) after 8-bit "
          "quantisation, compress's recipe (Adam, final-state loss, normalised gradients) at a "
          f"constant lr, one run per row read at each iteration count; seed {args.seed}, "
          f"{args.threads} CPU thread(s). `python benchmarks/gnca_prior_lr.py`.\n\n"
          + md_table(["model", "init", "lr"] + [f"{i} it." for i in at], rows) + "\n")
    write_results("gnca_prior_lr", {"settings": vars(args), "at": at, "runs": runs}, md)
    print(md)
    print("best=" + ",".join(best))


if __name__ == "__main__":
    main()
