"""Transition functions (cells).  Contract: ``cell(state, cond=None) -> update``."""
from .diffusion import DiffusionCell
from .nafca import NAFCACell
from .sobel_mlp import SobelMLPCell, sobel_perception
from .vitca import ViTCACell

__all__ = ["DiffusionCell", "NAFCACell", "SobelMLPCell", "ViTCACell", "sobel_perception"]
