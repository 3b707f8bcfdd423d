"""Datamodules, image loading, patch tiling."""
from .patch_bank import PatchBankDataModule

__all__ = ["PatchBankDataModule"]
from .restoration import RestorationDataModule  # noqa: F401
from .diffusion import DiffusionDataModule  # noqa: F401
