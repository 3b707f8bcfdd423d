"""Any Pillow image -> 8-bit RGB, saying in one line what was converted.

* EXIF orientation is applied (a phone photo comes out upright);
* grayscale (``L``), 1-bit, palette (``P``), ``CMYK``, ``YCbCr``: Pillow's conversion to RGB;
* 16-bit grayscale (``I;16*``, and ``I`` with values in 0-65535): scaled to 8 bits by
  ``round(v / 257)`` (65535 -> 255), not clipped;
* alpha (``RGBA``, ``LA``, ``PA``, palette with transparency): dropped when every pixel is opaque,
  else composited onto ``background`` -- without one, a transparent image is an error;
* float images (``F``) are refused: their range (0-1? 0-255?) is unknown.
"""
from __future__ import annotations

from typing import Optional, Union

import numpy as np
from PIL import Image, ImageColor, ImageOps

Color = tuple[int, int, int]
ALPHA_MODES = ("RGBA", "LA", "PA", "RGBa", "La")
EXIF_ORIENTATION = 0x0112


class ImageError(ValueError):
    """An input image that cannot be used; the message is one line meant for the user."""


def parse_color(color: Union[str, Color]) -> Color:
    """``(r, g, b)`` from a colour name (``white``) or ``#rrggbb``; ImageError if unknown."""
    if isinstance(color, tuple):
        return color
    try:
        return ImageColor.getrgb(color)[:3]
    except ValueError:
        raise ImageError(f"unknown colour {color!r} (use a name such as white, or #rrggbb)"
                         ) from None


def _sixteen_bit(img: Image.Image, name: str) -> Image.Image:
    values = np.asarray(img)
    if values.min() < 0 or values.max() > 65535:
        raise ImageError(f"{name} is a 32-bit ({img.mode}) image with values outside 0-65535; "
                         f"save it as an 8- or 16-bit image")
    gray = ((values.astype(np.uint32) + 128) // 257).astype(np.uint8)
    return Image.fromarray(gray).convert("RGB")


def _has_alpha(img: Image.Image) -> bool:
    return img.mode in ALPHA_MODES or (img.mode in ("P", "L", "RGB") and "transparency" in img.info)


def _flatten(img: Image.Image, name: str, background: Optional[Color]) -> tuple[Image.Image, str]:
    rgba = img.convert("RGBA")
    if rgba.getchannel("A").getextrema()[0] == 255:
        return rgba.convert("RGB"), "dropped its alpha channel (fully opaque)"
    if background is None:
        raise ImageError(f"{name} has transparent pixels; pass --background COLOR (e.g. white) "
                         f"to composite it onto a colour")
    canvas = Image.new("RGBA", rgba.size, (*background, 255))
    return (Image.alpha_composite(canvas, rgba).convert("RGB"),
            f"composited its transparency onto {'#%02x%02x%02x' % background}")


def to_rgb(img: Image.Image, name: str, background: Optional[Color] = None
           ) -> tuple[Image.Image, Optional[str]]:
    """``img`` as 8-bit RGB, and a one-line note of the conversion (None: it already was).

    ``name`` (the file) prefixes the messages; :class:`ImageError` for images that cannot be
    converted (float, transparent without ``background``).
    """
    done = []
    if img.getexif().get(EXIF_ORIENTATION, 1) != 1:
        done.append(f"rotated it upright (EXIF orientation {img.getexif()[EXIF_ORIENTATION]})")
        img = ImageOps.exif_transpose(img)
    mode = img.mode
    if mode == "F":
        raise ImageError(f"{name} is a floating-point (mode F) image; save it as an 8- or 16-bit "
                         f"image first")
    if mode.startswith("I;16") or mode == "I":
        img = _sixteen_bit(img, name)
        bits = 32 if mode == "I" else 16
        done.append(f"converted {mode} ({bits}-bit grayscale) to 8-bit RGB")
    elif _has_alpha(img):
        img, what = _flatten(img, name, background)
        done.append(f"converted {mode} to RGB: {what}")
    elif mode != "RGB":
        try:
            img = img.convert("RGB")
        except ValueError:
            raise ImageError(f"{name} has mode {mode}, which cannot be converted to RGB") from None
        done.append(f"converted {mode} to RGB")
    return img, (f"{name}: {'; '.join(done)}" if done else None)
