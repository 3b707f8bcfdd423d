"""Datamodules, image loading, patch tiling, degradations."""
from .diffusion import DiffusionDataModule
from .patch_bank import PatchBankDataModule
from .prior_patches import PriorPatchDataModule
from .restoration import RestorationDataModule

__all__ = ["DiffusionDataModule", "PatchBankDataModule", "PriorPatchDataModule",
           "RestorationDataModule"]
