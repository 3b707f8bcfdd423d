"""Datamodules, image loading, patch tiling, degradations.

The datamodules are imported when first used (PEP 562): reading an image (``data.images``) does
not load Lightning.
"""
from .._lazy import lazy_exports

__getattr__, __dir__, __all__ = lazy_exports(__name__, {
    "DiffusionDataModule": "diffusion", "PatchBankDataModule": "patch_bank",
    "PriorPatchDataModule": "prior_patches", "RestorationDataModule": "restoration"})
