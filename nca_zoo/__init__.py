"""nca_zoo: a PyTorch Lightning model zoo of Neural Cellular Automata.

Public API: :func:`create_model`, :func:`list_models`, :func:`model_info` (parameter count, tiny
configuration and call family of a variant), :func:`load_pretrained` (:class:`PretrainedError`),
:func:`list_pretrained`, :func:`save_pretrained`, the shared :class:`Automaton`.  See
``docs/architecture.md``.
"""
from . import models  # noqa: F401  (fills the registry)
from ._pretrained import PretrainedError, list_pretrained, load_pretrained, save_pretrained
from ._registry import ModelInfo, create_model, list_models, model_info, register_model
from .automaton import Automaton

__all__ = ["Automaton", "ModelInfo", "PretrainedError", "create_model", "list_models",
           "list_pretrained", "load_pretrained", "model_info", "register_model", "save_pretrained"]
__version__ = "0.1.0"
