"""LightningModules, one per task."""
from .compression import GNCACompression

__all__ = ["GNCACompression"]
