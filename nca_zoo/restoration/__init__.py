"""LNCA restoration beyond training: restoring whole photos and measuring restorers.

* :func:`restore` -- pad / tile a photo through a restoration model;
* :func:`restoration_metrics` -- PSNR / SSIM on the held-out test split (model cards).
"""
from .evaluate import restoration_metrics
from .restore import default_tile, is_size_dependent, restore

__all__ = ["default_tile", "is_size_dependent", "restoration_metrics", "restore"]
