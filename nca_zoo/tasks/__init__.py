"""LightningModules, one per task."""
from .compression import GNCACompression
from .diffusion import DiffusionTask
from .gnca_prior import GNCAPrior
from .restoration import LNCARestoration, SupervisedRestoration, ViTCARestoration
from .vnca import VNCATask

__all__ = ["DiffusionTask", "GNCACompression", "GNCAPrior", "LNCARestoration",
           "SupervisedRestoration", "ViTCARestoration", "VNCATask"]
