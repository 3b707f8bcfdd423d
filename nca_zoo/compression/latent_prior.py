"""The latent codec's shipped rule: a :class:`~nca_zoo.models.latent_nca.LatentNCA` trained once.

The rule is trained jointly with the latents of many crops of the training photos (an
auto-decoder: every crop keeps its own latents, all share the rule;
``configs/gnca/latent_prior.yaml``)
and ships as the pretrained module ``latent-nca-prior``.  A ``.nca`` version 5 file either names
this rule by the first bytes of its weights' SHA-256 (nothing else to send) or carries a rule of
its own, quantised to one byte per weight.
"""
from __future__ import annotations

import copy
import hashlib
import json
from functools import lru_cache
from typing import Union

import numpy as np
import torch

from ..models.latent_nca import LatentNCA

#: the shipped rule ``compress --codec latent`` uses by default
DEFAULT_RULE = "latent-nca-prior"
#: bytes of the SHA-256 a file stores to name a shipped rule
RULE_ID_BYTES = 8


class RuleError(ValueError):
    """A rule that cannot be loaded or does not fit; the message is one line for the user."""


#: rules loaded from folders or encoded with in this process, by id: files naming them decode
#: here too
_LOADED: dict[bytes, LatentNCA] = {}


def load_rule(name: Union[str, "LatentNCA"] = DEFAULT_RULE) -> LatentNCA:
    """A shipped rule by name or folder (a fresh copy every call), or ``name`` itself.

    A rule loaded from a folder is remembered for this process, so files that name it decode.
    """
    if isinstance(name, LatentNCA):
        return name
    from .._pretrained import PretrainedError, load_pretrained

    try:
        model = load_pretrained(name)
    except PretrainedError as err:
        raise RuleError(str(err)) from None
    if not isinstance(model, LatentNCA):
        raise RuleError(f"{name!r} is not a latent codec rule ({type(model).__name__})")
    remember_rule(model)
    return model.eval()


def remember_rule(rule: LatentNCA) -> bytes:
    """Let files that name ``rule`` decode in this process; returns its id.

    A copy is kept: training the caller's rule afterwards (a fine-tune starts from a loaded
    rule) must not change what the id decodes to.
    """
    ident = rule_id(rule)
    if ident not in _LOADED:
        _LOADED[ident] = copy.deepcopy(rule).eval().requires_grad_(False)
    return ident


def rule_id(rule: LatentNCA) -> bytes:
    """What a file stores to name ``rule``: the first bytes of the SHA-256 of its weights.

    The weights are hashed as float32 little endian in ``state_dict`` order, with the shape
    (levels, channels, hidden, steps) in front, so two rules differ in id when they differ at all.
    """
    h = hashlib.sha256(np.array([rule.levels, rule.channels, rule.hidden, rule.steps],
                                "<u4").tobytes())
    for tensor in rule.state_dict().values():
        h.update(tensor.detach().cpu().to(torch.float32).numpy().astype("<f4").tobytes())
    return h.digest()[:RULE_ID_BYTES]


@lru_cache(maxsize=4)
def _shipped_ids() -> dict[bytes, str]:
    from .._pretrained import SHIPPED, list_pretrained

    ids = {}
    for name in list_pretrained():
        config = json.loads((SHIPPED / name / "config.json").read_text())
        if config.get("architecture") == "latent_nca":
            ids[rule_id(load_rule(name))] = name
    return ids


def rule_by_id(ident: bytes) -> LatentNCA:
    """The shipped rule a file names; RuleError if this build does not ship it."""
    ident = bytes(ident)
    if ident in _LOADED:
        return copy.deepcopy(_LOADED[ident])
    name = _shipped_ids().get(ident)
    if name is None:
        raise RuleError(f"the file names rule {ident.hex()}, which this build of nca_zoo does "
                        f"not ship (compress without --shipped-rule for a self-contained file)")
    return load_rule(name)
