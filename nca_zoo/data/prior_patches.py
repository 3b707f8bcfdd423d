"""DataModule for meta-training a GNCA prior: random square crops of a folder of photos.

Default photos: the embedded scikit-image photos minus the held-out set of
:mod:`nca_zoo.data.held_out` (the benchmarks test priors on those, so no prior trains on them).
Each photo is centre-cropped to a square and resized to every side in ``size`` (several scales),
then crops of ``patch_size`` are drawn with random flips and 90-degree turns.  Crop ``i`` is a
deterministic function of ``(seed, i)``, so a run is reproducible and, under DDP, Lightning's
distributed sampler hands every rank its own crops.
"""
from __future__ import annotations

from pathlib import Path
from typing import Sequence, Union

import lightning as L
import torch
from torch import Tensor
from torch.utils.data import DataLoader, Dataset

from ..layers import to_tensor
from .held_out import HELD_OUT_PHOTOS
from .images import EMBEDDED_PHOTOS, ImageError, list_images, read_rgb, resize_square

#: photos a prior trains on by default: embedded photos that are not held out
TRAINING_PHOTOS = tuple(p for p in EMBEDDED_PHOTOS if p not in HELD_OUT_PHOTOS)
#: default sides (scales) the photos are resized to: about the quickstart's 120 px and above
DEFAULT_SIZES = (96, 160, 256)


def random_crop(images: Sequence[Tensor], patch: int, generator: torch.Generator) -> Tensor:
    """One ``(3, patch, patch)`` crop of a random image, randomly flipped and turned."""
    img = images[int(torch.randint(len(images), (1,), generator=generator))]
    _, h, w = img.shape
    top = int(torch.randint(h - patch + 1, (1,), generator=generator))
    left = int(torch.randint(w - patch + 1, (1,), generator=generator))
    crop = img[:, top : top + patch, left : left + patch]
    turns, flip = torch.randint(4, (2,), generator=generator).tolist()
    crop = torch.rot90(crop, turns, dims=(1, 2))
    return (crop.flip(2) if flip % 2 else crop).contiguous()


class RandomCrops(Dataset):
    """``length`` crops; crop ``i`` is drawn from a generator seeded with ``(seed, i)``."""

    def __init__(self, images: Sequence[Tensor], patch: int, length: int, seed: int) -> None:
        self.images, self.patch, self.length, self.seed = list(images), patch, length, seed

    def __len__(self) -> int:
        return self.length

    def __getitem__(self, i: int) -> Tensor:
        g = torch.Generator().manual_seed(self.seed * 1_000_003 + int(i))
        return random_crop(self.images, self.patch, g)


class PriorPatchDataModule(L.LightningDataModule):
    """Random crops of photos for Reptile meta-training of a GNCA prior.

    Args:
        images: a folder of images, a list of files / ``embedded:NAME``, or None for the
            embedded photos minus the held-out ones (:data:`TRAINING_PHOTOS`).  Held-out photos
            are refused.
        size: side(s) every photo is resized to (centre-cropped square) before cropping; several
            sides = several scales; None keeps the native size.
        patch_size: crop side (GNCA: 40).
        patches_per_step: patches per meta-step (per rank under DDP).
        iterations_per_epoch: meta-steps per epoch.
        val_patches: fixed crops (of the same photos, another seed) for validation.
        seed: crop seed.
    """

    def __init__(self, images: Union[str, Sequence[str], None] = None,
                 size: Union[int, Sequence[int], None] = DEFAULT_SIZES, patch_size: int = 40,
                 patches_per_step: int = 8, iterations_per_epoch: int = 1000,
                 val_patches: int = 8, seed: int = 0) -> None:
        super().__init__()
        self.save_hyperparameters()
        if patch_size < 3:
            raise ValueError(f"patch_size must be >= 3, got {patch_size}")
        if min(patches_per_step, iterations_per_epoch, val_patches) < 1:
            raise ValueError("patches_per_step, iterations_per_epoch and val_patches must be >= 1")
        self.sources = self._sources(images)
        sizes = [size] if size is None or isinstance(size, int) else list(size)
        self.patch_size, self.patches_per_step = int(patch_size), int(patches_per_step)
        self.iterations_per_epoch, self.seed = int(iterations_per_epoch), int(seed)
        #: every photo at every size, float ``(3, H, W)`` in [0, 1]
        self.images: list[Tensor] = []
        for src in self.sources:
            arr = read_rgb(src, background="white").pixels
            for s in sizes:
                img = resize_square(arr, s)
                if min(img.shape[:2]) < self.patch_size:
                    raise ImageError(f"{src} at size {s} is {img.shape[1]}x{img.shape[0]} px, "
                                     f"smaller than a {self.patch_size} px patch")
                self.images.append(to_tensor(img))
        g = torch.Generator().manual_seed(10_007 + self.seed)  # not a training crop seed
        #: ``(val_patches, 3, p, p)``: fixed validation crops
        self.val_targets = torch.stack([random_crop(self.images, self.patch_size, g)
                                        for _ in range(val_patches)])

    @staticmethod
    def _sources(images) -> list[str]:
        if images is None:
            return [f"embedded:{p}" for p in TRAINING_PHOTOS]
        if isinstance(images, (str, Path)) and Path(images).is_dir():
            return [str(p) for p in list_images(images)]
        srcs = [str(images)] if isinstance(images, (str, Path)) else [str(i) for i in images]
        if not srcs:
            raise ValueError("PriorPatchDataModule needs at least one image")
        held = [s for s in srcs if s.split(":", 1)[-1] in HELD_OUT_PHOTOS]
        if held:
            raise ValueError(f"{held[0]} is a held-out photo (nca_zoo.data.held_out): the "
                             f"benchmarks test priors on it, so priors never train on it")
        return srcs

    def train_dataloader(self) -> DataLoader:
        """Batches of ``patches_per_step`` crops ``(B, 3, p, p)``."""
        crops = RandomCrops(self.images, self.patch_size,
                            self.iterations_per_epoch * self.patches_per_step, self.seed)
        return DataLoader(crops, batch_size=self.patches_per_step, shuffle=False)

    def val_dataloader(self) -> DataLoader:
        """One dummy batch: validation adapts the fixed :attr:`val_targets` once."""
        return DataLoader(torch.arange(1), batch_size=1)
