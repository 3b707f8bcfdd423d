"""Lossless coding of a bank's int8 weights (``.nca`` versions 2 to 4): layer-major order + LZMA2.

The codes are first reordered *layer-major*: five sections, each holding one kind of weight of
every patch (input-state columns of ``w1``, its Sobel-gradient columns, ``b1``, the RGB rows of
``w2``, its other rows), since each kind has its own spread (in trained banks the gradient
weights spread wider than the state weights).  Within a section, two layouts:

* 0: patch by patch -- for banks whose patches started from their own random weights;
* 1: position by position, each byte minus the one before (the same weight of the previous
  patch) -- for banks whose patches all started from one NCA (a prior), whose weights correlate.

The bytes go through one raw LZMA2 stream (stdlib :mod:`lzma`, literal coder without context
bits: the weights are close to independent); the encoder keeps the smaller layout.
``benchmarks/gnca/gnca_entropy_coding.py`` measured this against constriction's ANS coder with
per-section quantised Laplace / Gaussian / histogram models and zlib; ``docs/nca-format.md``
gives the bytes.
"""
from __future__ import annotations

import lzma
from functools import lru_cache
from typing import Optional

import numpy as np

from ..layers import RGB_CHANNELS

#: LZMA2 dictionary size: a decoder allocates it, whatever the file; larger gains nothing here
DICT_SIZE = 1 << 20
LAYOUTS = (0, 1)
_LZMA2 = {"id": lzma.FILTER_LZMA2, "preset": 9 | lzma.PRESET_EXTREME, "dict_size": DICT_SIZE,
          "lc": 0, "lp": 0, "pb": 0}
_DELTA = {"id": lzma.FILTER_DELTA, "dist": 1}
_FILTERS = {0: [_LZMA2], 1: [_DELTA, _LZMA2]}
_DECODE_FILTERS = {0: [{"id": lzma.FILTER_LZMA2, "dict_size": DICT_SIZE}],
                   1: [_DELTA, {"id": lzma.FILTER_LZMA2, "dict_size": DICT_SIZE}]}


@lru_cache(maxsize=16)
def sections(channels: int, hidden: int) -> tuple[np.ndarray, ...]:
    """Positions (in one patch's v1 order ``w1, b1, w2``) of the five sections, in file order."""
    pos = np.arange(hidden * (4 * channels + 1))
    a = hidden * 3 * channels
    w1, b1, w2 = pos[:a].reshape(hidden, 3 * channels), pos[a : a + hidden], pos[a + hidden :]
    w2 = w2.reshape(channels, hidden)
    return (w1[:, :channels].ravel(), w1[:, channels:].ravel(), b1,
            w2[:RGB_CHANNELS].ravel(), w2[RGB_CHANNELS:].ravel())


def layer_major(codes: np.ndarray, channels: int, hidden: int, layout: int = 0) -> np.ndarray:
    """``(patches, n)`` int8 codes (v1 order) -> one flat array, section by section.

    ``layout`` 0: within a section patch by patch; 1: weight position by position.
    """
    parts = [codes[:, s] for s in sections(channels, hidden)]
    return np.concatenate([(p.T if layout == 1 else p).ravel() for p in parts])


def patch_major(flat: np.ndarray, patches: int, channels: int, hidden: int,
                layout: int = 0) -> np.ndarray:
    """Inverse of :func:`layer_major`: ``(patches, n)`` int8 codes."""
    out = np.empty((patches, hidden * (4 * channels + 1)), np.int8)
    start = 0
    for s in sections(channels, hidden):
        part = flat[start : start + patches * s.size]
        out[:, s] = part.reshape(s.size, patches).T if layout == 1 else \
            part.reshape(patches, s.size)
        start += patches * s.size
    return out


def compress_codes(codes: np.ndarray, channels: int, hidden: int,
                   layout: Optional[int] = None,
                   exponents: Optional[np.ndarray] = None) -> tuple[int, bytes]:
    """``(layout, payload)`` of ``(patches, n)`` int8 codes; ``layout`` None: the smaller.

    ``exponents`` (``.nca`` version 4): ``(patches, S)`` uint8 scale exponents, coded in the
    same stream ahead of the codes, position by position (scale ``j`` of every patch, then
    ``j + 1``): the same column's scale varies little from patch to patch.
    """
    codes = np.ascontiguousarray(codes, np.int8)
    head = b"" if exponents is None else np.ascontiguousarray(
        np.asarray(exponents, np.uint8).T).tobytes()
    best = None
    for lay in LAYOUTS if layout is None else (layout,):
        flat = head + layer_major(codes, channels, hidden, lay).tobytes()
        payload = lzma.compress(flat, format=lzma.FORMAT_RAW, filters=_FILTERS[lay])
        if best is None or len(payload) < len(best[1]):
            best = (lay, payload)
    return best


def decompress_codes(payload: bytes, layout: int, patches: int, channels: int,
                     hidden: int) -> np.ndarray:
    """Inverse of :func:`compress_codes`; ValueError (one line) if ``payload`` is not one.

    Never produces more than the ``patches x n`` bytes the header implies.
    """
    return decompress_payload(payload, layout, patches, channels, hidden, 0)[1]


def decompress_payload(payload: bytes, layout: int, patches: int, channels: int, hidden: int,
                       exponents_per_patch: int) -> tuple[np.ndarray, np.ndarray]:
    """``(exponents (patches, S) uint8, codes (patches, n) int8)`` of a version 4 payload.

    Inverse of :func:`compress_codes` with ``exponents`` (``S = exponents_per_patch``; 0: none,
    as in versions 2 and 3); ValueError (one line) if ``payload`` is not one.  Never produces
    more than the bytes the header implies.
    """
    if layout not in LAYOUTS:
        raise ValueError(f"unknown weight layout {layout} (this build reads "
                         f"{' and '.join(map(str, LAYOUTS))})")
    head = patches * exponents_per_patch
    expected = head + patches * hidden * (4 * channels + 1)
    decoder = lzma.LZMADecompressor(lzma.FORMAT_RAW, filters=_DECODE_FILTERS[layout])
    try:
        raw = decoder.decompress(payload, max_length=expected)
        if len(raw) == expected and not decoder.eof:  # stopped at max_length: end or extra?
            raw += decoder.decompress(b"", max_length=1)
    except lzma.LZMAError as err:
        raise ValueError(f"weight payload is not a valid LZMA2 stream ({err})") from None
    if len(raw) != expected or not decoder.eof or decoder.unused_data:
        what = f"{patches * exponents_per_patch:,} scales and " if exponents_per_patch else ""
        raise ValueError(f"weight payload does not hold the {what}"
                         f"{expected - head:,} weights the header implies")
    exponents = np.frombuffer(raw, np.uint8, head).reshape(exponents_per_patch, patches).T
    codes = patch_major(np.frombuffer(raw, np.int8, offset=head), patches, channels, hidden,
                        layout)
    return np.ascontiguousarray(exponents), codes
