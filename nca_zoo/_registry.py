"""Model registry in the style of timm: ``@register_model`` variant functions, ``create_model``.

A variant may carry metadata, recorded with the decorator's keyword form::

    @register_model(num_params=2080, tiny=dict(num_models=2, patch_size=8, steps=4),
                    family="gnca")
    def gnca_medium(**kwargs): ...

* ``num_params``: parameters of ``create_model(name)`` (the default size), an exact count;
* ``tiny``: keyword overrides that build a small, fast version (tests, smoke runs); it must be
  JSON-serialisable unchanged (lists, not tuples), since it ends up in a pretrained
  ``config.json``;
* ``family``: how the model is called, one of :data:`FAMILIES`.

:func:`model_info` returns it as a :class:`ModelInfo`.  The bare form ``@register_model`` still
works and leaves the metadata ``None``.
"""
from __future__ import annotations

import copy
import fnmatch
import json
from dataclasses import dataclass, field
from typing import Any, Callable, Optional

from torch import nn

#: How a model is called (the ``family`` of a registered variant):
#:
#: * ``"gnca"``: no input; ``model.grow()`` returns ``(state, loss)``, ``model()`` decodes patches;
#: * ``"restoration"``: ``model(x)``, ``x`` float ``(B, 3, H, W)`` in [0, 1] (H, W multiples of 4
#:   for the latent models) -> ``(B, 3, H, W)``;
#: * ``"denoiser"``: ``model(x_t, t_frac)``, ``x_t`` ``(B, 3, H, W)``, ``t_frac`` ``(B,)`` in
#:   [0, 1] -> shaped like ``x_t``;
#: * ``"vae"``: ``model(x)``, ``x`` float ``(B, 3, S, S)`` in [0, 1] at the model's ``image_size``
#:   -> its reconstruction ``(B, 3, S, S)``; ``model.sample(n)`` draws from the prior (VNCA).
FAMILIES = ("gnca", "restoration", "denoiser", "vae", "latent_codec")


@dataclass(frozen=True)
class ModelInfo:
    """What the registry knows about one variant.

    Attributes:
        name: the registered name (the variant function's name).
        fn: the variant function; ``fn(**overrides)`` builds the model.
        num_params: parameters of the default-size model, None if not recorded.
        tiny: keyword overrides for a small, fast version, None if not recorded.
        family: how the model is called (one of :data:`FAMILIES`), None if not recorded.
        summary: the first line of the variant's docstring ("" without one).
    """

    name: str
    fn: Callable[..., nn.Module] = field(repr=False)
    num_params: Optional[int] = None
    tiny: Optional[dict[str, Any]] = field(default=None, hash=False)
    family: Optional[str] = None
    summary: str = ""

    @property
    def complete(self) -> bool:
        """True when all three pieces of metadata (num_params, tiny, family) are recorded."""
        return self.num_params is not None and self.tiny is not None and self.family is not None


_MODELS: dict[str, ModelInfo] = {}


def _check_metadata(name: str, num_params: Optional[int], tiny: Optional[dict],
                    family: Optional[str]) -> None:
    if family is not None and family not in FAMILIES:
        raise ValueError(f"model {name!r}: family must be one of {FAMILIES}, got {family!r}")
    if num_params is not None and (isinstance(num_params, bool) or not isinstance(num_params, int)
                                   or num_params < 0):
        raise ValueError(f"model {name!r}: num_params must be an int >= 0, got {num_params!r}")
    if tiny is not None:
        if not isinstance(tiny, dict) or not all(isinstance(k, str) for k in tiny):
            raise ValueError(f"model {name!r}: tiny must be a dict of keyword overrides, "
                             f"got {tiny!r}")
        try:
            same = json.loads(json.dumps(tiny)) == tiny
        except (TypeError, ValueError):
            same = False
        if not same:
            raise ValueError(f"model {name!r}: tiny must survive JSON unchanged (it is saved in a "
                             f"pretrained config.json; use lists, not tuples), got {tiny!r}")


def _summary(fn: Callable) -> str:
    doc = (fn.__doc__ or "").strip()
    return doc.splitlines()[0].strip() if doc else ""


def register_model(fn: Optional[Callable[..., nn.Module]] = None, *,
                   num_params: Optional[int] = None, tiny: Optional[dict[str, Any]] = None,
                   family: Optional[str] = None):
    """Decorator: register a variant function under its own name (a variant is a function).

    Use bare (``@register_model``) or with metadata
    (``@register_model(num_params=..., tiny=dict(...), family="...")``); see the module docstring.

    Args:
        fn: the variant function (given when used bare).
        num_params: exact parameter count of ``fn()``.
        tiny: keyword overrides that build a small, fast version; JSON-serialisable.
        family: one of :data:`FAMILIES`.

    Returns:
        ``fn`` itself (bare form) or a decorator that registers and returns its function.

    Raises:
        ValueError: a name registered twice, or invalid metadata (e.g. an unknown family).
    """
    def decorate(f: Callable[..., nn.Module]) -> Callable[..., nn.Module]:
        name = f.__name__
        if name in _MODELS:
            raise ValueError(f"model {name!r} is registered twice")
        _check_metadata(name, num_params, tiny, family)
        _MODELS[name] = ModelInfo(name, f, num_params, copy.deepcopy(tiny), family, _summary(f))
        return f

    if fn is not None:
        if not callable(fn):
            raise TypeError(f"register_model expects a function, got {fn!r}; pass metadata as "
                            f"keywords: register_model(num_params=..., tiny=..., family=...)")
        return decorate(fn)
    return decorate


def list_models(pattern: str = "*") -> list[str]:
    """Registered model names matching a shell-style ``pattern``, sorted."""
    return sorted(n for n in _MODELS if fnmatch.fnmatch(n, pattern))


def _lookup(name: str) -> ModelInfo:
    if name not in _MODELS:
        close = fnmatch.filter(_MODELS, f"*{name.split('_')[0]}*")
        hint = f" (did you mean one of {close}?)" if close else ""
        raise KeyError(f"unknown model {name!r}{hint}; see nca_zoo.list_models()")
    return _MODELS[name]


def model_info(name: str) -> ModelInfo:
    """The registry's :class:`ModelInfo` for ``name`` (``tiny`` is a fresh copy each call).

    Raises:
        KeyError: ``name`` is not registered.
    """
    info = _lookup(name)
    return ModelInfo(info.name, info.fn, info.num_params, copy.deepcopy(info.tiny), info.family,
                     info.summary)


def create_model(name: str, **overrides) -> nn.Module:
    """Build the registered model ``name``; keyword ``overrides`` set to None are ignored."""
    return _lookup(name).fn(**{k: v for k, v in overrides.items() if v is not None})
