"""A learned initialisation (*prior*) for GNCA banks, meta-trained with Reptile.

Reptile (Nichol et al. 2018, "On First-Order Meta-Learning Algorithms"): adapt a copy of the
prior weights ``theta`` to each task (here: one patch) with ``k`` steps of the inner optimiser,
giving ``phi_i``; then move the prior towards the adapted weights,
``theta <- theta + eps * mean_i (phi_i - theta)``.  The inner loop is exactly the recipe
:func:`~nca_zoo.drivers.compression.compress` uses (Adam, loss on the final state, per-model
normalised gradients), and all patches of a meta-batch adapt at once as one GNCA bank (one
rollout of grouped convolutions, no loop over patches).

A prior is a GNCA bank of one model, saved as a pretrained folder (``gnca-<size>-prior``): its
weights do not depend on the patch size or the number of growth steps.  Starting a bank from it
copies the prior into every model, so the ``.nca`` file stays self-contained (full weights).

A pure copy of the prior fits fast, but after a few hundred iterations fits from random weights
can overtake it.  ``prior_weight`` < 1 starts from the blend ``w * prior + (1 - w) * random``
instead (the bank's own random init; *shrink and perturb*, Ash & Adams 2020, "On Warm-Starting
Neural Network Training"); measured, w = 0.5 did worse than w = 1, so the default stays 1.

Training a prior (the Reptile meta-step) is :class:`~nca_zoo.tasks.GNCAPrior`; loading one from a
training checkpoint is :func:`~nca_zoo.drivers.checkpoints.load_prior_checkpoint`.  What was
measured on the way to the shipped priors (dormant units, fit learning rate, meta-training lr and
length, other meta-learners) is docs/gnca-prior.md.
"""
from __future__ import annotations

from typing import Optional, Sequence

import torch
from torch import Tensor

from ..automaton import normalize_gradients
from ..layers.quantize import DEFAULT_CODE_MAX, dequantize, quantize
from ..models.gnca import GNCA, GNCA_SIZES

#: shipped prior of each GNCA size (Table 1)
PRIOR_NAMES = {size: f"gnca-{size}-prior" for size in GNCA_SIZES}
INITS = ("prior", "random")
#: default ``prior_weight`` of compress and the quickstart (measured: docs/gnca-prior.md)
DEFAULT_PRIOR_WEIGHT = 1.0
#: Adam learning rate of a fit from random weights (compress's recipe), and from a prior whose
#: card names no ``fit_lr``
RANDOM_FIT_LR = 1e-2
#: learning rates :func:`select_fit_lr` tries
FIT_LRS = (3e-3, 5e-3, 7e-3, 1e-2)


class PriorError(ValueError):
    """A prior that does not fit the bank it should initialise; the message is one line."""


def size_name(channels: int, hidden: int) -> Optional[str]:
    """The Table 1 size with ``(n_c, h_s) = (channels, hidden)``, or None."""
    return next((k for k, v in GNCA_SIZES.items() if v == (channels, hidden)), None)


def _describe(channels: int, hidden: int) -> str:
    size = size_name(channels, hidden)
    return f"n_c={channels}, h_s={hidden}" + (f" (GNCA-{size})" if size else "")


def load_prior(channels: int, hidden: int, source: Optional[str] = None) -> GNCA:
    """The prior for banks of ``channels`` x ``hidden`` NCAs: a shipped name or a folder.

    ``source`` None picks the shipped prior of that Table 1 size.  A prior of another size or with
    other state channels is a one-line :class:`PriorError` (:func:`check_prior`); so is a training
    checkpoint (read those with :func:`~nca_zoo.drivers.checkpoints.load_prior_checkpoint`).
    """
    from .._pretrained import load_pretrained

    if source is None:
        size = size_name(channels, hidden)
        if size is None:
            raise PriorError(f"no shipped prior for {_describe(channels, hidden)}; pass a prior "
                             f"folder, or init='random'")
        source = PRIOR_NAMES[size]
    if str(source).endswith(".ckpt"):
        raise PriorError(f"{source} is a training checkpoint: export it as a pretrained folder "
                         f"or load it with nca_zoo.drivers.load_prior_checkpoint")
    return check_prior(load_pretrained(source), channels, hidden, source)


def check_prior(model, channels: int, hidden: int, source: str) -> GNCA:
    """``model`` if it is one GNCA NCA of ``channels`` x ``hidden``; else a one-line PriorError."""
    if not isinstance(model, GNCA):
        raise PriorError(f"{source} is not a GNCA prior (it holds a {type(model).__name__})")
    if model.num_models != 1:
        raise PriorError(f"{source} holds {model.num_models} NCAs; a prior is one NCA")
    if (model.channels, model.cell.hidden) != (channels, hidden):
        raise PriorError(f"prior {source} has {_describe(model.channels, model.cell.hidden)}, "
                         f"the bank needs {_describe(channels, hidden)}: use the prior of that "
                         f"size")
    return model


def check_prior_weight(weight: float, name: str = "prior_weight") -> float:
    """``weight`` if it lies in (0, 1], else a one-line ValueError naming ``name``."""
    if not 0.0 < float(weight) <= 1.0:
        raise ValueError(f"{name} must be in (0, 1], got {weight}")
    return float(weight)


@torch.no_grad()
def init_from_prior(bank: GNCA, prior: GNCA, weight: float = 1.0) -> GNCA:
    """Start every model of ``bank`` from ``prior`` (in place); return the bank.

    ``weight`` 1 copies the prior; below 1 each model becomes ``weight * prior + (1 - weight) *
    its current (random) weights``: shrink and perturb (module docstring).
    """
    weight = check_prior_weight(weight)
    if (prior.channels, prior.cell.hidden) != (bank.channels, bank.cell.hidden):
        raise PriorError(f"prior has {_describe(prior.channels, prior.cell.hidden)}, the bank "
                         f"needs {_describe(bank.channels, bank.cell.hidden)}")
    if prior.num_models != 1:
        raise PriorError(f"a prior is one NCA, got a bank of {prior.num_models}")
    for name, p in bank.cell.named_parameters():
        theta = getattr(prior.cell, name).to(p).expand_as(p)
        p.copy_(theta if weight == 1.0 else torch.lerp(p, theta, weight))
    return bank


@torch.no_grad()
def unit_activity(bank: GNCA, steps: int = 48) -> Tensor:
    """Normalised activity of every hidden unit over the bank's growth: ``(num_models, hidden)``.

    The score of ReDo (Sokar et al. 2023, "The Dormant Neuron Phenomenon in Deep Reinforcement
    Learning"): a unit's mean ReLU output over the seed and every state of the rollout, all
    pixels, divided by the mean over the model's units.  0: the unit never fires (*dormant*).
    """
    cell = bank.cell
    sums = [cell.hidden_units(bank.seed(bank.num_models)).mean(dim=(0, 2, 3))]

    def observe(state: Tensor, t: int) -> Tensor:
        sums.append(cell.hidden_units(state).mean(dim=(0, 2, 3)))
        return state.new_zeros(())

    bank.grow(steps=steps, step_loss=observe)
    total = torch.stack(sums).sum(dim=0).view(bank.num_models, cell.hidden)
    return total / total.mean(dim=1, keepdim=True).clamp_min(1e-12)


@torch.no_grad()
def recycle_dormant(bank: GNCA, threshold: float = 0.0, steps: int = 48,
                    generator: Optional[torch.Generator] = None) -> Tensor:
    """ReDo: re-initialise the hidden units whose :func:`unit_activity` is ``<= threshold``.

    A recycled unit gets fresh random incoming weights (``w1`` row and ``b1``, the cell's
    default init) and zero outgoing weights (``w2`` column), so the grown image is unchanged but
    the unit fires again and gets gradients.  Returns the ``(num_models, hidden)`` boolean mask
    of recycled units.  ``generator``: the random draw (same seed on every DDP rank).
    """
    cell = bank.cell
    dormant = unit_activity(bank, steps) <= threshold
    bound = 1.0 / (3 * cell.channels) ** 0.5
    fresh_w1 = torch.rand(cell.w1.shape, generator=generator).to(cell.w1) * 2 * bound - bound
    fresh_b1 = torch.rand(cell.b1.shape, generator=generator).to(cell.b1) * 2 * bound - bound
    cell.w1.copy_(torch.where(dormant[..., None], fresh_w1, cell.w1))
    cell.b1.copy_(torch.where(dormant, fresh_b1, cell.b1))
    cell.w2.masked_fill_(dormant[:, None, :], 0.0)
    return dormant


def bank_like(prior: GNCA, num_models: int, patch_size: int, steps: int) -> GNCA:
    """A bank of ``num_models`` copies of ``prior`` (training mode, on the prior's device)."""
    with torch.device(prior.cell.w1.device):  # built where the prior is, never moved
        bank = GNCA(prior.channels, prior.cell.hidden, num_models, patch_size, steps)
    return init_from_prior(bank, prior).train()


def final_state_loss(bank: GNCA, targets: Tensor, steps: int) -> Tensor:
    """Per-pixel MSE of the final state's RGB to each model's target, summed over the models."""
    state, _ = bank.grow(steps=steps)
    return (bank.rgb(state) - targets).pow(2).mean(dim=(0, 2, 3, 4)).sum()


def adapt(bank: GNCA, targets: Tensor, iterations: int, lr: float, steps: int,
          normalize: bool = True, at: Sequence[int] = (),
          callback=None, lr_decay_at: Optional[float] = None) -> list[float]:
    """Train every model of ``bank`` on its target patch (``(num_models, 3, p, p)``), in place.

    The recipe of :func:`~nca_zoo.drivers.compression.compress`: Adam at ``lr``, final-state loss,
    per-model normalised gradients; ``lr_decay_at``: the lr drops 10x after that fraction of
    the iterations (None: constant).  Adam is element-wise, so one optimiser over the bank is
    one independent optimiser per model.  ``callback(bank, i)`` runs after iteration ``i`` for
    each ``i`` in ``at``.  Returns the loss (mean per model, a detached 0-d tensor: no host
    sync) before each iteration.
    """
    opt = torch.optim.Adam(bank.parameters(), lr=lr)
    drop = None if lr_decay_at is None else max(1, int(lr_decay_at * iterations))
    losses, at = [], set(int(a) for a in at)
    with torch.enable_grad():
        for i in range(1, iterations + 1):
            opt.zero_grad(set_to_none=True)
            loss = final_state_loss(bank, targets, steps)
            loss.backward()
            if normalize:
                normalize_gradients(bank, leading_dims=1)
            opt.step()
            if i == drop:
                for group in opt.param_groups:
                    group["lr"] = lr * 0.1
            losses.append(loss.detach() / bank.num_models)
            if callback is not None and i in at:
                callback(bank, i)
    return losses


def reptile_loss(prior: GNCA, adapted: GNCA) -> Tensor:
    """``0.5 * ||theta - mean_i phi_i||^2``: its gradient is the Reptile direction.

    One SGD step of size ``eps`` on it is the Reptile update ``theta += eps (mean phi - theta)``
    (Nichol et al. 2018, batched version); under DDP the gradient is averaged over ranks, i.e.
    the mean runs over the patches of every rank.
    """
    total = prior.cell.w1.new_zeros(())
    for name, theta in prior.cell.named_parameters():
        phi = getattr(adapted.cell, name).detach().mean(dim=0, keepdim=True)
        total = total + 0.5 * (theta - phi.to(theta)).pow(2).sum()
    return total


@torch.no_grad()
def quantized_psnr(bank: GNCA, targets: Tensor, steps: int, per: str = "column",
                   scales: str = "log", code_max: int = DEFAULT_CODE_MAX) -> Tensor:
    """PSNR (dB, 0-255 scale, per model) of each grown patch after the 8-bit weight round trip.

    The patch is rounded to 8 bits like a decoded image, so this is the ``.nca`` file's PSNR
    (:func:`~nca_zoo.layers.quantize.quantize`'s ``per`` and ``scales``: "column" and "log" as in
    ``.nca`` version 4, "column" and "float16" as in version 3, "tensor" and "float16" as in
    versions 1 and 2; ``per="none"`` for the float weights; ``code_max``: the codes' range).
    """
    q = bank if per == "none" else bank.subset(
        transform=lambda w: dequantize(*quantize(w, per, scales, code_max=code_max)))
    state, _ = q.grow(steps=steps)
    grown = (q.rgb(state)[0].float().clamp(0, 1) * 255).round()
    ref = (targets.float().clamp(0, 1) * 255).round()
    mse = (grown - ref).pow(2).mean(dim=(1, 2, 3)).clamp_min(1e-10)
    return 10 * torch.log10(255.0**2 / mse)


def psnr_curve(targets: Tensor, size: str, init: str, at: Sequence[int],
               prior: Optional[GNCA] = None, lr: float = 1e-2, steps: int = 48,
               seed: int = 0, prior_weight: float = 1.0) -> dict:
    """Fit a bank to ``targets`` from ``init`` ("random" or "prior"); 8-bit PSNR at ``at``.

    One run of ``max(at)`` iterations of compress's recipe at a constant ``lr`` (no decay, so a
    checkpoint equals a shorter run); ``prior`` defaults to the shipped prior of ``size``, blended
    with the random init by ``prior_weight`` (:func:`init_from_prior`).
    Returns ``{"psnr": {iteration: mean dB}, "psnr_per_patch": {...}, "seconds": {...}}``,
    seconds of training (not evaluation) up to each checkpoint.
    """
    import time

    from .._registry import create_model

    if init not in INITS:
        raise ValueError(f"init must be one of {', '.join(INITS)}, got {init!r}")
    channels, hidden = GNCA_SIZES[size]
    torch.manual_seed(seed)
    bank = create_model(f"gnca_{size}", num_models=len(targets), patch_size=targets.shape[-1],
                        steps=steps)
    if init == "prior":
        init_from_prior(bank, prior if prior is not None else load_prior(channels, hidden),
                        prior_weight)
    out = {"psnr": {}, "psnr_per_patch": {}, "seconds": {}}
    clock = {"train": 0.0, "since": time.perf_counter()}

    def record(b: GNCA, i: int) -> None:
        clock["train"] += time.perf_counter() - clock["since"]
        psnr = quantized_psnr(b.eval(), targets, steps)
        b.train()
        out["psnr"][i] = float(psnr.mean())
        out["psnr_per_patch"][i] = [round(float(v), 3) for v in psnr]
        out["seconds"][i] = clock["train"]
        clock["since"] = time.perf_counter()

    adapt(bank.train(), targets, max(at), lr, steps, at=at, callback=record)
    return out


def fit_lr(prior: GNCA) -> float:
    """The Adam learning rate to fit from ``prior``.

    Its card's ``fit_lr`` (:func:`select_fit_lr`), else :data:`RANDOM_FIT_LR`.
    """
    return float((getattr(prior, "card", None) or {}).get("fit_lr", RANDOM_FIT_LR))


def select_fit_lr(prior: GNCA, targets: Tensor, lrs: Sequence[float] = FIT_LRS,
                  at: Sequence[int] = (100, 300), steps: int = 48, seed: int = 0) -> dict:
    """Pick the Adam lr for fits from ``prior``: the best mean 8-bit PSNR on ``targets``.

    ``targets`` are meta-validation crops (photos the prior trains on, never the held-out ones
    the benchmarks test on).  Each lr in ``lrs`` fits the crops from the prior (:func:`psnr_curve`)
    and scores the mean PSNR over the checkpoints ``at``.  Returns ``{"fit_lr": best lr,
    "psnr": {lr: {iteration: dB}}, "at": at}``.
    """
    size = size_name(prior.channels, prior.cell.hidden)
    if size is None:
        raise PriorError(f"select_fit_lr needs a Table 1 size, got "
                         f"{_describe(prior.channels, prior.cell.hidden)}")
    if not lrs or min(lrs) <= 0:
        raise ValueError(f"lrs must be positive, got {list(lrs)}")
    psnr = {float(lr): psnr_curve(targets, size, "prior", at, prior=prior, lr=lr, steps=steps,
                                  seed=seed)["psnr"] for lr in lrs}

    def score(lr: float) -> float:  # a diverged fit (nan) ranks last
        mean = sum(psnr[lr].values()) / len(psnr[lr])
        return mean if mean == mean else float("-inf")

    return {"fit_lr": max(psnr, key=score), "psnr": psnr, "at": list(at)}
