"""GNCA prior vs random initialisation: 8-bit PSNR after 1 ... 1000 iterations, held-out patches.

For every GNCA size, one bank of held-out patches (``nca_zoo.data.held_out.held_out_patches``:
photos no prior trains on, resized to 120 px like the quickstart) is trained from random weights
and one per blend weight ``w`` from the shipped ``gnca-<size>-prior`` blended with that random
init (``w * prior + (1 - w) * random``, ``--prior-weights``; 1 = the prior alone), with compress's
recipe (Adam, final-state loss, normalised gradients) at a constant lr, so the PSNR at each
checkpoint of the one run is that of a shorter run.  Each init fits at compress's default lr:
1e-2 from random weights, the prior's ``fit_lr`` (its card; ``benchmarks/gnca/gnca_prior_lr.py``
selects it on meta-validation crops, never on these held-out patches) from the prior.
PSNR is measured after the 8-bit weight round trip of the ``.nca`` file.
Encode time: training seconds per patch up to each checkpoint (one CPU thread unless
``--threads``).

    python benchmarks/gnca/gnca_prior.py                    # 4 patches x 1000 iterations x 3 sizes
    python benchmarks/gnca/gnca_prior.py --quick            # 2 patches x 100 iterations
    python benchmarks/gnca/gnca_prior.py --sizes medium --update-cards
    python benchmarks/gnca/gnca_prior.py --sizes large --prior-weights 1 0.5   # blends vs random

Results of sizes not rerun are kept from ``results/gnca_prior.json`` (each size records its own
settings, so a size can be rerun alone, e.g. with more patches).
``--update-cards`` writes each size's measured block into its shipped prior's ``card.json``.
Last line: ``gain_db_at_100=<x> gain_db_at_1000=<y>`` (the smallest gain over the sizes).
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # benchmarks/: _common
from _common import RESULTS, md_table, update_prior_card, write_results

from nca_zoo.compression.prior import DEFAULT_PRIOR_WEIGHT, RANDOM_FIT_LR

CHECKPOINTS = (1, 10, 50, 100, 300, 1000)


def measure(size: str, n: int, at: list[int], seed: int, weights: list[float]) -> dict:
    """Random vs the prior blended by each of ``weights`` on ``n`` held-out patches.

    One random run, one prior run per weight; the first weight's numbers are the block's
    ``psnr_prior`` / ``gain_db`` / ``wilcoxon_p``, the others go under ``other_weights``.
    """
    from nca_zoo.compression.prior import fit_lr, load_prior, psnr_curve
    from nca_zoo.data.held_out import held_out_patches
    from nca_zoo.models.gnca import GNCA_SIZES

    targets = held_out_patches(n)
    prior = load_prior(*GNCA_SIZES[size])
    random = psnr_curve(targets, size, "random", at, lr=RANDOM_FIT_LR, seed=seed)
    lr = fit_lr(prior)
    # control: random weights at the prior's lr, so the gain is not just the lr's
    same_lr = random if lr == RANDOM_FIT_LR else psnr_curve(targets, size, "random", at, lr=lr,
                                                             seed=seed)
    blocks = []
    for w in weights:
        run = psnr_curve(targets, size, "prior", at, prior=prior, lr=lr, seed=seed,
                         prior_weight=w)
        blocks.append({
            "psnr_prior": run["psnr"],
            "gain_db": {i: run["psnr"][i] - random["psnr"][i] for i in at},
            "wilcoxon_p": {i: paired_p(run["psnr_per_patch"][i], random["psnr_per_patch"][i])
                           for i in at},
            "per_patch_prior": run["psnr_per_patch"],
            "seconds_per_patch_prior": {i: run["seconds"][i] / n for i in at}})
    first = blocks[0]
    return {"n_patches": n, "at": at, "lr_prior": lr, "psnr_random": random["psnr"],
            "psnr_prior": first["psnr_prior"], "gain_db": first["gain_db"],
            "psnr_random_at_prior_lr": same_lr["psnr"],
            "gain_db_same_lr": {i: first["psnr_prior"][i] - same_lr["psnr"][i] for i in at},
            "wilcoxon_p_same_lr": {i: paired_p(first["per_patch_prior"][i],
                                               same_lr["psnr_per_patch"][i]) for i in at},
            "wilcoxon_p": first["wilcoxon_p"],
            "per_patch": {"random": random["psnr_per_patch"], "prior": first["per_patch_prior"]},
            "seconds_per_patch": {"random": {i: random["seconds"][i] / n for i in at},
                                  "prior": first["seconds_per_patch_prior"]},
            "other_weights": {str(w): b for w, b in zip(weights[1:], blocks[1:])},
            "prior_card": {k: prior.card.get(k) for k in ("name", "recipe_config", "meta_steps")}}


def same_lr_cells(block: dict, blend: dict, k: str) -> list:
    """The control's cells of one table row: random at the prior's lr, gain and p over it."""
    if blend is not block or "psnr_random_at_prior_lr" not in block:
        return ["-", "-", "-"]  # a blend weight's row, or a block measured before the control
    return [f"{block['psnr_random_at_prior_lr'][k]:.2f}", f"{block['gain_db_same_lr'][k]:+.2f}",
            f"{block['wilcoxon_p_same_lr'][k]:.3g}"]


def paired_p(prior: list, random: list) -> float:
    """Two-sided paired Wilcoxon signed-rank p of prior vs random PSNR over the same patches."""
    from scipy import stats

    diff = [a - b for a, b in zip(prior, random)]
    return float("nan") if all(d == 0 for d in diff) else float(stats.wilcoxon(diff).pvalue)


def update_card(size: str, block: dict, settings: dict) -> None:
    """Write the measured block into the shipped prior's card as ``held_out_gain``."""
    keys = ("n_patches", "lr_prior", "psnr_random", "psnr_prior", "psnr_random_at_prior_lr",
            "gain_db_same_lr", "wilcoxon_p_same_lr", "gain_db", "wilcoxon_p", "seconds_per_patch")
    update_prior_card(size, {"held_out_gain": {
        "settings": settings, "measured_by": "benchmarks/gnca/gnca_prior.py",
        **{k: block[k] for k in keys if k in block}}})


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sizes", nargs="+", default=["small", "medium", "large"])
    ap.add_argument("--n", type=int, help="held-out patches (default 4; quick: 2)")
    ap.add_argument("--iterations", type=int, help="last checkpoint (default 1000; quick: 100)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--prior-weights", type=float, nargs="+", default=[DEFAULT_PRIOR_WEIGHT],
                    help="start from w * prior + (1 - w) * random; the first w goes into the "
                         f"cards (compress's default: {DEFAULT_PRIOR_WEIGHT})")
    ap.add_argument("--quick", action="store_true", help="2 patches, up to 100 iterations")
    ap.add_argument("--update-cards", action="store_true",
                    help="write the measured gains into the shipped priors' cards")
    args = ap.parse_args()
    n = args.n or (2 if args.quick else 4)
    last = args.iterations or (100 if args.quick else 1000)
    at = sorted({i for i in CHECKPOINTS if i < last} | {last})
    torch.set_num_threads(args.threads)
    settings = {"n_patches": n, "at": at, "seed": args.seed, "patch": 40, "photo_size": 120,
                "lr_random": RANDOM_FIT_LR, "threads": args.threads,
                "prior_weight": args.prior_weights[0]}

    measured = {}
    for size in args.sizes:
        block = {"settings": settings, **measure(size, n, at, args.seed, args.prior_weights)}
        block = json.loads(json.dumps(block))  # int keys -> str, as read back
        measured[size] = block
        print(f"{size}: " + " ".join(f"{i}:{block['gain_db'][str(i)]:+.2f}" for i in at),
              flush=True)
        if args.update_cards:
            update_card(size, block, settings)
    old = RESULTS / "gnca_prior.json"  # read last: another size may have finished meanwhile
    per_size = json.loads(old.read_text()).get("per_size", {}) if old.is_file() else {}
    per_size.update(measured)

    sizes = [s for s in ("small", "medium", "large") if s in per_size]
    rows = []
    for s in sizes:
        b = per_size[s]
        blends = {b["settings"].get("prior_weight", 1.0): b} | {
            float(w): {**o, "seconds_per_patch": {**b["seconds_per_patch"],
                                                  "prior": o["seconds_per_patch_prior"]}}
            for w, o in b.get("other_weights", {}).items()}
        for w, o in blends.items():
            for k in o["gain_db"]:
                rows.append([f"GNCA-{s}", b["n_patches"], w, f"{b.get('lr_prior', 1e-2):g}",
                             int(k),
                             f"{b['psnr_random'][k]:.2f}", f"{o['psnr_prior'][k]:.2f}",
                             f"{o['gain_db'][k]:+.2f}",
                             f"{o['wilcoxon_p'][k]:.3g}" if "wilcoxon_p" in o else "-",
                             *same_lr_cells(b, o, k),
                             f"{b['seconds_per_patch']['random'][k]:.1f}",
                             f"{o['seconds_per_patch']['prior'][k]:.1f}"])
    md = ("# GNCA: meta-learned prior vs random initialisation\n\n"
          "Held-out patches (40 px, photos resized to 120 px, "
          "`nca_zoo.data.held_out.held_out_patches`), PSNR after 8-bit quantisation, compress's "
          "recipe at a constant lr: 1e-2 from random weights, the prior's card `fit_lr` (chosen "
          "on meta-validation crops of the training photos by `benchmarks/gnca/gnca_prior_lr.py`) "
          "from the prior. Prior: every NCA starts from w * prior + (1 - w) * the "
          "random init of the random run (shrink and perturb; w = 1: the prior alone). One run "
          "per init and size, read at each iteration count; p: two-sided paired Wilcoxon "
          "signed-rank test over the patches (n patches: p >= 2 / 2^n, so 4 patches cannot reach "
          "0.05). *At prior lr*: the control, random weights fitted at the prior's lr, so the "
          "gain over it is the prior's and not the lr's. Encode time: training seconds per patch "
          "(one CPU thread, shared machine). "
          "`python benchmarks/gnca/gnca_prior.py` (settings per size in gnca_prior.json).\n\n"
          + md_table(["model", "patches", "prior weight w", "lr prior", "iterations",
                      "PSNR random", "PSNR prior", "gain dB", "p", "PSNR random at prior lr",
                      "gain at same lr", "p same lr", "s / patch random", "s / patch prior"],
                     rows)
          + "\n")
    write_results("gnca_prior", {"per_size": per_size}, md)
    print(md)

    def worst(i: int, key: str = "gain_db") -> str:  # the smallest gain over the sizes at i
        gains = [per_size[s][key][str(i)] for s in sizes if str(i) in per_size[s].get(key, {})]
        return f"{min(gains):.2f}" if gains else "nan"

    print(f"same_lr_gain_db_at_100={worst(100, 'gain_db_same_lr')} "
          f"same_lr_gain_db_at_1000={worst(1000, 'gain_db_same_lr')}")
    print(f"gain_db_at_100={worst(100)} gain_db_at_1000={worst(1000)}")


if __name__ == "__main__":
    main()
