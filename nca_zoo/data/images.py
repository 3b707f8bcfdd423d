"""Loading images with clear errors, and the embedded photos of scikit-image.

``load_rgb`` accepts a file path or ``embedded:NAME`` for a photo bundled with scikit-image
(``skimage.data.NAME``: astronaut, coffee, chelsea, rocket, immunohistochemistry, ...).
"""
from __future__ import annotations

import os
from pathlib import Path
from typing import Optional, Union

import numpy as np
from PIL import Image, UnidentifiedImageError

from ..layers import atomic_path

#: Colour photographs that ship inside scikit-image (no download needed).
EMBEDDED_PHOTOS = ("astronaut", "coffee", "chelsea", "rocket", "immunohistochemistry",
                   "hubble_deep_field", "colorwheel", "retina", "cat")
IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".webp", ".tif", ".tiff", ".ppm", ".jp2")


class ImageError(ValueError):
    """An input image that cannot be used; the message is one line meant for the user."""


def _embedded(name: str) -> np.ndarray:
    import skimage.data

    fn = getattr(skimage.data, name, None)
    if fn is None or name.startswith("_"):
        raise ImageError(f"unknown embedded photo {name!r}; "
                         f"choose from {', '.join(EMBEDDED_PHOTOS)}")
    try:
        arr = fn()
    except Exception as exc:  # some skimage images need a download; say so in one line
        raise ImageError(f"embedded photo {name!r} is not available offline ({exc})") from None
    if arr.ndim != 3 or arr.shape[2] < 3:
        raise ImageError(f"embedded photo {name!r} is not an RGB photo")
    return np.ascontiguousarray(arr[..., :3].astype(np.uint8))


def load_rgb_uint8(source: Union[str, os.PathLike], strict: bool = True) -> np.ndarray:
    """Read an 8-bit RGB image as ``uint8 (H, W, 3)``.

    With ``strict`` (the compression CLI), anything but 8-bit RGB is refused with a one-line
    :class:`ImageError` instead of being silently converted (grayscale, RGBA, 16-bit, palette).
    Without it, 8-bit images of any mode are converted to RGB (datasets).
    """
    text = str(source)
    if text.startswith("embedded:"):
        return _embedded(text.split(":", 1)[1])
    path = Path(source)
    if not path.exists():
        raise ImageError(f"no such file: {path}")
    if path.is_dir():
        raise ImageError(f"{path} is a directory, not an image")
    try:
        with Image.open(path) as img:
            img.load()
            mode = img.mode
            if mode in ("I;16", "I;16B", "I;16L", "I", "F") or mode.startswith("I;16"):
                raise ImageError(f"{path} is a {mode} (16-bit or float) image; only 8-bit images "
                                 f"are supported, convert it to 8-bit RGB first")
            if mode != "RGB":
                if strict:
                    raise ImageError(f"{path} has mode {mode}; an 8-bit RGB image is needed "
                                     f"(convert it first, e.g. Image.open(p).convert('RGB'))")
                img = img.convert("RGB")
            return np.asarray(img, dtype=np.uint8).copy()
    except ImageError:
        raise
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError) as exc:
        raise ImageError(f"{path} is not a readable image ({type(exc).__name__}: {exc})") from None


def resize_square(arr: np.ndarray, size: Optional[int]) -> np.ndarray:
    """Centre-crop to a square and resize to ``size`` x ``size`` (Lanczos); None keeps it as is."""
    if size is None:
        return arr
    h, w = arr.shape[:2]
    s = min(h, w)
    top, left = (h - s) // 2, (w - s) // 2
    img = Image.fromarray(arr[top : top + s, left : left + s])
    return np.asarray(img.resize((size, size), Image.LANCZOS), dtype=np.uint8).copy()


def list_images(folder: Union[str, os.PathLike]) -> list[Path]:
    """Image files in ``folder`` (recursive, sorted); a clear error if there are none."""
    folder = Path(folder)
    if not folder.is_dir():
        raise ImageError(f"no such folder: {folder}")
    files = sorted(p for p in folder.rglob("*") if p.suffix.lower() in IMAGE_SUFFIXES)
    if not files:
        raise ImageError(f"no images ({', '.join(IMAGE_SUFFIXES)}) found in {folder}")
    return files


def save_png_atomic(arr: np.ndarray, path: Union[str, os.PathLike]) -> None:
    """Write ``uint8 (H, W, 3)`` as PNG through a temporary file, so no half-written output."""
    with atomic_path(path) as tmp:
        Image.fromarray(arr).save(tmp, format="PNG")
