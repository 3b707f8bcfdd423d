"""Classical codecs through Pillow: JPEG, JPEG-2000 (OpenJPEG) and WebP (GNCA §5.2 baselines).

Two protocols: the paper's "maximum quality" settings, and *matched bytes*, where the codec's
quality knob is searched so its file lands nearest a target size (the ``.nca`` file's) -- the fair
rate-distortion comparison the paper lacks.
"""
from __future__ import annotations

import io

import numpy as np
from PIL import Image

CODECS = ("JPEG", "JPEG-2000", "WebP")
#: codecs :func:`encode` also takes where this Pillow build has them (not in the GNCA tables)
EXTRA_CODECS = ("AVIF",)
#: The "maximum quality" protocol: JPEG q=100 (4:4:4), WebP lossy q=100, JPEG-2000 lossy
#: irreversible wavelet at compression ratio 2 (the lowest OpenJPEG rate setting still lossy).
MAX_QUALITY = {"JPEG": 100, "JPEG-2000": 2.0, "WebP": 100}

def encode(codec: str, image: np.ndarray, quality: float) -> bytes:
    """Encode ``uint8 (H, W, 3)``; ``quality`` is JPEG/WebP quality or JPEG-2000 ratio."""
    img, buf = Image.fromarray(image), io.BytesIO()
    if codec == "JPEG":
        img.save(buf, format="JPEG", quality=int(quality), subsampling=0 if quality >= 90 else 2)
    elif codec == "WebP":
        img.save(buf, format="WEBP", quality=int(quality), method=6)
    elif codec == "JPEG-2000":
        img.save(buf, format="JPEG2000", irreversible=True, quality_mode="rates",
                 quality_layers=[float(quality)])
    elif codec == "AVIF":
        img.save(buf, format="AVIF", quality=int(quality), speed=0)
    else:
        raise ValueError(f"unknown codec {codec!r}; choose from {CODECS}")
    return buf.getvalue()

def decode(data: bytes) -> np.ndarray:
    """Decode any of the codecs' bytes to ``uint8 (H, W, 3)``."""
    with Image.open(io.BytesIO(data)) as img:
        return np.asarray(img.convert("RGB"), dtype=np.uint8).copy()

def _candidates(codec: str, raw_bytes: int, target: int) -> list[float]:
    if codec == "JPEG-2000":  # rate control is direct: ratio = raw / target, refine around it
        base = max(raw_bytes / max(target, 1), 1.0)
        return sorted({round(max(1.0, base * f), 3) for f in np.geomspace(0.5, 2.0, 15)})
    return list(range(1, 101))

def match_bytes(codec: str, image: np.ndarray, target: int) -> tuple[float, bytes]:
    """The codec setting whose output size is nearest ``target`` bytes, and that output."""
    best: tuple[int, float, bytes] | None = None
    for q in _candidates(codec, image.size, target):
        data = encode(codec, image, q)
        gap = abs(len(data) - target)
        if best is None or gap < best[0]:
            best = (gap, q, data)
    return best[1], best[2]

def run_codec(codec: str, image: np.ndarray,
              protocol: str | int = "max") -> tuple[float, bytes, np.ndarray]:
    """Encode+decode with ``protocol`` "max" or a target byte count: (setting, bytes, decoded)."""
    if protocol == "max":
        q = MAX_QUALITY[codec]
        data = encode(codec, image, q)
    else:
        q, data = match_bytes(codec, image, int(protocol))
    return q, data, decode(data)
