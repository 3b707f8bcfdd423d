"""Image data for the diffusion models (Diff-NCA paper §4.1).

Two protocols, both split 80 / 10 / 10 into train / val / test with a fixed seed:

* ``mode="resize"`` (CelebA): every image of a folder is centre-cropped to a square and resized to
  ``size`` x ``size`` (64); images are read lazily, so a 200k-image folder is fine.
* ``mode="patches"`` (BCSS pathology): every image is optionally down-scaled (BCSS: by 4) and cut
  into ``size`` x ``size`` patches with ``stride``; the split is over patches.

``images`` is a folder, or a list of files / ``embedded:NAME`` photos of scikit-image.  The
default is the embedded pathology slide ``immunohistochemistry`` cut into 64x64 patches; the
``EMBEDDED_PHOTOS_DIFFUSION`` list gives patches of the bundled colour photos.
"""
from __future__ import annotations

import os
from pathlib import Path
from typing import Optional, Sequence, Union

import lightning as L
import numpy as np
import torch
from PIL import Image
from torch import Tensor
from torch.utils.data import DataLoader, Dataset

from ..layers import cut_patches, split_indices, to_tensor
from .images import ImageError, list_images, load_rgb_uint8, resize_square

EMBEDDED_PATHOLOGY = ("embedded:immunohistochemistry",)
EMBEDDED_PHOTOS_DIFFUSION = ("embedded:astronaut", "embedded:coffee", "embedded:chelsea",
                             "embedded:rocket", "embedded:cat")
MODES = ("resize", "patches")


def _downscale(arr: np.ndarray, scale: float) -> np.ndarray:
    if scale == 1.0:
        return arr
    h, w = arr.shape[:2]
    size = (max(1, round(w * scale)), max(1, round(h * scale)))
    return np.asarray(Image.fromarray(arr).resize(size, Image.LANCZOS), dtype=np.uint8)


class _Resized(Dataset):
    def __init__(self, files: Sequence[Path], size: int, flip: bool) -> None:
        self.files, self.size, self.flip = list(files), size, flip

    def __len__(self) -> int:
        return len(self.files)

    def __getitem__(self, i: int) -> Tensor:
        arr = resize_square(load_rgb_uint8(self.files[i], background="white"), self.size)
        return _maybe_flip(to_tensor(arr), self.flip)


class _Patches(Dataset):
    def __init__(self, patches: Tensor, flip: bool) -> None:
        self.patches, self.flip = patches, flip

    def __len__(self) -> int:
        return len(self.patches)

    def __getitem__(self, i: int) -> Tensor:
        return _maybe_flip(to_tensor(self.patches[i]), self.flip)


def _maybe_flip(x: Tensor, flip: bool) -> Tensor:
    """Horizontal flip with probability 1/2 when ``flip`` (training augmentation)."""
    return x.flip(-1) if flip and torch.rand(()) < 0.5 else x


class DiffusionDataModule(L.LightningDataModule):
    """Images in [0, 1], ``(3, size, size)``, for DDPM training.  See the module docstring.

    Args:
        images: a folder, or a list of image files / ``embedded:NAME``.
        mode: ``resize`` (CelebA protocol) or ``patches`` (BCSS protocol).
        size: side of a training image (64).
        stride: patch stride in ``patches`` mode (default ``size``: non-overlapping).
        scale: down-scaling before patching (BCSS: 0.25).
        split: train / val / test fractions (0.8, 0.1, 0.1).
        batch_size: 16 in the paper's CelebA configs.
        hflip: random horizontal flips for training.
        limit: use at most this many training items (quick runs).
    """

    has_test = True

    def __init__(self, images: Union[str, Sequence[str]] = EMBEDDED_PATHOLOGY,
                 mode: str = "patches", size: int = 64, stride: Optional[int] = None,
                 scale: float = 1.0, split: Sequence[float] = (0.8, 0.1, 0.1),
                 batch_size: int = 16, num_workers: int = 0, hflip: bool = True,
                 limit: Optional[int] = None, seed: int = 0) -> None:
        super().__init__()
        if mode not in MODES:
            raise ValueError(f"mode must be one of {MODES}, got {mode!r}")
        if size < 2 or batch_size < 1 or not 0 < scale <= 1:
            raise ValueError("size must be >= 2, batch_size >= 1, scale in (0, 1]")
        self.mode, self.size, self.scale = mode, int(size), float(scale)
        self.stride = int(stride or size)
        self.batch_size, self.num_workers, self.hflip = int(batch_size), int(num_workers), hflip
        self.limit, self.seed = limit, seed
        sources = self._sources(images)
        if mode == "resize":
            self.items: Union[list, Tensor] = sources
        else:
            parts = [cut_patches(_downscale(load_rgb_uint8(s, background="white"), self.scale),
                                 self.size, self.stride) for s in sources]
            patches = np.concatenate(parts)
            if len(patches) == 0:
                raise ImageError(f"no {size}x{size} patch fits in the given images")
            self.items = torch.from_numpy(patches)
        self.parts = split_indices(len(self.items), split, seed)
        if len(self.parts[0]) == 0:
            raise ImageError(f"only {len(self.items)} images/patches: nothing left for training")

    @staticmethod
    def _sources(images) -> list:
        if isinstance(images, (str, os.PathLike)) and not str(images).startswith("embedded:"):
            return list_images(images)
        images = [images] if isinstance(images, str) else list(images)
        if not images:
            raise ImageError("no images given")
        return images

    def dataset(self, part: str, augment: bool = False) -> Dataset:
        """``train`` / ``val`` / ``test`` split as a Dataset of float ``(3, size, size)``."""
        idx = self.parts[("train", "val", "test").index(part)]
        if part == "train" and self.limit is not None:
            idx = idx[: self.limit]
        if self.mode == "resize":
            return _Resized([self.items[i] for i in idx], self.size, augment)
        return _Patches(self.items[torch.as_tensor(idx, dtype=torch.long)], augment)

    def real_images(self, part: str = "test", n: Optional[int] = None) -> Tensor:
        """Up to ``n`` images of a split as ``uint8 (N, 3, size, size)`` (FID reference set)."""
        ds = self.dataset(part)
        n = len(ds) if n is None else min(n, len(ds))
        return torch.stack([ds[i] for i in range(n)]).mul(255).round().to(torch.uint8)

    def _loader(self, part: str, shuffle: bool) -> DataLoader:
        ds = self.dataset(part, augment=shuffle and self.hflip)
        if len(ds) == 0:   # tiny datasets: evaluate on training items rather than on nothing
            ds = self.dataset("train")
        return DataLoader(ds, batch_size=self.batch_size, shuffle=shuffle, drop_last=False,
                          num_workers=self.num_workers, persistent_workers=self.num_workers > 0)

    def train_dataloader(self) -> DataLoader:
        """Shuffled training split (with random flips if ``hflip``)."""
        return self._loader("train", True)

    def val_dataloader(self) -> DataLoader:
        """Validation split in order (the training items if the split is empty)."""
        return self._loader("val", False)

    def test_dataloader(self) -> DataLoader:
        """Test split in order (the training items if the split is empty)."""
        return self._loader("test", False)
