"""RestorationDataModule's grouped settings (mappings in YAML): curriculum, split and tiling."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Optional

from .degradations import Curriculum

SPLITS = ("photo", "tile", "name")


@dataclass
class CurriculumSettings:
    """Degradation strength over training (LNCA authors' ``DataGenerator``; :class:`Curriculum`).

    ``enabled``: the strength rises with training progress (else the fixed strength throughout);
    ``range``, ``intensity`` (the fixed val / test strength), ``a_min``, ``a_max``: None = the
    paper's values for the degradation (noise 1.0, 0.5, 0.25, 0.75; blur 15, 7, 4, 10);
    ``random``: each training batch draws its strength uniformly from ``[a_min, a_max]``
    instead of following the progress (blind training over the whole range).
    """

    enabled: bool = True
    range: Optional[float] = None
    intensity: Optional[float] = None
    a_min: Optional[float] = None
    a_max: Optional[float] = None
    random: bool = False

    def build(self, kind: str) -> Curriculum:
        """The curriculum of degradation ``kind`` (``"noise"`` or ``"blur"``)."""
        return Curriculum(kind, self.range, self.intensity, self.a_min, self.a_max, self.enabled,
                          self.random)


@dataclass
class DataSplit:
    """Train / val / test split (64/16/20 %) and the seed of the fixed val / test degradations.

    ``by``: ``"photo"`` (every tile of a photo in one split: val / test photos are never trained
    on), ``"name"`` (by photo too, each photo's split from a hash of its file name, so it stays
    put when the folder grows: :func:`nca_zoo.data.corpus.split_by_name`; folders only) or
    ``"tile"`` (release 0.1's tile-level split, which measures memory); ``seed``: the shuffle of
    ``"photo"`` and ``"tile"``; ``eval_seed``: the val / test degradations, drawn once.
    """

    by: str = "photo"
    seed: int = 0
    eval_seed: int = 1234

    def __post_init__(self) -> None:
        if self.by not in SPLITS:
            raise ValueError(f"split must be 'photo', 'name' or 'tile', got {self.by!r}")


@dataclass
class Tiling:
    """Tile-shrink-clean (LNCA §4.1): cut large photos into tiles, drop flat tiles.

    ``size``: tile side before shrinking (None = resize each whole image; 64 for the embedded
    photos); ``min_std``: tiles with a pixel standard deviation below this (0-1 scale) are
    dropped.
    """

    size: Optional[int] = None
    min_std: float = 0.02
