"""nca_zoo: a PyTorch Lightning model zoo of Neural Cellular Automata.

Public API: :func:`create_model`, :func:`list_models`, :func:`model_info` (parameter count, tiny
configuration and call family of a variant), :func:`load_pretrained` (:class:`PretrainedError`),
:func:`list_pretrained`, :func:`save_pretrained`, the shared :class:`Automaton`.  See
``docs/architecture.md``.

Importing the package registers every model variant (plain ``nn.Module`` files: cheap) and
nothing else; the names below, the tasks (Lightning), the samplers (diffusers) and the metrics
(torchmetrics) are imported when first used, so the tools start fast (PEP 562).
"""
from . import models  # noqa: F401  (fills the registry)
from ._lazy import lazy_exports

__getattr__, __dir__, __all__ = lazy_exports(__name__, {
    "Automaton": "automaton", "PretrainedError": "_pretrained", "list_pretrained": "_pretrained",
    "load_pretrained": "_pretrained", "save_pretrained": "_pretrained", "ModelInfo": "_registry",
    "create_model": "_registry", "list_models": "_registry", "model_info": "_registry",
    "register_model": "_registry"})
__version__ = "0.1.0"
