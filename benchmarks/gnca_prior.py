"""GNCA prior vs random initialisation: 8-bit PSNR after 1 ... 1000 iterations, held-out patches.

For every GNCA size, one bank of held-out patches (``nca_zoo.data.held_out.held_out_patches``:
photos no prior trains on, resized to 120 px like the quickstart) is trained from random weights
and one per blend weight ``w`` from the shipped ``gnca-<size>-prior`` blended with that random
init (``w * prior + (1 - w) * random``, ``--prior-weights``; 1 = the prior alone), with compress's
recipe (Adam lr 1e-2, final-state loss, normalised gradients) at a constant lr, so the PSNR
at each checkpoint of the one run is that of a shorter run.  PSNR is measured after the 8-bit
weight round trip of the ``.nca`` file.
Encode time: training seconds per patch up to each checkpoint (one CPU thread unless
``--threads``).

    python benchmarks/gnca_prior.py                    # 4 patches x 1000 iterations x 3 sizes
    python benchmarks/gnca_prior.py --quick            # 2 patches x 100 iterations
    python benchmarks/gnca_prior.py --sizes medium --update-cards
    python benchmarks/gnca_prior.py --sizes large --prior-weights 1 0.5   # blends vs random

Results of sizes not rerun are kept from ``results/gnca_prior.json`` (each size records its own
settings, so a size can be rerun alone, e.g. with more patches).
``--update-cards`` writes each size's measured block into its shipped prior's ``card.json``.
Last line: ``gain_db_at_100=<x> gain_db_at_1000=<y>`` (the smallest gain over the sizes).
"""
from __future__ import annotations

import argparse
import json

import torch
from _common import RESULTS, md_table, write_results

from nca_zoo.compression.prior import DEFAULT_PRIOR_WEIGHT

CHECKPOINTS = (1, 10, 50, 100, 300, 1000)


def measure(size: str, n: int, at: list[int], seed: int, weights: list[float]) -> dict:
    """Random vs the prior blended by each of ``weights`` on ``n`` held-out patches.

    One random run, one prior run per weight; the first weight's numbers are the block's
    ``psnr_prior`` / ``gain_db`` / ``wilcoxon_p``, the others go under ``other_weights``.
    """
    from nca_zoo.compression.prior import load_prior, psnr_curve
    from nca_zoo.data.held_out import held_out_patches
    from nca_zoo.models.gnca import GNCA_SIZES

    targets = held_out_patches(n)
    prior = load_prior(*GNCA_SIZES[size])
    random = psnr_curve(targets, size, "random", at, seed=seed)
    blocks = []
    for w in weights:
        run = psnr_curve(targets, size, "prior", at, prior=prior, seed=seed, prior_weight=w)
        blocks.append({
            "psnr_prior": run["psnr"],
            "gain_db": {i: run["psnr"][i] - random["psnr"][i] for i in at},
            "wilcoxon_p": {i: paired_p(run["psnr_per_patch"][i], random["psnr_per_patch"][i])
                           for i in at},
            "per_patch_prior": run["psnr_per_patch"],
            "seconds_per_patch_prior": {i: run["seconds"][i] / n for i in at}})
    first = blocks[0]
    return {"n_patches": n, "at": at, "psnr_random": random["psnr"],
            "psnr_prior": first["psnr_prior"], "gain_db": first["gain_db"],
            "wilcoxon_p": first["wilcoxon_p"],
            "per_patch": {"random": random["psnr_per_patch"], "prior": first["per_patch_prior"]},
            "seconds_per_patch": {"random": {i: random["seconds"][i] / n for i in at},
                                  "prior": first["seconds_per_patch_prior"]},
            "other_weights": {str(w): b for w, b in zip(weights[1:], blocks[1:])},
            "prior_card": {k: prior.card.get(k) for k in ("name", "recipe_config", "meta_steps")}}


def paired_p(prior: list, random: list) -> float:
    """Two-sided paired Wilcoxon signed-rank p of prior vs random PSNR over the same patches."""
    from scipy import stats

    diff = [a - b for a, b in zip(prior, random)]
    return float("nan") if all(d == 0 for d in diff) else float(stats.wilcoxon(diff).pvalue)


def update_card(size: str, block: dict, settings: dict) -> None:
    """Write the measured block into the shipped prior's card (atomic)."""
    from nca_zoo._pretrained import SHIPPED
    from nca_zoo.compression.prior import PRIOR_NAMES
    from nca_zoo.layers import atomic_path

    path = SHIPPED / PRIOR_NAMES[size] / "card.json"
    card = json.loads(path.read_text())
    card["held_out_gain"] = {"settings": settings, "measured_by": "benchmarks/gnca_prior.py",
                             **{k: block[k] for k in ("n_patches", "psnr_random", "psnr_prior",
                                                      "gain_db", "wilcoxon_p",
                                                      "seconds_per_patch") if k in block}}
    with atomic_path(path) as tmp:
        tmp.write_text(json.dumps(card, indent=2, sort_keys=True))


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
                "lr": 1e-2, "threads": args.threads, "prior_weight": args.prior_weights[0]}

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
                rows.append([f"GNCA-{s}", b["n_patches"], w, int(k),
                             f"{b['psnr_random'][k]:.2f}", f"{o['psnr_prior'][k]:.2f}",
                             f"{o['gain_db'][k]:+.2f}",
                             f"{o['wilcoxon_p'][k]:.3g}" if "wilcoxon_p" in o else "-",
                             f"{b['seconds_per_patch']['random'][k]:.1f}",
                             f"{o['seconds_per_patch']['prior'][k]:.1f}"])
    md = ("# GNCA: meta-learned prior vs random initialisation\n\n"
          "Held-out patches (40 px, photos resized to 120 px, "
          "`nca_zoo.data.held_out.held_out_patches`), PSNR after 8-bit quantisation, compress's "
          "recipe at a constant lr 1e-2. Prior: every NCA starts from w * prior + (1 - w) * the "
          "random init of the random run (shrink and perturb; w = 1: the prior alone). One run "
          "per init and size, read at each iteration count; p: two-sided paired Wilcoxon "
          "signed-rank test over the patches (n patches: p >= 2 / 2^n, so 4 patches cannot reach "
          "0.05). Encode time: training seconds per patch (one CPU thread, shared machine). "
          "`python benchmarks/gnca_prior.py` (settings per size in gnca_prior.json).\n\n"
          + md_table(["model", "patches", "prior weight w", "iterations", "PSNR random",
                      "PSNR prior", "gain dB", "p", "s / patch random", "s / patch prior"], rows)
          + "\n")
    write_results("gnca_prior", {"per_size": per_size}, md)
    print(md)

    def worst(i: int) -> str:  # the smallest gain over the sizes measured at i iterations
        gains = [per_size[s]["gain_db"][str(i)] for s in sizes if str(i) in per_size[s]["gain_db"]]
        return f"{min(gains):.2f}" if gains else "nan"

    print(f"gain_db_at_100={worst(100)} gain_db_at_1000={worst(1000)}")


if __name__ == "__main__":
    main()
