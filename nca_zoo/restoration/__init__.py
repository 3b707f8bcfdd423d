"""LNCA restoration beyond training: restoring whole photos and measuring restorers.

* :func:`restore` -- pad / tile a photo through a restoration model;
* :data:`CLASSICAL_RESTORERS` -- median, total-variation, non-local means, wavelet and unsharp
  filters as restoration modules (the baselines); :func:`load_restorer` -- a restorer by name
  (classical filter or pretrained module);
* :func:`held_out_metrics` -- PSNR / SSIM on photos no model trained on (every published number),
  :func:`classical_held_out` -- the same for a task's classical baselines, :func:`ships` -- the
  shipping rule on them;
* :func:`restoration_metrics` -- PSNR / SSIM on a datamodule's test split.

The metrics and filters are imported when first used (PEP 562): restoring a photo does not load
torchmetrics, nor scikit-image unless a classical filter runs.
"""
from .._lazy import lazy_exports
from .restore import default_tile, is_size_dependent, restore

__getattr__, __dir__, _metrics = lazy_exports(__name__, {
    "held_out_metrics": "evaluate", "restoration_metrics": "evaluate", "ships": "evaluate",
    "classical_held_out": "evaluate", "rule_failures": "evaluate",
    "CLASSICAL_RESTORERS": "classical", "classical_baselines": "classical",
    "load_restorer": "classical"})
__all__ = ["default_tile", "is_size_dependent", "restore", *_metrics]
