"""LightningModules, one per task."""
from .compression import GNCACompression

__all__ = ["GNCACompression"]
from .restoration import LNCARestoration, SupervisedRestoration, ViTCARestoration  # noqa: F401
from .diffusion import DiffusionTask  # noqa: F401
