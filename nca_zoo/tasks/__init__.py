"""LightningModules, one per task."""
from .compression import GNCACompression
from .diffusion import DiffusionTask
from .restoration import LNCARestoration, SupervisedRestoration, ViTCARestoration
from .vnca import VNCATask

__all__ = ["DiffusionTask", "GNCACompression", "LNCARestoration", "SupervisedRestoration",
           "ViTCARestoration", "VNCATask"]
