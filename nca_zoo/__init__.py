"""nca_zoo: a PyTorch Lightning model zoo of Neural Cellular Automata.

Public API: :func:`create_model`, :func:`list_models`, the shared :class:`Automaton`.
"""
from ._registry import create_model, list_models, register_model
from .automaton import Automaton

from . import models  # noqa: F401  (fills the registry)

__all__ = ["Automaton", "create_model", "list_models", "register_model"]
__version__ = "0.1.0"
