"""Compress an image with the latent-seeded NCA codec (``compress --codec latent``), end to end.

Fit the image's latent grids on ``D + lambda R``
(:class:`~nca_zoo.tasks.latent_codec.LatentCodecFit`) with the shipped rule fine-tuned (the file
carries it; the default) or fixed (the file names it, 8 bytes), and write ``.nca`` version 5
(:mod:`nca_zoo.compression.nca_file_latent`).  The rate is set by lambda directly or by a
target in bits per pixel (rate control: warm-started refits at a corrected lambda).
"""
from __future__ import annotations

from typing import Optional, Union

from ..compression.latent_prior import DEFAULT_RULE
from ..compression.nca_file_latent import encode_latent
from ..data.image_batch import ImageBatchDataModule
from ..models.latent_nca import LatentNCA

#: lambda when neither ``--lambda`` nor ``--bpp`` is given (about 1-2 bpp at 120 px)
DEFAULT_LAMBDA = 2e-3
DEFAULT_ITERATIONS = 1000
#: rate control: the rate of a fit falls about as ``lambda^-RATE_SLOPE`` (held-out photos)...
RATE_SLOPE = 0.5
#: ...and a first guess is ``bpp = RATE_AT_UNIT_LAMBDA * lambda^-RATE_SLOPE``
RATE_AT_UNIT_LAMBDA = 0.06
#: rate control stops when the file is within this fraction of ``--bpp`` ...
RATE_TOLERANCE = 0.08
#: ... or after this many corrections, each a warm-started fit of half the iterations
MAX_CORRECTIONS = 2


def fit_latents(dm: ImageBatchDataModule, lam: float = DEFAULT_LAMBDA,
                iterations: int = DEFAULT_ITERATIONS, rule: Union[str, LatentNCA] = DEFAULT_RULE,
                fit_rule: bool = False, seed: int = 0, progress: bool = False, task=None):
    """Fit the latents of ``dm``'s images (and the rule if ``fit_rule``); return the task.

    ``task``: continue a fit (warm start: its latents, and rule) at the new ``lam``.
    """
    import lightning as L

    from ..tasks.latent_codec import LatentCodecFit

    L.seed_everything(seed, verbose=False)
    if task is None:
        task = LatentCodecFit(lam=lam, prior=rule if isinstance(rule, str) else None,
                              train_rule=fit_rule)
        if isinstance(rule, LatentNCA):
            task.rule.load_state_dict(rule.state_dict())
    else:
        task.lam.fill_(lam)
        task.hparams.lam = lam
    trainer = L.Trainer(max_steps=iterations, accelerator="auto", devices=1, logger=False,
                        enable_checkpointing=False, enable_progress_bar=progress,
                        enable_model_summary=False, num_sanity_val_steps=0, deterministic=True)
    trainer.fit(task, datamodule=dm)
    return task.cpu()


def compress_latent(image: str, lam: Optional[float] = None, bpp: Optional[float] = None,
                    iterations: int = DEFAULT_ITERATIONS,
                    rule: Union[str, LatentNCA] = DEFAULT_RULE, fit_rule: bool = True,
                    seed: int = 0, progress: bool = False, background: Optional[str] = None,
                    size: Optional[int] = None):
    """Compress ``image`` (a file or ``embedded:NAME``); return ``(nca_bytes, task, datamodule)``.

    ``lam``: the rate-distortion trade-off (default :data:`DEFAULT_LAMBDA`, or a first guess
    from ``bpp``).  ``bpp``: target bits per pixel of the whole file.  Rate control: fit at
    ``lam``; while the file misses the target by more than :data:`RATE_TOLERANCE`, move lambda
    by ``(rate / target)^(1 / RATE_SLOPE)`` and continue the fit from where it is for half the
    iterations (at most :data:`MAX_CORRECTIONS` times); a file still over the target is trimmed
    with a dead zone (:func:`deadzone_round`, no refit).  ``fit_rule``: fine-tune ``rule`` on
    the image and store it in the file (the default: self-contained, about 550 bytes more, and
    better from about 1 bpp at 120 px up); False: keep ``rule`` and name it in the file;
    ``size``: resize the image to a square of
    this side first (centre crop), as the GNCA datamodules do.
    """
    dm = ImageBatchDataModule(image, size=size, background=background)
    h, w = dm.images.shape[-2:]
    if lam is None:
        lam = DEFAULT_LAMBDA if bpp is None else \
            (RATE_AT_UNIT_LAMBDA / bpp) ** (1.0 / RATE_SLOPE)
    task = fit_latents(dm, lam, iterations, rule, fit_rule, seed, progress)
    data = _encode(task, h, w, fit_rule)
    for _ in range(MAX_CORRECTIONS if bpp is not None else 0):
        rate = len(data) * 8 / (h * w)
        if abs(rate / bpp - 1.0) <= RATE_TOLERANCE:
            break
        lam = float(task.lam) * (rate / bpp) ** (1.0 / RATE_SLOPE)
        task = fit_latents(dm, lam, max(1, iterations // 2), rule, fit_rule, seed, progress,
                           task=task)
        data = _encode(task, h, w, fit_rule)
    if bpp is not None and len(data) * 8 > bpp * h * w:
        latents = [y.detach()[0, 0] for y in task.latents]
        data = _trim_to_rate(latents, h, w, task.rule, fit_rule, int(bpp * h * w // 8))
    return data, task, dm


def _encode(task, h: int, w: int, fit_rule: bool) -> bytes:
    return encode_latent([y[0, 0] for y in task.integer_latents()], h, w, task.rule,
                         rule_in_file=fit_rule)


def deadzone_round(latent, threshold: float):
    """Round magnitudes down unless their fraction reaches ``threshold`` (0.5: nearest)."""
    import torch

    return torch.sign(latent) * torch.floor(latent.abs() + 1.0 - threshold).clamp_min(0.0)


def _trim_to_rate(latents, h: int, w: int, rule: LatentNCA, fit_rule: bool,
                  max_bytes: int) -> bytes:
    """The file at the smallest dead zone (:func:`deadzone_round`) that fits ``max_bytes``.

    Rate control lands near the target; a file still over it is trimmed here, by bisection on
    the threshold, with no refit (entropy coding only).
    """
    low, high = 0.5, 2.0
    best = encode_latent([deadzone_round(y, high) for y in latents], h, w, rule, fit_rule)
    for _ in range(12):
        mid = 0.5 * (low + high)
        data = encode_latent([deadzone_round(y, mid) for y in latents], h, w, rule, fit_rule)
        if len(data) <= max_bytes:
            best, high = data, mid
        else:
            low = mid
    return best



#: a rule card's ``quick_check``: one small held-out photo, a short fit (recomputed by the tests)
QUICK_CHECK = {"photo": "stereo_motorcycle", "size": 32, "lam": DEFAULT_LAMBDA,
               "iterations": 60, "seed": 0}


def quick_check(rule: Union[str, LatentNCA]) -> dict:
    """Bytes and PSNR of a short fit of :data:`QUICK_CHECK` with ``rule``, on one thread."""
    import tempfile
    from pathlib import Path

    import torch

    from ..compression.metrics import image_quality
    from ..compression.nca_file import decode, decode_image
    from ..data.held_out import held_out_photo
    from ..data.images import resize_square, save_png_atomic

    q = QUICK_CHECK
    image = resize_square(held_out_photo(q["photo"]), q["size"])
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        with tempfile.TemporaryDirectory() as tmp:
            path = Path(tmp) / "photo.png"
            save_png_atomic(image, path)
            data, _, _ = compress_latent(str(path), lam=q["lam"], iterations=q["iterations"],
                                         rule=rule, fit_rule=False, seed=q["seed"])
    finally:
        torch.set_num_threads(threads)
    psnr = image_quality(image, decode_image(decode(data)))["psnr"]
    return {**q, "bytes": len(data), "psnr": round(psnr, 3)}
