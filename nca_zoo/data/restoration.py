"""Restoration datamodule (LNCA paper §4.1, the authors' ``DataGenerator``).

Images come from any folder (CelebA, CIFAR-10, TinyImageNet exported as images: each image resized
to ``image_size``; large real photos such as Renoir, SID, GoPro, RealBlur: set ``tile`` to cut each
one into ``tile x tile`` tiles first -- the tile-shrink-clean procedure) or, by default, from the
photos bundled with scikit-image, cut into 64 px tiles and shrunk to 32 x 32.  "Clean" drops
near-flat tiles (std below ``tiling.min_std``) and exact duplicates.

Splits are by photo: 80/20 train+val/test, then 80/20 train/val (64/16/20 % of the photos, at
least one each), after one shuffle with ``split.seed``, and every tile of a photo goes where its
photo goes, so validation and test measure photos never trained on.  ``split.by="tile"`` keeps
release 0.1's tile-level split (tiles of one photo in train and test: it measures memory).
Training batches are degraded on the fly with the curriculum strength; validation and test pairs
are degraded once, at the fixed strength, with a fixed seed.
``root="corpus"`` reads the photo corpus fetched by ``python -m nca_zoo.data.corpus fetch``
(:mod:`nca_zoo.data.corpus`); ``split.by="name"`` splits a folder by a hash of each file name.
Real degraded datasets (Renoir, SID, GoPro, RealBlur): a ``root`` with ``GT/`` and ``DAMAGED/``
sub-folders holding the same file names is read as pairs (tiled and cleaned together; no
synthetic degradation, no curriculum).
Batches are ``(clean, degraded)``, both ``(B, 3, H, W)`` in [0, 1].
"""
from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Optional, Sequence

import lightning as L
import numpy as np
import torch
from torch.utils.data import DataLoader, TensorDataset

from ..layers import cut_patches, nested_split_indices, to_tensor
from ..layers.settings import as_settings
from .corpus import split_by_name
from .degradations import degrade
from .images import (
    EMBEDDED_PHOTOS,
    ImageError,
    list_images,
    load_rgb_uint8,
    resize_square,
    skimage_photo,
)
from .restoration_settings import CurriculumSettings, DataSplit, Tiling

#: grayscale scikit-image photos used as extra training texture (``textures=True``); disjoint
#: from the held-out photos of :mod:`nca_zoo.data.held_out`
TRAINING_TEXTURES = ("gravel", "text", "page", "clock", "cell")


def cut_scales(arr: np.ndarray, tile: Optional[int], scales: Sequence[int]) -> list[np.ndarray]:
    """Tiles of side ``tile * s`` for each scale ``s`` that fits the photo.

    The whole photo if ``tile`` is None.  Shrunk to one size later, the larger tiles show the
    photo's content at the scale of a downsized photo.
    """
    if not tile:
        return [arr]
    sides = [tile * k for k in scales if tile * k <= min(arr.shape[:2])] or [tile]
    return [piece for side in sides for piece in cut_patches(arr, side)]


def tiles_per_photo(images: list[np.ndarray], image_size: int, tile: Optional[int],
                    min_std: float, damaged: Optional[list[np.ndarray]] = None,
                    scales: Sequence[int] = (1,)) -> list[tuple]:
    """Tile (optional), shrink to ``image_size`` and clean (flat tiles, duplicates), per photo.

    ``scales``: cut tiles of ``tile * s`` for each ``s`` (multi-scale crops, see
    :func:`cut_scales`).  Returns one ``(clean, damaged)`` pair per photo that keeps a tile, each
    ``(n_i, 3, S, S)`` floats in [0, 1]; ``damaged`` is None unless paired images were given
    (they are cut and kept exactly like their clean counterparts).  Duplicates are dropped across
    photos too, so no tile can sit in two splits.
    """
    photos, seen = [], set()
    pairs = zip(images, damaged) if damaged is not None else ((im, None) for im in images)
    for arr, bad in pairs:
        pieces = cut_scales(arr, tile, scales)
        bad_pieces = cut_scales(bad, tile, scales) if bad is not None else [None] * len(pieces)
        out, out_d = [], []
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
        if out:
            photos.append((torch.stack(out), torch.stack(out_d) if out_d else None))
    if not photos:
        raise ImageError("no usable images left after tile-shrink-clean (all flat or duplicates)")
    return photos


def load_pairs(root: Path) -> tuple[list[np.ndarray], list[np.ndarray]]:
    """Real degraded data (Renoir, SID, GoPro, RealBlur): ``root/GT/x`` with ``root/DAMAGED/x``."""
    clean, damaged = [], []
    for gt in list_images(root / "GT"):
        rel = gt.relative_to(root / "GT")
        bad = root / "DAMAGED" / rel
        if not bad.is_file():
            raise ImageError(f"{gt} has no degraded counterpart {bad}")
        a, b = load_rgb_uint8(gt, background="white"), load_rgb_uint8(bad, background="white")
        if a.shape != b.shape:
            raise ImageError(f"{gt} is {a.shape[1]}x{a.shape[0]} but {bad} is "
                             f"{b.shape[1]}x{b.shape[0]}")
        clean.append(a)
        damaged.append(b)
    return clean, damaged


def embedded_sources() -> list[np.ndarray]:
    """The embedded training photos available offline, each once (``cat`` is ``chelsea``)."""
    sources, seen = [], set()
    for name in EMBEDDED_PHOTOS:
        try:
            arr = load_rgb_uint8(f"embedded:{name}")
        except ImageError:
            continue  # photos that need a download are skipped
        if arr.tobytes() not in seen:
            seen.add(arr.tobytes())
            sources.append(arr)
    return sources


@lru_cache(maxsize=8)
def embedded_tiles(image_size: int, tile: int, min_std: float,
                   scales: tuple = (1,)) -> list[tuple]:
    """:func:`tiles_per_photo` of the embedded photos (cached)."""
    return tiles_per_photo(embedded_sources(), image_size, tile, min_std, scales=scales)


@lru_cache(maxsize=8)
def texture_tiles(image_size: int, tile: int, min_std: float, scales: tuple = (1,)) -> tuple:
    """Tiles of the grayscale training textures (:data:`TRAINING_TEXTURES`), RGB (cached)."""
    photos = [skimage_photo(n) for n in TRAINING_TEXTURES]
    return tuple(tiles_per_photo(photos, image_size, tile, min_std, scales=scales))


class RestorationDataModule(L.LightningDataModule):
    """Clean images + synthetic degradation (noise or motion blur) with a training curriculum.

    Args:
        root: folder of images (recursive), or with ``GT/`` + ``DAMAGED/`` sub-folders for real
            degraded pairs; ``"corpus"`` = the fetched photo corpus
            (:func:`~nca_zoo.data.corpus.corpus_dir`); None = the embedded scikit-image photos.
        task: ``"noise"`` (denoising) or ``"blur"`` (deblurring).
        image_size: side the images (or tiles) are shrunk to (paper: 32).
        tiling: tile-shrink-clean (:class:`~nca_zoo.data.restoration_settings.Tiling`, a
            mapping in YAML: tile ``size``, ``min_std``).
        batch_size: training batch (paper: 8).
        curriculum: the training strength
            (:class:`~nca_zoo.data.restoration_settings.CurriculumSettings`, a mapping in YAML).
        max_images: a quick subset: at most this many training tiles (a quarter for val / test;
            with ``split.by="tile"``, this many tiles before splitting); None = all.  Val / test
            never hold more than 32 tiles or a quarter of the training tiles (an even sample).
        split: by photo or by tile, and the seeds
            (:class:`~nca_zoo.data.restoration_settings.DataSplit`, a mapping in YAML).
        augment: flip and rotate (by 90 degrees) every training batch at random.
        scales: also cut tiles of ``tile * s`` for each ``s`` (multi-scale crops: shrunk to
            ``image_size``, a large tile looks like a downsized photo), e.g. ``[1, 2, 4]``.
        textures: add the grayscale scikit-image textures (:data:`TRAINING_TEXTURES`) to the
            training photos (embedded data only).
    """

    def __init__(self, root: Optional[str] = None, task: str = "noise", image_size: int = 32,
                 tiling: Optional[Tiling] = None, batch_size: int = 8,
                 curriculum: Optional[CurriculumSettings] = None,
                 max_images: Optional[int] = None, split: Optional[DataSplit] = None,
                 num_workers: int = 0, augment: bool = False, scales: Sequence[int] = (1,),
                 textures: bool = False) -> None:
        super().__init__()
        if image_size < 4 or image_size % 4:
            raise ValueError(f"image_size must be a multiple of 4 (the LNCA latent is H/4), "
                             f"got {image_size}")
        if batch_size < 1:
            raise ValueError(f"batch_size must be >= 1, got {batch_size}")
        tiling, split = as_settings(Tiling, tiling), as_settings(DataSplit, split)
        if not scales or any(int(k) < 1 for k in scales):
            raise ValueError(f"scales must be positive integers, got {list(scales)}")
        self.split, self.augment = split.by, augment
        self.scales, self.textures = tuple(int(k) for k in scales), textures
        self.curriculum = as_settings(CurriculumSettings, curriculum).build(task)
        self.task, self.image_size, self.batch_size = task, int(image_size), int(batch_size)
        self.root, self.tile, self.max_images = root, tiling.size, max_images
        self.min_std, self.num_workers = tiling.min_std, num_workers
        self.split_seed, self.eval_seed = split.seed, split.eval_seed
        self.has_test = True
        self._ready = False

    # ------------------------------------------------------------------ loading
    @property
    def folder(self) -> Optional[Path]:
        """The folder of ``root`` (``"corpus"``: the fetched corpus), None for embedded photos."""
        if self.root is None:
            return None
        if str(self.root) == "corpus":
            from .corpus import CorpusError, corpus_dir, is_complete

            if not is_complete(corpus_dir()):
                raise CorpusError(f"no photo corpus at {corpus_dir()}: run `python -m "
                                  f"nca_zoo.data.corpus fetch` (or set $NCA_ZOO_CORPUS)")
            return corpus_dir()
        return Path(self.root).expanduser()

    @property
    def paired(self) -> bool:
        """True when ``root`` holds real degraded data in ``GT/`` and ``DAMAGED/`` sub-folders."""
        return (self.root is not None and (self.folder / "GT").is_dir()
                and (self.folder / "DAMAGED").is_dir())

    def _load(self) -> list:
        """Per photo: ``(clean tiles, damaged tiles or None)``; by name: ``[train, val, test]``."""
        if self.split == "name" and (self.root is None or self.paired):
            raise ValueError("split by name needs a folder of photos (root), not pairs or the "
                             "embedded photos")
        if self.root is None:
            return embedded_tiles(self.image_size, self.tile or 64, self.min_std, self.scales)
        if self.paired:
            clean, bad = load_pairs(self.folder)
            return tiles_per_photo(clean, self.image_size, self.tile, self.min_std, bad,
                                   self.scales)
        paths = list_images(self.folder)
        groups = split_by_name(paths).values() if self.split == "name" else [paths]
        for part, group in zip(("train", "val", "test"), groups):
            if not group:
                raise ImageError(f"split by name left no {part} photo in {self.folder}")
        out = [tiles_per_photo([load_rgb_uint8(p, background="white") for p in group],
                               self.image_size, self.tile, self.min_std, scales=self.scales)
               for group in groups]
        return out if self.split == "name" else out[0]

    def _split(self, photos: list[tuple]) -> list[tuple]:
        """``[train, val, test]``, each ``(clean, damaged or None)``, by photo or by tile."""
        paired = self.paired
        if self.split == "tile":  # release 0.1: tiles of one photo can straddle the splits
            clean = torch.cat([c for c, _ in photos])
            damaged = torch.cat([d for _, d in photos]) if paired else None
            if self.max_images:
                clean = clean[: self.max_images]
                damaged = damaged[: self.max_images] if paired else None
            parts = nested_split_indices(len(clean), self.split_seed)
            return [(clean[i], damaged[i] if paired else None) for i in parts]
        groups = photos if self.split == "name" else [  # by name: _load split the photos
            [photos[i] for i in part]
            for part in nested_split_indices(len(photos), self.split_seed)]
        out = []
        for k, group in enumerate(groups):
            clean = torch.cat([c for c, _ in group])
            damaged = torch.cat([d for _, d in group]) if paired else None
            cap = self.max_images or len(clean)
            if k > 0:  # val / test: at most a quarter of the training tiles, or 32 (one big
                # photo can hold half the tiles), an even sample of them
                cap = max(2, min(cap // 4 if self.max_images else cap,
                                 max(32, len(out[0][0]) // 4)))
            if cap < len(clean):
                keep = torch.linspace(0, len(clean) - 1, cap).round().long()
                clean, damaged = clean[keep], (damaged[keep] if paired else None)
            out.append((clean, damaged))
        return out

    def setup(self, stage: Optional[str] = None) -> None:
        """Load, clean and split the images (once); degrade val/test once at the fixed strength."""
        if self._ready:
            return
        (train, train_d), (val, val_d), (test, test_d) = self._split(self._load())
        if self.textures and self.root is None:  # extra training photos, never val / test
            extra = texture_tiles(self.image_size, self.tile or 64, self.min_std, self.scales)
            train = torch.cat([train, *(c for c, _ in extra)])
        if train_d is not None:  # real pairs: no synthetic degradation, no curriculum
            self.train_set = (train, train_d)
            self.val_pairs, self.test_pairs = (val, val_d), (test, test_d)
        else:
            self.train_set = (train,)
            fixed = self.curriculum.strength(None)
            gen = torch.Generator().manual_seed(self.eval_seed)
            self.val_pairs = (val, degrade(val, self.task, fixed, gen))
            self.test_pairs = (test, degrade(test, self.task, fixed, gen))
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

        The task's own if it has one, else epoch / epochs (LNCA: of the phase's run), or
        step / ``max_steps`` for a run bounded by steps alone.
        """
        trainer = self.trainer
        if trainer is None:
            return None
        own = getattr(trainer.lightning_module, "curriculum_progress", None)
        if own is not None:
            return own
        epochs = trainer.max_epochs if trainer.max_epochs and trainer.max_epochs > 0 else None
        if epochs:
            return trainer.current_epoch / epochs
        steps = trainer.max_steps if trainer.max_steps and trainer.max_steps > 0 else None
        return min(trainer.global_step / steps, 1.0) if steps else 0.0

    def on_after_batch_transfer(self, batch, dataloader_idx: int):
        """Training batches: augmented (``augment``); ``(clean,)`` -> ``(clean, degraded)``."""
        training = self.trainer is not None and self.trainer.training
        if training and self.augment:
            batch = random_flip_rotate(list(batch))
        if len(batch) == 1:
            clean = batch[0]
            return clean, degrade(clean, self.task, self.curriculum.strength(self.progress()))
        return batch


def random_flip_rotate(images: list[torch.Tensor]) -> list[torch.Tensor]:
    """One of the 8 flips / 90-degree rotations, drawn at random, applied to every tensor alike."""
    k, flip = torch.randint(0, 4, (2,)).tolist()
    out = [torch.rot90(x, k, dims=(-2, -1)) for x in images]
    return [x.flip(-1) for x in out] if flip % 2 else out
