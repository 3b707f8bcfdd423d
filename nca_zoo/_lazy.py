"""Package ``__init__`` files that import their names on first use (PEP 562).

A package's ``__init__`` lists what it exports and from which of its own modules; nothing is
imported until a name is used, so ``import nca_zoo.<package>`` stays cheap and a tool loads only
what it needs (Lightning, diffusers, torchmetrics come with the modules that use them).
"""
from __future__ import annotations

import importlib
import sys
from typing import Callable


def lazy_exports(package: str, exports: dict[str, str]) -> tuple[Callable, Callable, list]:
    """``(__getattr__, __dir__, __all__)`` for ``package``: ``exports`` maps name -> submodule.

    Use as ``__getattr__, __dir__, __all__ = lazy_exports(__name__, {"Name": "module"})``.  A
    name must differ from every submodule's name (importing a submodule sets the package attribute
    of that name to the module).
    """

    def __getattr__(name: str):
        if name not in exports:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        value = getattr(importlib.import_module(f"{package}.{exports[name]}"), name)
        setattr(sys.modules[package], name, value)  # later lookups skip this function
        return value

    def __dir__() -> list[str]:
        return sorted(set(exports) | set(vars(importlib.import_module(package))))

    return __getattr__, __dir__, sorted(exports)
