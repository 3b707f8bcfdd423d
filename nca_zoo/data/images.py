"""Loading images with clear errors, and the embedded photos of scikit-image.

``read_rgb`` / ``load_rgb_uint8`` accept a file path or ``embedded:NAME`` for a photo bundled with
scikit-image (``skimage.data.NAME``: astronaut, coffee, chelsea, rocket, immunohistochemistry,
...).  Any image mode is converted to 8-bit RGB (:mod:`~nca_zoo.data.image_modes`).
"""
from __future__ import annotations

import os
import warnings
from pathlib import Path
from typing import NamedTuple, Optional, Union

import numpy as np
from PIL import Image, UnidentifiedImageError

from ..layers import atomic_path
from .image_modes import Color, ImageError, parse_color, to_rgb

#: Colour photographs that ship inside scikit-image (no download needed).
EMBEDDED_PHOTOS = ("astronaut", "coffee", "chelsea", "rocket", "immunohistochemistry",
                   "hubble_deep_field", "colorwheel", "retina", "cat")
IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".webp", ".tif", ".tiff", ".ppm", ".jp2")


def skimage_photo(name: str) -> np.ndarray:
    """The photo ``name`` bundled with scikit-image as ``uint8 (H, W, 3)``.

    Grayscale photos and textures are replicated to three channels, a stereo pair gives its left
    view, an alpha channel is dropped.  An unknown name, a photo that needs a download or data
    that is not an image is a one-line :class:`ImageError`.
    """
    import skimage.data

    fn = getattr(skimage.data, name, None)
    if fn is None or name.startswith("_") or not callable(fn):
        raise ImageError(f"unknown embedded photo {name!r}; "
                         f"choose from {', '.join(EMBEDDED_PHOTOS)}")
    try:
        arr = fn()
    except Exception as exc:  # some skimage images need a download; say so in one line
        raise ImageError(f"embedded photo {name!r} is not available offline ({exc})") from None
    arr = np.asarray(arr[0] if isinstance(arr, tuple) else arr)  # stereo: (left, right, disparity)
    if arr.ndim == 2:
        arr = np.repeat(arr[..., None], 3, axis=2)
    if arr.ndim != 3 or arr.shape[2] < 3:
        raise ImageError(f"embedded photo {name!r} is not a photo")
    return np.ascontiguousarray(arr[..., :3].astype(np.uint8))


class RGBImage(NamedTuple):
    """An image as loaded: ``uint8 (H, W, 3)`` pixels and what was converted (None: nothing)."""

    pixels: np.ndarray
    note: Optional[str]


def read_rgb(source: Union[str, os.PathLike], background: Union[str, Color, None] = None
             ) -> RGBImage:
    """Read any image as 8-bit RGB (see :mod:`~nca_zoo.data.image_modes`), with a note.

    ``source`` is a file or ``embedded:NAME``; ``background`` is the colour that transparent
    pixels are composited onto (None: a transparent image is an :class:`ImageError`).
    """
    text = str(source)
    if text.startswith("embedded:"):
        return RGBImage(skimage_photo(text.split(":", 1)[1]), None)
    path = Path(source)
    if not path.exists():
        raise ImageError(f"no such file: {path}")
    if path.is_dir():
        raise ImageError(f"{path} is a directory, not an image")
    color = None if background is None else parse_color(background)
    try:
        with warnings.catch_warnings():
            # Pillow warns (two stderr lines each) about damaged metadata it skips; images over
            # Image.MAX_IMAGE_PIXELS (89.5 Mpx), which it only warns about, are refused here
            warnings.filterwarnings("ignore", category=UserWarning, module="PIL")
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(path) as img:
                img.load()
                rgb, note = to_rgb(img, str(path), color)
                return RGBImage(np.asarray(rgb, dtype=np.uint8).copy(), note)
    except ImageError:
        raise
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
        reason = str(exc).split(", could be")[0]
        raise ImageError(f"{path} is too large to load safely ({reason})") from None
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError) as exc:
        raise ImageError(f"{path} is not a readable image ({type(exc).__name__}: {exc})") from None


def load_rgb_uint8(source: Union[str, os.PathLike], background: Union[str, Color, None] = None
                   ) -> np.ndarray:
    """:func:`read_rgb` without the note: ``uint8 (H, W, 3)``."""
    return read_rgb(source, background).pixels


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
