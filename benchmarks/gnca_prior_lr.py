"""The learning rate to fit from each GNCA prior, chosen on meta-validation crops.

For every size, the shipped ``gnca-<size>-prior`` fits the meta-validation crops of its training
photos (``PriorPatchDataModule(val_patches=n).val_targets``: the embedded photos minus the
held-out ones, at the prior configs' 96 / 160 / 256 px) at each learning rate of
``nca_zoo.compression.prior.FIT_LRS`` with compress's recipe at a constant lr;
``select_fit_lr`` keeps the lr with the best mean 8-bit PSNR over the checkpoints.  The held-out
patches that ``benchmarks/gnca_prior.py`` reports on are never used here.

    python benchmarks/gnca_prior_lr.py --update-cards          # 8 crops, 100 / 300 iterations
    python benchmarks/gnca_prior_lr.py --sizes small --quick   # 2 crops, 20 iterations

``--update-cards`` writes ``fit_lr`` (what compress and ``gnca_prior.py`` then use) and the sweep
into each prior's ``card.json``; run it after ``export_pretrained.py``, which writes a new card.
Last line: ``fit_lr_<size>=<lr>`` per size.
"""
from __future__ import annotations

import argparse
import json

import torch
from _common import RESULTS, md_table, update_prior_card, write_results


def main() -> None:
    from nca_zoo.compression.prior import FIT_LRS, load_prior, select_fit_lr
    from nca_zoo.data import PriorPatchDataModule
    from nca_zoo.models.gnca import GNCA_SIZES

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sizes", nargs="+", default=["small", "medium", "large"])
    ap.add_argument("--n", type=int, help="meta-validation crops (default 8; quick: 2)")
    ap.add_argument("--at", type=int, nargs="+", help="checkpoints scored (default 100 300)")
    ap.add_argument("--lrs", type=float, nargs="+", default=list(FIT_LRS))
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--quick", action="store_true", help="2 crops, 20 iterations")
    ap.add_argument("--update-cards", action="store_true",
                    help="write fit_lr into the shipped priors' cards")
    args = ap.parse_args()
    n = args.n or (2 if args.quick else 8)
    at = args.at or ([20] if args.quick else [100, 300])
    torch.set_num_threads(args.threads)
    targets = PriorPatchDataModule(val_patches=n).val_targets
    settings = {"n_crops": n, "at": at, "lrs": args.lrs, "patch": 40, "threads": args.threads,
                "crops": "PriorPatchDataModule(val_patches=n).val_targets"}

    measured = {}
    for size in args.sizes:
        sweep = select_fit_lr(load_prior(*GNCA_SIZES[size]), targets, args.lrs, at)
        sweep = json.loads(json.dumps(sweep))  # float / int keys -> str, as read back
        measured[size] = {"settings": settings, **sweep}
        print(f"{size}: fit_lr={sweep['fit_lr']:g}", flush=True)
        if args.update_cards:
            update_prior_card(size, {
                "fit_lr": sweep["fit_lr"],
                "fit_lr_sweep": {"settings": settings, "measured_by": "benchmarks/gnca_prior_lr.py",
                                 "psnr": sweep["psnr"]}})
    old = RESULTS / "gnca_prior_lr.json"  # read last: another size may have finished meanwhile
    per_size = json.loads(old.read_text()).get("per_size", {}) if old.is_file() else {}
    per_size.update(measured)

    rows = []
    for size in (s for s in ("small", "medium", "large") if s in per_size):
        block = per_size[size]
        for lr, curve in block["psnr"].items():
            chosen = "**chosen**" if float(lr) == block["fit_lr"] else ""
            rows.append([f"GNCA-{size}", block["settings"]["n_crops"], f"{float(lr):g}"]
                        + [f"{curve[str(i)]:.2f}" for i in block["at"]] + [chosen])
    at_cols = sorted({i for b in per_size.values() for i in b["at"]})
    md = ("# GNCA: learning rate to fit from each prior\n\n"
          "Meta-validation crops of the training photos (40 px, "
          "`PriorPatchDataModule(val_patches=n).val_targets`; never the held-out photos), 8-bit "
          "PSNR of a fit from the shipped prior at a constant Adam lr (compress's recipe); the lr "
          "with the best mean PSNR over the checkpoints becomes the card's `fit_lr`. "
          "`python benchmarks/gnca_prior_lr.py --update-cards`.\n\n"
          + md_table(["model", "crops", "lr"] + [f"PSNR @{i}" for i in at_cols] + [""], rows)
          + "\n")
    write_results("gnca_prior_lr", {"per_size": per_size}, md)
    print(md)
    print(" ".join(f"fit_lr_{s}={b['fit_lr']:g}" for s, b in per_size.items()))


if __name__ == "__main__":
    main()
