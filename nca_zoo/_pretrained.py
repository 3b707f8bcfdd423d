"""Pretrained modules: a folder of ``config.json`` + ``model.safetensors`` + ``card.json``.

``config.json`` holds ``{"architecture": <registered name>, "model_args": {...}}``, so a module is
rebuilt through :func:`~nca_zoo.create_model` and its weights loaded **strictly** (every key must
match); further keys (e.g. ``"diffusion"``: the DDPM schedule a noise predictor was trained with)
are kept on the loaded module as ``module.pretrained_config``.  ``card.json`` carries the recipe,
data, parameter count, file size and the metrics a benchmark script measured.  Loading is offline:
a name shipped in ``nca_zoo/pretrained/``, a local folder, or -- for users with internet --
``hf-hub:<repo id>`` through huggingface_hub.
"""
from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Optional, Union

import torch
from safetensors import safe_open
from safetensors.torch import load_file, save_file
from torch import nn

from ._registry import create_model
from .layers import atomic_path

SHIPPED = Path(__file__).resolve().parent / "pretrained"
FILES = ("config.json", "model.safetensors", "card.json")


def list_pretrained() -> list[str]:
    """Names of the pretrained modules shipped inside the package."""
    if not SHIPPED.is_dir():
        return []
    return sorted(p.name for p in SHIPPED.iterdir() if (p / "config.json").is_file())


def save_pretrained(model: nn.Module, folder: Union[str, os.PathLike], architecture: str,
                    model_args: Optional[dict] = None, card: Optional[dict] = None,
                    extra_config: Optional[dict] = None) -> Path:
    """Write ``model`` as a pretrained folder; ``architecture(**model_args)`` must rebuild it.

    ``extra_config`` adds keys to ``config.json`` (e.g. ``{"diffusion": {...schedule...}}``).
    """
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    config = {**(extra_config or {}), "architecture": architecture,
              "model_args": dict(model_args or {})}
    state = {k: v.detach().contiguous().cpu() for k, v in model.state_dict().items()}
    with atomic_path(folder / "model.safetensors") as tmp:
        save_file(state, str(tmp))
    card = {**(card or {}), "num_params": sum(p.numel() for p in model.parameters()),
            "file_size_bytes": (folder / "model.safetensors").stat().st_size}
    for name, payload in (("config.json", config), ("card.json", card)):
        with atomic_path(folder / name) as tmp:
            tmp.write_text(json.dumps(payload, indent=2, sort_keys=True))
    return folder


def _resolve(name: str) -> Path:
    if name.startswith("hf-hub:"):
        from huggingface_hub import snapshot_download  # needs internet; never used offline

        return Path(snapshot_download(name.split(":", 1)[1], allow_patterns=list(FILES)))
    local = Path(name.split(":", 1)[1] if name.startswith("local-dir:") else name).expanduser()
    if (SHIPPED / name).is_dir() and not local.is_dir():
        return SHIPPED / name
    if local.is_dir():
        return local
    shipped = ", ".join(list_pretrained()) or "none shipped yet"
    raise FileNotFoundError(f"no pretrained module {name!r}: not a shipped name ({shipped}) nor a "
                            f"local folder; use hf-hub:<repo> for the Hub")


class PretrainedError(ValueError):
    """A pretrained folder that cannot be loaded; the message is one line meant for the user.

    A file is missing or corrupted, or the config does not match the weights.
    """


def _read_json(path: Path) -> dict:
    try:
        data = json.loads(path.read_text())
    except (OSError, UnicodeDecodeError, ValueError) as exc:
        raise PretrainedError(f"{path} is not valid JSON ({exc})") from None
    if not isinstance(data, dict):
        raise PretrainedError(f"{path} does not hold a JSON object")
    return data


def _build(config: dict, where: Path, device: str = "cpu") -> nn.Module:
    """The module ``config`` describes, built on ``device`` ("meta": no memory, no init cost)."""
    arch, args = config.get("architecture"), config.get("model_args", {})
    if not isinstance(arch, str) or not isinstance(args, dict):
        raise PretrainedError(f"{where} needs 'architecture' (a model name) and 'model_args' "
                              f"(an object)")
    try:
        with torch.device(device):
            return create_model(arch, **args)
    except KeyError as exc:
        raise PretrainedError(f"{where}: {exc.args[0] if exc.args else exc}") from None
    except (TypeError, ValueError) as exc:
        raise PretrainedError(f"{where}: model_args do not build {arch} ({exc})") from None


def _check_weights(model: nn.Module, folder: Path) -> None:
    """Compare the tensors of ``model`` with those in the weights' header (no data is read)."""
    weights = folder / "model.safetensors"
    try:
        with safe_open(str(weights), "pt") as f:
            saved = {k: tuple(f.get_slice(k).get_shape()) for k in f.keys()}
    except Exception as exc:  # safetensors raises its own error types for corrupted files
        raise PretrainedError(f"{weights} cannot be read ({exc})") from None
    wanted = {k: tuple(v.shape) for k, v in model.state_dict().items()}
    missing = sorted(wanted.keys() - saved.keys())
    unexpected = sorted(saved.keys() - wanted.keys())
    reshaped = [k for k in sorted(wanted.keys() & saved.keys()) if saved[k] != wanted[k]]
    problems = []
    if missing:
        problems.append(f"{len(missing)} tensors missing, e.g. {missing[0]!r}")
    if unexpected:
        problems.append(f"{len(unexpected)} unexpected, e.g. {unexpected[0]!r}")
    if reshaped:
        k = reshaped[0]
        problems.append(f"{len(reshaped)} of another shape, e.g. {k!r} is {list(saved[k])}, "
                        f"the config wants {list(wanted[k])}")
    if problems:
        raise PretrainedError(f"{folder}: model.safetensors does not match config.json "
                              f"({'; '.join(problems)})")


def load_pretrained(name: str, map_location: str = "cpu") -> nn.Module:
    """Load a pretrained module (shipped name, local folder or ``hf-hub:repo``), eval mode.

    Raises:
        FileNotFoundError: no such shipped name or folder.
        PretrainedError: the folder is incomplete or corrupted, or its config does not match its
            weights (checked on the file's header before anything is allocated).
    """
    folder = _resolve(name)
    missing = [f for f in FILES if not (folder / f).is_file()]
    if missing:
        raise PretrainedError(f"{folder} is not a pretrained folder: missing {', '.join(missing)}")
    config, card = _read_json(folder / "config.json"), _read_json(folder / "card.json")
    _check_weights(_build(config, folder / "config.json", "meta"), folder)
    model = _build(config, folder / "config.json")
    try:
        state = load_file(str(folder / "model.safetensors"), device=map_location)
    except Exception as exc:  # safetensors raises its own error types for corrupted files
        raise PretrainedError(f"{folder / 'model.safetensors'} cannot be read ({exc})") from None
    model.load_state_dict(state, strict=True)
    model.card = card
    model.pretrained_config = config
    return model.eval()
