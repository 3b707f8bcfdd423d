"""LightningModules, one per task."""
from .compression import GNCACompression
from .diffusion import DiffusionTask
from .gnca_prior import GNCAPrior
from .lnca import LNCARestoration
from .supervised import SupervisedRestoration
from .vitca import ViTCARestoration
from .vnca import VNCATask

__all__ = ["DiffusionTask", "GNCACompression", "GNCAPrior", "LNCARestoration",
           "SupervisedRestoration", "ViTCARestoration", "VNCATask"]
