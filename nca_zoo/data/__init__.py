"""Datamodules, image loading, patch tiling."""
from .patch_bank import PatchBankDataModule

__all__ = ["PatchBankDataModule"]
