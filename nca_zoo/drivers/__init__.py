"""Drivers: code that builds and runs a task, one layer above ``tasks/`` (docs/architecture.md).

* :mod:`.compression` -- :func:`~.compression.compress` an image end to end (train a GNCA bank,
  return its ``.nca`` bytes) and :func:`~.compression.train_bank`, the training recipe it runs;
* :mod:`.latent_compress` -- :func:`~.latent_compress.compress_latent`: the latent-seeded NCA
  codec end to end (fit latent grids on D + lambda R, rate control, ``.nca`` version 5 bytes);
  :mod:`.latent_report` -- the quickstart's report with that codec beside GNCA;
* :mod:`.checkpoints` -- tasks and models out of ``nca-zoo fit`` checkpoints: a DiffusionTask
  (:func:`~.checkpoints.load_diffusion_task`), a GNCA prior
  (:func:`~.checkpoints.load_prior_checkpoint`), a restoration task
  (:func:`~.checkpoints.load_restoration_task`).

The paper packages below (``compression``, ``restoration``, ``diffusion``) hold formats, maths and
metrics and never import a task; whatever needs a task lives here or in ``cli/``.
"""
from .._lazy import lazy_exports

__getattr__, __dir__, __all__ = lazy_exports(__name__, {
    "compress": "compression", "train_bank": "compression",
    "compress_latent": "latent_compress", "fit_latents": "latent_compress",
    "load_diffusion_task": "checkpoints", "load_prior_checkpoint": "checkpoints",
    "load_restoration_task": "checkpoints", "restoration_task_class": "checkpoints"})
