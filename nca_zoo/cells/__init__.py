"""Transition functions (cells); the contract is :class:`~nca_zoo.cells.base.Cell`."""
from .base import Cell
from .diffusion import DiffusionCell
from .nafca import NAFCACell
from .sobel_mlp import SobelMLPCell, sobel_perception
from .vitca import ViTCACell
from .vnca import VNCACell

__all__ = ["Cell", "DiffusionCell", "NAFCACell", "SobelMLPCell", "ViTCACell", "VNCACell",
           "sobel_perception"]
