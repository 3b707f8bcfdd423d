"""Compress an image with the latent-seeded NCA codec (``compress --codec latent``), end to end.

Fit the image's latent grids on ``D + lambda R``
(:class:`~nca_zoo.tasks.latent_codec.LatentCodecFit`) with the shipped rule fixed (the file
names it, 8 bytes) or fine-tuned (the file carries it), and write ``.nca`` version 5
(:mod:`nca_zoo.compression.nca_file_latent`).  The rate is set by lambda
directly or by a target in bits per pixel (rate control steers lambda while it fits).
"""
from __future__ import annotations

from typing import Optional, Union

from ..compression.latent_prior import DEFAULT_RULE, load_rule
from ..compression.nca_file_latent import encode_latent, fixed_bytes
from ..data.image_batch import ImageBatchDataModule
from ..models.latent_nca import LatentNCA

#: lambda that lands near 1 bpp on held-out 128 px photos; rate control starts here
DEFAULT_LAMBDA = 2e-3
DEFAULT_ITERATIONS = 1500


def fit_latents(dm: ImageBatchDataModule, lam: float = DEFAULT_LAMBDA,
                bpp: Optional[float] = None, iterations: int = DEFAULT_ITERATIONS,
                rule: Union[str, LatentNCA] = DEFAULT_RULE, fit_rule: bool = False,
                seed: int = 0, progress: bool = False):
    """Fit the latents of ``dm``'s images (and the rule if ``fit_rule``); return the task."""
    import lightning as L

    from ..tasks.latent_codec import LatentCodecFit

    L.seed_everything(seed, verbose=False)
    task = LatentCodecFit(lam=lam, prior=rule if isinstance(rule, str) else None,
                          train_rule=fit_rule, target_bpp=bpp)
    if isinstance(rule, LatentNCA):
        task.rule.load_state_dict(rule.state_dict())
    trainer = L.Trainer(max_steps=iterations, accelerator="auto", devices=1, logger=False,
                        enable_checkpointing=False, enable_progress_bar=progress,
                        enable_model_summary=False, num_sanity_val_steps=0, deterministic=True)
    trainer.fit(task, datamodule=dm)
    return task.cpu()


def compress_latent(image: str, lam: float = DEFAULT_LAMBDA, bpp: Optional[float] = None,
                    iterations: int = DEFAULT_ITERATIONS,
                    rule: Union[str, LatentNCA] = DEFAULT_RULE, fit_rule: bool = False,
                    seed: int = 0, progress: bool = False, background: Optional[str] = None):
    """Compress ``image`` (a file or ``embedded:NAME``); return ``(nca_bytes, task, datamodule)``.

    ``bpp``: target bits per pixel of the whole file (rate control; ``lam`` is then only the
    start); ``fit_rule``: fine-tune the rule and store it in the file (self-contained, larger).
    """
    dm = ImageBatchDataModule(image, background=background)
    h, w = dm.images.shape[-2:]
    target = None
    if bpp is not None:  # the header, rule and coder's last word are not in the model's rate
        overhead = 8 * fixed_bytes(load_rule(rule), fit_rule)
        target = max(bpp - overhead / (h * w), 0.05 * bpp)
    task = fit_latents(dm, lam, target, iterations, rule, fit_rule, seed, progress)
    data = encode_latent([y[0, 0] for y in task.integer_latents()], h, w, task.rule,
                         rule_in_file=fit_rule)
    return data, task, dm

