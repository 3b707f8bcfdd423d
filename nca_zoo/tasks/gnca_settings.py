"""GNCACompression's grouped settings (a mapping in YAML): where every patch's NCA starts."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Literal, Optional

from ..compression.prior import DEFAULT_PRIOR_WEIGHT, INITS, check_prior_weight


@dataclass
class BankInit:
    """Where every NCA of a GNCA bank starts.

    ``weights``: ``"random"`` (the paper) or ``"prior"``: a Reptile-meta-learned prior
    (:mod:`nca_zoo.compression.prior`), applied when ``fit`` sets up (a resumed checkpoint's
    weights replace it).  ``prior``: a shipped name or folder; None = the shipped
    ``gnca-<size>-prior`` of the model's size.  ``prior_weight``: each NCA starts from
    ``w * prior + (1 - w) * random`` (shrink and perturb,
    :func:`~nca_zoo.compression.prior.init_from_prior`); 1 copies the prior.
    """

    weights: Literal["random", "prior"] = "random"
    prior: Optional[str] = None
    prior_weight: float = DEFAULT_PRIOR_WEIGHT

    def __post_init__(self) -> None:
        if self.weights not in INITS:
            raise ValueError(f"init weights must be one of {', '.join(INITS)}, "
                             f"got {self.weights!r}")
        check_prior_weight(self.prior_weight)
