"""Transition functions (cells).  Contract: ``cell(state, cond=None) -> update``."""
from .sobel_mlp import SobelMLPCell, sobel_perception

__all__ = ["SobelMLPCell", "sobel_perception"]
from .vitca import ViTCACell; from .nafca import NAFCACell  # noqa: E702
from .diffusion import DiffusionCell  # noqa: E402,F401
