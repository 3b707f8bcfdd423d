"""DataModule for per-image fitting: the same batch of images at every step.

The latent codec fits every image's own latents, so training sees one fixed batch again and
again: one photo (``compress --codec latent``), or a fixed set of random crops of the training
photos (the latent codec's rule prior, trained jointly with every crop's latents).
"""
from __future__ import annotations

from typing import Iterator, Optional, Sequence, Union

import lightning as L
import torch
from torch import Tensor
from torch.utils.data import DataLoader, IterableDataset

from ..layers import to_tensor
from .images import read_rgb, resize_square
from .prior_patches import DEFAULT_SIZES, TRAINING_PHOTOS, random_crop


class _Repeat(IterableDataset):
    """Yields the same tensor forever (the trainer's ``max_steps`` ends the run)."""

    def __init__(self, batch: Tensor) -> None:
        self.batch = batch

    def __iter__(self) -> Iterator[Tensor]:
        while True:
            yield self.batch


class ImageBatchDataModule(L.LightningDataModule):
    """A fixed batch of images ``(N, 3, H, W)`` in [0, 1], repeated at every training step.

    Args:
        images: image files / ``embedded:NAME``; None: the embedded training photos
            (:data:`~nca_zoo.data.prior_patches.TRAINING_PHOTOS`, never the held-out ones).
        size: resize each photo to this square side first (centre crop); None keeps it.
        crops: 0 uses the images whole (they must then share one size); N > 0 draws N random
            ``crop_size`` crops (flips, 90-degree turns) of the photos at each side in ``sizes``.
        crop_size: side of the crops.
        sizes: sides the photos are resized to before cropping (several scales).
        seed: crop seed.
        background: colour behind transparent images.
    """

    def __init__(self, images: Union[str, Sequence[str], None] = None,
                 size: Optional[int] = None, crops: int = 0, crop_size: int = 64,
                 sizes: Sequence[int] = DEFAULT_SIZES, seed: int = 0,
                 background: Optional[str] = None) -> None:
        super().__init__()
        self.save_hyperparameters()
        if crops < 0 or crop_size < 1:
            raise ValueError(f"need crops >= 0 and crop_size >= 1, got {crops}, {crop_size}")
        sources = ([f"embedded:{p}" for p in TRAINING_PHOTOS] if images is None else
                   [images] if isinstance(images, str) else list(images))
        loaded = [read_rgb(s, background=background) for s in sources]
        #: lines about converted images (mode, transparency), for the CLI to print
        self.notes = [f"{s}: {img.note}" for s, img in zip(sources, loaded) if img.note]
        #: the images at their native size, ``uint8 (H, W, 3)``
        self.originals = [resize_square(img.pixels, size) for img in loaded]
        if crops:
            photos = [to_tensor(resize_square(o, s)) for o in self.originals for s in sizes
                      if s >= crop_size]
            if not photos:
                raise ValueError(f"no photo size in {list(sizes)} holds a {crop_size} px crop")
            g = torch.Generator().manual_seed(seed)
            self.images = torch.stack([random_crop(photos, crop_size, g) for _ in range(crops)])
        else:
            shapes = {o.shape for o in self.originals}
            if len(shapes) != 1:
                raise ValueError(f"images of different sizes in one batch: {sorted(shapes)}; "
                                 f"give size= or fit them one by one")
            self.images = torch.stack([to_tensor(o) for o in self.originals])

    def train_dataloader(self) -> DataLoader:
        """The batch, forever; ``batch_size=None`` hands it over as it is."""
        return DataLoader(_Repeat(self.images), batch_size=None)
