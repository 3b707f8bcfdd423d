"""Restoration datamodule (LNCA paper §4.1, the authors' ``DataGenerator``).

Images come from any folder (CelebA, CIFAR-10, TinyImageNet exported as images: each image resized
to ``image_size``; large real photos such as Renoir, SID, GoPro, RealBlur: set ``tile`` to cut each
one into ``tile x tile`` tiles first -- the tile-shrink-clean procedure) or, by default, from the
photos bundled with scikit-image, cut into 64 px tiles and shrunk to 32 x 32.  "Clean" drops
near-flat tiles (std below ``min_std``) and exact duplicates.

Splits: 80/20 train+val/test, then 80/20 train/val (64/16/20 %), after one shuffle with
``split_seed`` (the authors' code splits in file-name order; tiles of one photo would then all
land in one split).  Training batches are degraded on the fly with the curriculum strength;
validation and test pairs are degraded once, at the fixed strength, with a fixed seed.
Real degraded datasets (Renoir, SID, GoPro, RealBlur): a ``root`` with ``GT/`` and ``DAMAGED/``
sub-folders holding the same file names is read as pairs (tiled and cleaned together; no
synthetic degradation, no curriculum).
Batches are ``(clean, degraded)``, both ``(B, 3, H, W)`` in [0, 1].
"""
from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Optional

import lightning as L
import numpy as np
import torch
from torch.utils.data import DataLoader, TensorDataset

from ..layers import cut_patches, to_tensor
from .degradations import Curriculum, degrade
from .images import EMBEDDED_PHOTOS, ImageError, list_images, load_rgb_uint8, resize_square


def tile_shrink_clean(images: list[np.ndarray], image_size: int, tile: Optional[int],
                      min_std: float, damaged: Optional[list[np.ndarray]] = None) -> tuple:
    """Tile (optional), shrink to ``image_size`` and clean (flat tiles, duplicates).

    Returns ``(clean, damaged)`` as ``(N, 3, S, S)`` floats in [0, 1]; ``damaged`` is None unless
    paired images were given (they are cut and kept exactly like their clean counterparts).
    """
    out, out_d, seen = [], [], set()
    pairs = zip(images, damaged) if damaged is not None else ((im, None) for im in images)
    for arr, bad in pairs:
        pieces = cut_patches(arr, tile) if tile else [arr]
        bad_pieces = ((cut_patches(bad, tile) if tile else [bad]) if bad is not None
                      else [None] * len(pieces))
        for piece, bad_piece in zip(pieces, bad_pieces):
            small = resize_square(piece, image_size)
            if small.std() / 255.0 < min_std:
                continue
            key = small.tobytes()
            if key in seen:
                continue
            seen.add(key)
            out.append(to_tensor(small))
            if bad_piece is not None:
                out_d.append(to_tensor(resize_square(bad_piece, image_size)))
    if not out:
        raise ImageError("no usable images left after tile-shrink-clean (all flat or duplicates)")
    return torch.stack(out), (torch.stack(out_d) if damaged is not None else None)


def load_pairs(root: Path) -> tuple[list[np.ndarray], list[np.ndarray]]:
    """Real degraded data (Renoir, SID, GoPro, RealBlur): ``root/GT/x`` with ``root/DAMAGED/x``."""
    clean, damaged = [], []
    for gt in list_images(root / "GT"):
        rel = gt.relative_to(root / "GT")
        bad = root / "DAMAGED" / rel
        if not bad.is_file():
            raise ImageError(f"{gt} has no degraded counterpart {bad}")
        a, b = load_rgb_uint8(gt, strict=False), load_rgb_uint8(bad, strict=False)
        if a.shape != b.shape:
            raise ImageError(f"{gt} is {a.shape[1]}x{a.shape[0]} but {bad} is "
                             f"{b.shape[1]}x{b.shape[0]}")
        clean.append(a)
        damaged.append(b)
    return clean, damaged


def tile_split_v0(n: int, seed: int, test: float = 0.2, val: float = 0.2) -> tuple:
    """Release 0.1's tile-level split of ``n`` items: ``(train, val, test)`` index tensors.

    Shuffle once, then 80/20 (train+val / test), 80/20 (train / val).  The shipped restorers were
    trained and measured on it, so it stays until they are retrained on photo-level splits (tiles
    of one photo then never straddle train and test).
    """
    perm = torch.randperm(n, generator=torch.Generator().manual_seed(seed))
    n_test = max(1, int(round(n * test)))
    n_val = max(1, int(round((n - n_test) * val)))
    if n - n_test - n_val < 1:
        raise ImageError(f"only {n} images: too few for train/val/test splits")
    return perm[n_test + n_val :], perm[n_test : n_test + n_val], perm[:n_test]


@lru_cache(maxsize=4)
def embedded_tiles(image_size: int, tile: int, min_std: float) -> torch.Tensor:
    """Tile-shrink-clean of every embedded scikit-image photo available offline (cached)."""
    sources = []
    for name in EMBEDDED_PHOTOS:
        try:
            sources.append(load_rgb_uint8(f"embedded:{name}"))
        except ImageError:
            continue  # photos that need a download are skipped
    return tile_shrink_clean(sources, image_size, tile, min_std)[0]


class RestorationDataModule(L.LightningDataModule):
    """Clean images + synthetic degradation (noise or motion blur) with a training curriculum.

    Args:
        root: folder of images (recursive), or with ``GT/`` + ``DAMAGED/`` sub-folders for real
            degraded pairs; None = the embedded scikit-image photos.
        task: ``"noise"`` (denoising) or ``"blur"`` (deblurring).
        image_size: side the images (or tiles) are shrunk to (paper: 32).
        tile: tile side for tile-shrink-clean (None = resize each whole image; default 64 for the
            embedded photos).
        batch_size: training batch (paper: 8).
        curriculum: increasing strength in training (else the fixed strength throughout).
        intensity, range, a_min, a_max: curriculum settings (None = the paper's per task).
        max_images: keep at most this many images after cleaning (None = all).
        min_std: tiles with a pixel standard deviation below this (0-1 scale) are dropped.
        split_seed, eval_seed: seeds of the split and of the fixed val/test degradations.
    """

    def __init__(self, root: Optional[str] = None, task: str = "noise", image_size: int = 32,
                 tile: Optional[int] = None, batch_size: int = 8, curriculum: bool = True,
                 intensity: Optional[float] = None, range: Optional[float] = None,
                 a_min: Optional[float] = None, a_max: Optional[float] = None,
                 max_images: Optional[int] = None, min_std: float = 0.02, split_seed: int = 0,
                 eval_seed: int = 1234, num_workers: int = 0) -> None:
        super().__init__()
        if image_size < 4 or image_size % 4:
            raise ValueError(f"image_size must be a multiple of 4 (the LNCA latent is H/4), "
                             f"got {image_size}")
        if batch_size < 1:
            raise ValueError(f"batch_size must be >= 1, got {batch_size}")
        self.curriculum = Curriculum(task, range, intensity, a_min, a_max, curriculum)
        self.task, self.image_size, self.batch_size = task, int(image_size), int(batch_size)
        self.root, self.tile, self.max_images, self.min_std = root, tile, max_images, min_std
        self.split_seed, self.eval_seed, self.num_workers = split_seed, eval_seed, num_workers
        self.has_test = True
        self._ready = False

    # ------------------------------------------------------------------ loading
    @property
    def paired(self) -> bool:
        """True when ``root`` holds real degraded data in ``GT/`` and ``DAMAGED/`` sub-folders."""
        return (self.root is not None and (Path(self.root) / "GT").is_dir()
                and (Path(self.root) / "DAMAGED").is_dir())

    def _load(self) -> tuple:
        damaged = None
        if self.root is None:
            images = embedded_tiles(self.image_size, self.tile or 64, self.min_std)
        elif self.paired:
            clean, bad = load_pairs(Path(self.root))
            images, damaged = tile_shrink_clean(clean, self.image_size, self.tile, self.min_std,
                                                bad)
        else:
            sources = [load_rgb_uint8(p, strict=False) for p in list_images(Path(self.root))]
            images, _ = tile_shrink_clean(sources, self.image_size, self.tile, self.min_std)
        if self.max_images:
            images = images[: self.max_images]
            damaged = damaged[: self.max_images] if damaged is not None else None
        return images, damaged

    def setup(self, stage: Optional[str] = None) -> None:
        """Load, clean and split the images (once); degrade val/test once at the fixed strength."""
        if self._ready:
            return
        images, damaged = self._load()
        train, val, test = tile_split_v0(len(images), self.split_seed)
        if damaged is not None:  # real pairs: no synthetic degradation, no curriculum
            self.train_set = (images[train], damaged[train])
            self.val_pairs = (images[val], damaged[val])
            self.test_pairs = (images[test], damaged[test])
        else:
            self.train_set = (images[train],)
            fixed = self.curriculum.strength(None)
            gen = torch.Generator().manual_seed(self.eval_seed)
            self.val_pairs = (images[val], degrade(images[val], self.task, fixed, gen))
            self.test_pairs = (images[test], degrade(images[test], self.task, fixed, gen))
        self._ready = True

    # ------------------------------------------------------------------ loaders
    def train_dataloader(self) -> DataLoader:
        """Shuffled training batches: ``(clean,)`` (degraded on the device) or real pairs."""
        return DataLoader(TensorDataset(*self.train_set), batch_size=self.batch_size, shuffle=True,
                          drop_last=len(self.train_set[0]) >= self.batch_size,
                          num_workers=self.num_workers)

    def val_dataloader(self) -> DataLoader:
        """Fixed ``(clean, degraded)`` validation pairs."""
        return DataLoader(TensorDataset(*self.val_pairs), batch_size=self.batch_size,
                          num_workers=self.num_workers)

    def test_dataloader(self) -> DataLoader:
        """Fixed ``(clean, degraded)`` test pairs."""
        return DataLoader(TensorDataset(*self.test_pairs), batch_size=self.batch_size,
                          num_workers=self.num_workers)

    def progress(self) -> Optional[float]:
        """Curriculum progress in [0, 1].

        The task's own if it has one (LNCA resets it per phase), else epoch / epochs.
        """
        trainer = self.trainer
        if trainer is None:
            return None
        own = getattr(trainer.lightning_module, "curriculum_progress", None)
        if own is not None:
            return own
        epochs = trainer.max_epochs if trainer.max_epochs and trainer.max_epochs > 0 else None
        return trainer.current_epoch / epochs if epochs else 0.0

    def on_after_batch_transfer(self, batch, dataloader_idx: int):
        """Training batches ``(clean,)`` -> ``(clean, degraded)`` at the curriculum strength."""
        if len(batch) == 1:
            clean = batch[0]
            return clean, degrade(clean, self.task, self.curriculum.strength(self.progress()))
        return batch
