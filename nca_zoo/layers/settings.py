"""Grouped settings: a dataclass from what a constructor received (YAML mapping, dict or None).

Tasks and datamodules take related settings as one dataclass argument (a mapping in YAML, e.g.
``rollout: {steps: [8, 32], eval_steps: 64}``).  :func:`as_settings` accepts the instance
jsonargparse builds, the plain dict a checkpoint's hyper-parameters hold, or None.
"""
from __future__ import annotations

from dataclasses import fields
from typing import Any, TypeVar

T = TypeVar("T")


def as_settings(cls: type[T], value: Any, **defaults: Any) -> T:
    """``value`` as a ``cls`` dataclass: an instance as is, a dict's keys, None the defaults.

    ``defaults`` replace the dataclass's own defaults (a task's recipe) where ``value`` is None
    or a dict that leaves a field out.
    """
    if isinstance(value, cls):
        return value
    if value is not None and not isinstance(value, dict):
        raise ValueError(f"expected {cls.__name__} settings (a mapping), "
                         f"got {type(value).__name__}")
    given = dict(value or {})
    names = {f.name for f in fields(cls)}
    unknown = sorted(set(given) - names)
    if unknown:
        raise ValueError(f"{cls.__name__} has no setting {', '.join(unknown)} "
                         f"(it takes {', '.join(sorted(names))})")
    return cls(**{**defaults, **given})


def regroup(hp: dict[str, Any], group: str, keys) -> dict[str, Any]:
    """``hp`` with its flat ``keys`` moved into the mapping ``hp[group]`` (older checkpoints).

    Hyper-parameters written before a setting was grouped hold its fields at the top level;
    a checkpoint that already has ``group`` is returned unchanged.
    """
    flat = {k: hp[k] for k in keys if k in hp}
    if not flat or group in hp:
        return hp
    return {**{k: v for k, v in hp.items() if k not in flat}, group: flat}
