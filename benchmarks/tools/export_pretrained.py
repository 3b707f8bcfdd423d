"""Export a trained checkpoint as a shipped pretrained module with a measured card.

    python benchmarks/tools/export_pretrained.py RUN.ckpt --name NAME-denoise \
        --config configs/lnca/lnca_nafca_denoise.yaml --recipe "... the exact fit command ..."

Restoration checkpoints (LNCARestoration, ViTCARestoration; the task is ``blur`` if the name
contains "deblur", else ``noise``) are measured on the held-out photos
(``nca_zoo.restoration.held_out_metrics``: photos no restorer trains on, at 32 / 64 / 128 / 256 px
and full size) and on the photo-level test split of their data (``restoration_metrics``).  A
restorer that fails the shipping rule (``nca_zoo.restoration.ships``: at 64 / 128 / 256 px a
denoiser beats its input and the best classical filter, a deblurrer gains >= 1 dB / 0.02 SSIM and
beats unsharp masking; ``docs/restoration.md``) is refused (exit status 1, nothing written);
diffusion checkpoints
(DiffusionTask, EMA weights) by FID / KID of samples against the test split of their training data,
with the train-vs-test and colour-noise references
(``nca_zoo.diffusion.evaluate.diffusion_metrics``), plus a small ``quick_check`` subset that
``tests/test_pretrained.py`` recomputes.  GNCA priors (GNCAPrior, Reptile) are saved as a bank of
one NCA, with a ``quick_check``: 8-bit PSNR of 2 held-out patches after 1 and 10 iterations from
random weights and from the prior (``_common.prior_quick_check``), which the tests recompute;
``benchmarks/gnca/gnca_prior.py --update-cards`` adds the full held-out gains.  Nothing is typed.
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

import torch
import yaml

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # benchmarks/: _common
import _common  # noqa: F401  (puts the repo on sys.path)

import nca_zoo
from nca_zoo._pretrained import SHIPPED

QUICK_CHECK = {"n": 16, "sampler": "ddim", "steps": 10, "seed": 0}   # recomputed by the tests


def training_budget(checkpoints: list) -> dict | None:
    """The :class:`~nca_zoo.tasks.budget.TrainingBudget` of runs (e.g. LNCA's two phases), summed.

    One run: its budget as is; several: each run's (``runs``) and their sum.
    """
    budgets = [torch.load(c, map_location="cpu", weights_only=False).get("training_budget")
               for c in checkpoints]
    if any(b is None for b in budgets):
        return None
    if len(budgets) == 1:
        return budgets[0]
    total = {k: round(sum(b[k] for b in budgets), 3)
             for k in ("images_seen", "batches", "wall_hours", "cpu_hours", "optimizer_steps")}
    return {**total, "device": budgets[-1]["device"], "runs": budgets}


def restoration_card(ckpt: str, name: str, config: str, ship: bool = True,
                     earlier: tuple = ()) -> tuple:
    """A restorer's card: held-out metrics, the rule's verdict, its data and training budget.

    LNCA, pixel ViTCA and supervised (NAFNet, Restormer) checkpoints.  ``ship=False`` writes a
    module that fails the rule (``"ships": false`` and the failed clauses on its card) for study;
    with ``ship=True`` such a module is refused.  ``earlier``: checkpoints of the runs before
    this one (LNCA's phase 1), whose training budget is added.
    """
    from nca_zoo.data.held_out import HELD_OUT_COLOUR_PHOTOS
    from nca_zoo.drivers import restoration_task_class
    from nca_zoo.restoration import held_out_metrics, is_size_dependent, restoration_metrics
    from nca_zoo.restoration.evaluate import (
        HELD_OUT_SIZES,
        SHIPPING_SIZES,
        classical_held_out,
        rule_failures,
    )
    from nca_zoo.tasks import SupervisedRestoration

    raw = torch.load(ckpt, map_location="cpu", weights_only=False)
    cls = restoration_task_class(raw["hyper_parameters"])  # the file is read once more below
    task = cls.load_from_checkpoint(ckpt, map_location="cpu")
    h = task.hparams
    model_args = {**(h.model_args or {})}
    if cls is not SupervisedRestoration:
        rollout = task.rollout
        model_args = {"steps": rollout.steps, "eval_steps": rollout.eval_steps,
                      "update_rate": rollout.update_rate, **model_args}
    data = raw.get("datamodule_hyper_parameters") or \
        yaml.safe_load(Path(config).read_text())["data"].get("init_args", {})
    data_task = "blur" if "deblur" in name else "noise"
    size = h.get("image_size") or data.get("image_size") or 32
    metrics = restoration_metrics(task.model, task=data_task, image_size=size)
    quick = restoration_metrics(task.model, task=data_task, image_size=size, n=QUICK_CHECK["n"])
    tiled = is_size_dependent(task.model)  # pixel ViTCA: tiles of its training size, as restore
    held = held_out_metrics(task.model, data_task, tile=size if tiled else None,
                            sizes=[s for s in HELD_OUT_SIZES if s != "full" or not tiled])
    failures = rule_failures(held, classical_held_out(data_task), data_task)
    if failures and ship:
        raise SystemExit(f"{name} does not ship (held-out photos, rule of "
                         f"nca_zoo.restoration.ships): {'; '.join(failures)}")
    source = ("the photo corpus (python -m nca_zoo.data.corpus fetch), split by file name"
              if data.get("root") == "corpus" else
              f"photos of {data['root']}" if data.get("root") else
              "embedded scikit-image photo tiles, photo-level split (split_seed 0)")
    paper = ("LNCA (Menta et al., ALIFE 2024)" if cls is not SupervisedRestoration else
             f"{h.model} (a pixel-space baseline of LNCA, Menta et al., ALIFE 2024)")
    card = {"paper": paper, "task": data_task,
            "data": f"{source}; {size}x{size} training crops",
            "metrics_data": f"embedded scikit-image photo tiles, {size}x{size}, photo-level "
                            f"test split (split_seed 0)",
            "training_budget": training_budget([*earlier, ckpt]),
            "held_out": {"photos": list(HELD_OUT_COLOUR_PHOTOS), "rule_sizes": list(SHIPPING_SIZES),
                         "ships": not failures, "rule_failures": failures, **held},
            "metrics": metrics, "quick_check": quick}
    return task.model, h.model, model_args, card, None


def diffusion_card(ckpt: str, config: str) -> tuple:
    from nca_zoo.diffusion.evaluate import diffusion_metrics
    from nca_zoo.diffusion.pretrained import diffusion_config
    from nca_zoo.drivers import load_diffusion_task

    task = load_diffusion_task(ckpt)
    h = task.hparams
    data = yaml.safe_load(Path(config).read_text())["data"]["init_args"]
    data = {k: v for k, v in data.items() if k not in ("batch_size", "num_workers", "limit")}
    metrics = diffusion_metrics(task.eval_model, task.schedule, data, sampler="ddim", steps=25)
    quick = diffusion_metrics(task.eval_model, task.schedule, data, n=QUICK_CHECK["n"],
                              sampler=QUICK_CHECK["sampler"], steps=QUICK_CHECK["steps"],
                              seed=QUICK_CHECK["seed"])
    paper = "Diff-NCA / FourierDiff-NCA (Kalkhof et al., 2024)"
    card = {"paper": paper, "task": "generation (DDPM, EMA weights)", "data_args": data,
            "data": f"{data['images']} ({data['mode']}, {data['size']}px"
                    f"{', scale ' + str(data.get('scale')) if data.get('scale', 1) != 1 else ''}), "
                    f"test split 10% (seed 0)",
            "metrics": metrics, "quick_check": quick}
    model_args = {**(h.model_args or {})}
    return (task.eval_model, h.model, model_args, card,
            diffusion_config(h.schedule, task.sample_size or [data["size"]] * 2))


def prior_card(ckpt: str, config: str) -> tuple:
    from _common import prior_quick_check

    from nca_zoo.compression.prior import fit_lr
    from nca_zoo.tasks import GNCAPrior

    raw = torch.load(ckpt, map_location="cpu", weights_only=False)
    task = GNCAPrior.load_from_checkpoint(ckpt, map_location="cpu")
    h = task.hparams
    size = h.model.removeprefix("gnca_")
    # the prior at 1e-2 until gnca_prior_lr.py --update-cards picks its fit_lr and redoes this
    quick = prior_quick_check(task.prior, size, h.patch_size, h.steps, fit_lr(task.prior))
    data = raw.get("datamodule_hyper_parameters") or \
        yaml.safe_load(Path(config).read_text())["data"]["init_args"]
    photos = data.get("images") or "the embedded scikit-image photos minus the held-out set"
    card = {"paper": "GNCA (Unraveling NCA for lightweight image compression); prior: Reptile "
                     "(Nichol et al. 2018)",
            "task": "initialisation of every patch's NCA in nca-zoo compress",
            "data": f"random {h.patch_size} px crops of {photos} at sizes {data.get('size')}",
            "meta_steps": int(raw["global_step"]),
            "meta_recipe": {k: h[k] for k in ("steps", "inner_steps", "inner_lr", "outer_lr",
                                              "anneal", "normalize_gradients")}
            | {"patches_per_step": data.get("patches_per_step")},
            "quick_check": quick}
    model_args = {"num_models": 1, "patch_size": h.patch_size, "steps": h.steps}
    return task.prior, h.model, model_args, card, None


def latent_rule_card(ckpt: str, config: str) -> tuple:
    """The latent codec's rule out of a LatentCodecFit run that trained it (auto-decoder)."""
    from nca_zoo.compression.latent_prior import rule_id
    from nca_zoo.drivers.latent_compress import quick_check as latent_rule_quick_check
    from nca_zoo.tasks.latent_codec import LatentCodecFit

    raw = torch.load(ckpt, map_location="cpu", weights_only=False)
    task = LatentCodecFit.load_from_checkpoint(ckpt, map_location="cpu", strict=False)
    h, rule = task.hparams, task.rule.eval()
    data = raw.get("datamodule_hyper_parameters") or \
        yaml.safe_load(Path(config).read_text())["data"]["init_args"]
    card = {"paper": "latent-seeded NCA codec (Cool-chic / C3 layout, NCA synthesis)",
            "task": "the shared rule of nca-zoo compress --codec latent",
            "data": f"{h.num_images} random {data.get('crop_size')} px crops of the embedded "
                    f"scikit-image photos minus the held-out set at sizes {data.get('sizes')}",
            "steps": int(raw["global_step"]), "lambda": h.lam, "rule_lr": h.rule_lr,
            "latent_lr": h.lr, "hard_from": h.hard_from,
            "macs_per_pixel": rule.macs_per_pixel(), "rule_id": rule_id(rule).hex(),
            "quick_check": latent_rule_quick_check(rule)}
    model_args = {k: getattr(rule, k) for k in ("levels", "channels", "hidden", "steps")}
    return rule, "latent_nca", model_args, card, None


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("checkpoint")
    ap.add_argument("--name", required=True)
    ap.add_argument("--config", required=True, help="the recipe config the run used")
    ap.add_argument("--recipe", required=True, help="the exact command that trained it")
    ap.add_argument("--out", help="write the module into this folder instead of "
                                  "nca_zoo/pretrained/NAME (restorers: even one that fails the "
                                  "shipping rule, marked so on its card, for study)")
    ap.add_argument("--earlier-run", action="append", default=[],
                    help="checkpoint of a run before this one (LNCA phase 1): its training "
                         "budget is added to the card's")
    args = ap.parse_args()
    hp = torch.load(args.checkpoint, map_location="cpu", weights_only=False)["hyper_parameters"]
    if "schedule" in hp or "timesteps" in hp:
        model, arch, model_args, card, extra = diffusion_card(args.checkpoint, args.config)
    elif "train_rule" in hp:
        model, arch, model_args, card, extra = latent_rule_card(args.checkpoint, args.config)
    elif "inner_steps" in hp:
        model, arch, model_args, card, extra = prior_card(args.checkpoint, args.config)
    else:
        model, arch, model_args, card, extra = restoration_card(
            args.checkpoint, args.name, args.config, ship=args.out is None,
            earlier=tuple(args.earlier_run))
    card = {"name": args.name, **card, "recipe_config": args.config, "recipe": args.recipe,
            "measured_by": "benchmarks/tools/export_pretrained.py"}
    target = Path(args.out) if args.out else SHIPPED / args.name
    folder = nca_zoo.save_pretrained(model, target, arch, model_args, card, extra)
    print(folder, card.get("metrics", card.get("quick_check")))


if __name__ == "__main__":
    main()
