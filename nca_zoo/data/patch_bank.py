"""DataModule for GNCA: one or more images cut into patches that one NCA bank learns.

The "dataset" of a compression run is the image itself.  Each training batch is just the index of
an iteration; the task reads the patch targets from :attr:`PatchBankDataModule.targets`.
Several images can share one bank: their patches are concatenated.
"""
from __future__ import annotations

from typing import Optional, Sequence

import lightning as L
import numpy as np
import torch
from torch.utils.data import DataLoader

from ..layers import cut_patches, to_tensor
from .images import ImageError, read_rgb, resize_square

MIN_SIDE = 4


class PatchBankDataModule(L.LightningDataModule):
    """Images -> a bank of ``patch_size`` patches.

    Args:
        images: file paths or ``embedded:NAME`` (scikit-image photos).
        size: resize (centre crop) every image to ``size`` x ``size`` (GNCA: 40, 80, 120);
            None keeps the native size.
        patch_size: patch side (GNCA: 40).
        iterations_per_epoch: training iterations per epoch (GNCA: 224).
        background: colour that transparent images are composited onto (``white``, ``#rrggbb``);
            None refuses images with transparent pixels.  Other modes are converted to RGB and
            each conversion is listed in :attr:`notes`.
    """

    def __init__(self, images: Sequence[str] = ("embedded:astronaut",), size: Optional[int] = 120,
                 patch_size: int = 40, iterations_per_epoch: int = 224,
                 background: Optional[str] = None) -> None:
        super().__init__()
        if isinstance(images, str):
            images = [images]
        if not images:
            raise ValueError("PatchBankDataModule needs at least one image")
        if patch_size < 3:
            raise ValueError(f"patch_size must be >= 3, got {patch_size}")
        if iterations_per_epoch < 1:
            raise ValueError("iterations_per_epoch must be >= 1")
        self.images, self.size, self.patch_size = list(images), size, int(patch_size)
        self.iterations_per_epoch = int(iterations_per_epoch)
        self.originals: list[np.ndarray] = []
        #: one line per image that was converted to 8-bit RGB (mode, EXIF rotation, alpha)
        self.notes: list[str] = []
        for src in self.images:
            arr, note = read_rgb(src, background)
            self.notes += [note] if note else []
            arr = resize_square(arr, size)
            if min(arr.shape[:2]) < MIN_SIDE:
                raise ImageError(f"{src} is {arr.shape[1]}x{arr.shape[0]} px; GNCA needs at least "
                                 f"{MIN_SIDE}x{MIN_SIDE}")
            self.originals.append(arr)
        tiles = [cut_patches(to_tensor(a), self.patch_size, pad=True) for a in self.originals]
        #: ``(num_patches, 3, p, p)`` in [0, 1], images one after another, row-major patches.
        self.targets = torch.cat(tiles)
        #: per image: (first patch index, number of patches, height, width)
        self.layout, start = [], 0
        for a, t in zip(self.originals, tiles):
            self.layout.append((start, len(t), a.shape[0], a.shape[1]))
            start += len(t)

    @property
    def num_patches(self) -> int:
        """Patches in the bank, over all images."""
        return len(self.targets)

    def train_dataloader(self) -> DataLoader:
        """Iteration indices only (``iterations_per_epoch`` batches); targets are on the task."""
        return DataLoader(torch.arange(self.iterations_per_epoch), batch_size=1)

    def val_dataloader(self) -> DataLoader:
        """One dummy batch: validation decodes the whole bank once."""
        return DataLoader(torch.arange(1), batch_size=1)
