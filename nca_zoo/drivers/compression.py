"""Compress an image end to end: train one GNCA per patch (one bank) and return its file.

The defaults are a fast-convergence recipe for few iterations (Adam at lr 1e-2 from random
weights, at the prior's ``fit_lr`` from a prior; loss on the final state) that starts every
patch's NCA from the shipped Reptile prior of its size (:mod:`~nca_zoo.compression.prior`,
``init="prior"``); ``init="random"`` starts from random weights as the paper does, whose recipe
(lr 2e-3, Eq. 2 over all steps) is ``configs/gnca/paper_*.yaml``.
The same image and seed give a byte-identical file.  Before training, :func:`compress` refuses
a run that would not fit in memory (:mod:`~nca_zoo.compression.memory`) or whose file the
decoder would refuse (:class:`~nca_zoo.compression.nca_file.DecodeLimits`).
"""
from __future__ import annotations

from typing import Optional

import lightning as L

from ..compression.memory import check_fits, training_bytes
from ..compression.nca_file import DEFAULT_LIMITS, VERSION, VERSIONS, exceeded_limit
from ..compression.prior import (
    DEFAULT_PRIOR_WEIGHT,
    INITS,
    RANDOM_FIT_LR,
    check_prior_weight,
    fit_lr,
    load_prior,
)
from ..data.patch_bank import PatchBankDataModule
from ..layers.quantize import DEFAULT_CODE_MAX, check_code_max
from ..models.gnca import GNCA_SIZES, default_growth_steps
from ..tasks.compression import GNCACompression


def check_resources(dm: PatchBankDataModule, size: str, steps: int, memory: bool = True) -> None:
    """Refuse (one-line ValueError) a bank too large to train or to decode.

    ``memory``: also estimate the training memory and compare it with what is available.
    """
    channels, hidden = GNCA_SIZES[size]
    (_, n, h, w), p = dm.layout[0], dm.patch_size
    advice = "use a smaller image, or a smaller --patch or fewer --steps"
    if memory:
        check_fits(training_bytes(n, p, channels, hidden, steps),
                   f"training {n} patches of {p} px over {steps} steps ({w}x{h} px)",
                   f"{advice} (memory grows with pixels x steps), or pass --no-memory-check")
    exceeded = exceeded_limit(h, w, p, channels, hidden, steps, DEFAULT_LIMITS)
    if exceeded:
        raise ValueError(f"the .nca file would exceed the decoder's {exceeded[0]}; {advice}")


def compress(image: str, size: str = "medium", patch: int = 40, iterations: int = 1500,
             seed: int = 0, steps: Optional[int] = None, lr: Optional[float] = None,
             progress: bool = False,
             background: Optional[str] = None, memory_check: bool = True,
             init: str = "prior", prior: Optional[str] = None,
             prior_weight: float = DEFAULT_PRIOR_WEIGHT, version: int = VERSION,
             code_max: int = DEFAULT_CODE_MAX):
    """Train a GNCA bank on ``image``; return ``(nca_bytes, task, datamodule)``.

    ``background``: colour for transparent images (see :class:`PatchBankDataModule`);
    ``memory_check``: refuse runs estimated not to fit in the memory available;
    ``init``: "prior" (start from ``prior``, default the shipped ``gnca-<size>-prior``) or
    "random" (the paper); ``prior_weight``: start from ``w * prior + (1 - w) * random``
    (:func:`~nca_zoo.compression.prior.init_from_prior`); ``lr``: Adam's learning rate, by
    default the prior's ``fit_lr`` (:func:`~nca_zoo.compression.prior.fit_lr`) or, from random
    weights, :data:`~nca_zoo.compression.prior.RANDOM_FIT_LR`; ``version``: the ``.nca``
    format version written; ``code_max``: the range of its codes
    (:func:`~nca_zoo.layers.quantize.quantize`).
    """
    if version not in VERSIONS:
        raise ValueError(f"--format-version must be one of {', '.join(map(str, VERSIONS))}, "
                         f"got {version}")
    if size not in GNCA_SIZES:
        raise ValueError(f"unknown size {size!r}; choose from {', '.join(GNCA_SIZES)}")
    if init not in INITS:
        raise ValueError(f"--init must be one of {', '.join(INITS)}, got {init!r}")
    check_prior_weight(prior_weight, "--prior-weight")
    check_code_max(code_max, "--code-max")
    if not 3 <= patch <= DEFAULT_LIMITS.max_patch:
        raise ValueError(f"--patch must be between 3 and {DEFAULT_LIMITS.max_patch}, got {patch}")
    if iterations < 1 or (steps is not None and steps < 1):
        raise ValueError(f"--iterations and --steps must be >= 1, got {iterations}, {steps}")
    dm = PatchBankDataModule([image], size=None, patch_size=patch,
                             iterations_per_epoch=iterations, background=background)
    steps = steps or default_growth_steps(patch)
    check_resources(dm, size, steps, memory_check)
    if lr is not None and not lr > 0:
        raise ValueError(f"--lr must be > 0, got {lr}")
    # a missing or mismatched prior fails here, before the image is trained
    lr = lr or default_lr(size, init, prior)
    task = train_bank(dm, size, iterations, steps, seed, lr, progress, init=init, prior=prior,
                      prior_weight=prior_weight, code_max=code_max)
    return task.to_nca(0, version), task, dm


def default_lr(size: str, init: str, prior: Optional[str] = None) -> float:
    """The Adam lr of compress: the prior's ``fit_lr`` with ``init="prior"``, else 1e-2.

    :func:`~nca_zoo.compression.prior.fit_lr` reads it from the prior's card; from random weights
    it is :data:`~nca_zoo.compression.prior.RANDOM_FIT_LR`.
    """
    return fit_lr(load_prior(*GNCA_SIZES[size], prior)) if init == "prior" else RANDOM_FIT_LR


def train_bank(dm: PatchBankDataModule, size: str = "medium", iterations: int = 1500,
               steps: Optional[int] = None, seed: int = 0, lr: Optional[float] = None,
               progress: bool = False, loss_over: str = "final", init: str = "random",
               prior: Optional[str] = None, prior_weight: float = DEFAULT_PRIOR_WEIGHT,
               code_max: int = DEFAULT_CODE_MAX):
    """Train one GNCA bank on every patch of ``dm`` (one or several images); return the task.

    ``init``: "random" (the paper) or "prior" (see :class:`~nca_zoo.tasks.GNCACompression`);
    ``lr`` None: :func:`default_lr`.
    """
    L.seed_everything(seed, verbose=False)
    task = GNCACompression(model=f"gnca_{size}",
                           rollout={"steps": steps or default_growth_steps(dm.patch_size)},
                           batch_size=1, lr=lr or default_lr(size, init, prior),
                           loss_over=loss_over, code_max=code_max,
                           init={"weights": init, "prior": prior, "prior_weight": prior_weight})
    trainer = L.Trainer(max_steps=iterations, accelerator="auto", devices=1, logger=False,
                        enable_checkpointing=False, enable_progress_bar=progress,
                        enable_model_summary=False, limit_val_batches=0, num_sanity_val_steps=0,
                        deterministic=True)
    trainer.fit(task, datamodule=dm)
    return task
