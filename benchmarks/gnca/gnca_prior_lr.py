"""The learning rate to fit from each GNCA prior, chosen on meta-validation crops.

For every size, the shipped ``gnca-<size>-prior`` fits the meta-validation crops of its training
photos (``PriorPatchDataModule(val_patches=n).val_targets``: the embedded photos minus the
held-out ones, at the prior configs' 96 / 160 / 256 px) at each learning rate of
``nca_zoo.compression.prior.FIT_LRS`` with compress's recipe at a constant lr;
``select_fit_lr`` keeps the lr with the best mean 8-bit PSNR over the checkpoints.  The held-out
patches that ``benchmarks/gnca/gnca_prior.py`` reports on are never used here.

    python benchmarks/gnca/gnca_prior_lr.py --update-cards          # 8 crops, 100 / 300 iterations
    python benchmarks/gnca/gnca_prior_lr.py --sizes small --quick   # 2 crops, 20 iterations

``--update-cards`` writes ``fit_lr`` (what compress and ``gnca_prior.py`` then use) and the sweep
into each prior's ``card.json``; run it after ``export_pretrained.py``, which writes a new card.
Last line: ``fit_lr_<size>=<lr>`` per size.

``--prior`` compares candidate priors (``GNCAPrior`` training checkpoints or pretrained folders,
all of one ``--sizes`` size) with the shipped one on the same crops, each at its own best lr: how
a change to meta-training is judged before a prior is shipped.  Results go to
``results/gnca_prior_candidates.{json,md}`` (cards untouched); last line ``best=<source>``.

    python benchmarks/gnca/gnca_prior_lr.py --sizes large --prior runs/prior_large_200/last.ckpt
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # benchmarks/: _common
from _common import RESULTS, md_table, prior_quick_check, update_prior_card, write_results


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
    ap.add_argument("--prior", nargs="+", metavar="SOURCE",
                    help="candidate priors (.ckpt or folder) to compare with the shipped one")
    args = ap.parse_args()
    if args.prior and (len(args.sizes) != 1 or args.update_cards):
        ap.error("--prior compares priors of one --sizes size and never updates cards")
    n = args.n or (2 if args.quick else 8)
    at = args.at or ([20] if args.quick else [100, 300])
    torch.set_num_threads(args.threads)
    targets = PriorPatchDataModule(val_patches=n).val_targets
    settings = {"n_crops": n, "at": at, "lrs": args.lrs, "patch": 40, "threads": args.threads,
                "crops": "PriorPatchDataModule(val_patches=n).val_targets"}

    if args.prior:
        return compare_candidates(args.sizes[0], args.prior, targets, args.lrs, at, settings)
    measured = {}
    for size in args.sizes:
        prior = load_prior(*GNCA_SIZES[size])
        sweep = select_fit_lr(prior, targets, args.lrs, at)
        sweep = json.loads(json.dumps(sweep))  # float / int keys -> str, as read back
        measured[size] = {"settings": settings, **sweep}
        print(f"{size}: fit_lr={sweep['fit_lr']:g}", flush=True)
        if args.update_cards:  # the quick check again, at the new fit_lr, on its patches
            quick = prior.card["quick_check"]
            update_prior_card(size, {
                "fit_lr": sweep["fit_lr"],
                "quick_check": prior_quick_check(prior, size, quick["patch"], prior.automaton.steps,
                                                 sweep["fit_lr"]),
                "fit_lr_sweep": {"settings": settings,
                                 "measured_by": "benchmarks/gnca/gnca_prior_lr.py",
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
          "`python benchmarks/gnca/gnca_prior_lr.py --update-cards`.\n\n"
          + md_table(["model", "crops", "lr"] + [f"PSNR @{i}" for i in at_cols] + [""], rows)
          + "\n")
    write_results("gnca_prior_lr", {"per_size": per_size}, md)
    print(md)
    print(" ".join(f"fit_lr_{s}={b['fit_lr']:g}" for s, b in per_size.items()))


def compare_candidates(size: str, sources: list[str], targets, lrs, at, settings) -> None:
    """Sweep the lr of the shipped prior and of each candidate; rank them by their best lr."""
    from nca_zoo.compression.prior import PRIOR_NAMES, load_prior, select_fit_lr
    from nca_zoo.drivers import load_prior_checkpoint
    from nca_zoo.models.gnca import GNCA_SIZES

    def load(source: str):  # a candidate is a GNCAPrior checkpoint or a pretrained folder
        reader = load_prior_checkpoint if source.endswith(".ckpt") else load_prior
        return reader(*GNCA_SIZES[size], source)

    try:
        priors = {s: load(s) for s in [PRIOR_NAMES[size], *sources]}
    except (OSError, ValueError) as exc:
        raise SystemExit(f"error: {exc}") from None
    measured = {}
    for source, prior in priors.items():
        sweep = json.loads(json.dumps(select_fit_lr(prior, targets, lrs, at)))
        best = sweep["psnr"][str(sweep["fit_lr"])]
        measured[source] = {**sweep, "mean_psnr_at_fit_lr": sum(best.values()) / len(best)}
        print(f"{source}: fit_lr={sweep['fit_lr']:g} "
              f"mean={measured[source]['mean_psnr_at_fit_lr']:.2f} dB", flush=True)
    shipped = measured[PRIOR_NAMES[size]]["mean_psnr_at_fit_lr"]
    rows = [[f"`{source}`", f"{m['fit_lr']:g}"]
            + [f"{m['psnr'][str(m['fit_lr'])][str(i)]:.2f}" for i in at]
            + [f"{m['mean_psnr_at_fit_lr']:.2f}", f"{m['mean_psnr_at_fit_lr'] - shipped:+.2f}"]
            for source, m in measured.items()]
    md = (f"# GNCA-{size}: candidate priors on meta-validation crops\n\n"
          f"{settings['n_crops']} meta-validation crops (never the held-out photos), each prior "
          f"fitted at its best lr of {', '.join(f'{lr:g}' for lr in lrs)} (constant Adam lr, "
          f"compress's recipe), 8-bit PSNR. "
          f"`python benchmarks/gnca/gnca_prior_lr.py --sizes {size} "
          f"--prior {' '.join(sources)}`.\n\n"
          + md_table(["prior", "best lr"] + [f"PSNR @{i}" for i in at]
                     + ["mean", "vs shipped"], rows) + "\n")
    write_results("gnca_prior_candidates", {"size": size, "settings": settings,
                                            "candidates": measured}, md)
    print(md)
    print(f"best={max(measured, key=lambda s: measured[s]['mean_psnr_at_fit_lr'])}")


if __name__ == "__main__":
    main()
