"""LNCA restoration beyond training: restoring whole photos and measuring restorers.

* :func:`restore` -- pad / tile a photo through a restoration model;
* :func:`held_out_metrics` -- PSNR / SSIM on photos no model trained on (every published number),
  :func:`ships` -- the shipping rule on them;
* :func:`restoration_metrics` -- PSNR / SSIM on a datamodule's test split.

The metrics are imported when first used (PEP 562): restoring a photo does not load
torchmetrics.
"""
from .._lazy import lazy_exports
from .restore import default_tile, is_size_dependent, restore

__getattr__, __dir__, _metrics = lazy_exports(__name__, {
    "held_out_metrics": "evaluate", "restoration_metrics": "evaluate", "ships": "evaluate"})
__all__ = ["default_tile", "is_size_dependent", "restore", *_metrics]
