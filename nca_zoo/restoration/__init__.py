"""LNCA restoration beyond training: restoring whole photos and measuring restorers.

* :func:`restore` -- pad / tile a photo through a restoration model;
* :func:`held_out_metrics` -- PSNR / SSIM on photos no model trained on (every published number),
  :func:`ships` -- the shipping rule on them;
* :func:`restoration_metrics` -- PSNR / SSIM on a datamodule's test split.
"""
from .evaluate import held_out_metrics, restoration_metrics, ships
from .restore import default_tile, is_size_dependent, restore

__all__ = ["default_tile", "held_out_metrics", "is_size_dependent", "restoration_metrics",
           "restore", "ships"]
