"""Image-quality and compression metrics (thin wrappers over torchmetrics).

MSE and PSNR are reported on the 0-255 scale as in the GNCA paper (Eq. 5-6); SSIM as in Eq. 7.
"""
from __future__ import annotations

import numpy as np
import torch
from torchmetrics.functional.image import (
    peak_signal_noise_ratio,
    structural_similarity_index_measure,
)


def _as_batch(img: np.ndarray) -> torch.Tensor:
    return torch.from_numpy(np.ascontiguousarray(img)).permute(2, 0, 1)[None].double()


def image_quality(reference: np.ndarray, test: np.ndarray) -> dict[str, float]:
    """PSNR (dB), MSE and SSIM of two ``uint8 (H, W, 3)`` images, on the 0-255 scale."""
    if reference.shape != test.shape:
        raise ValueError(f"shape mismatch {reference.shape} vs {test.shape}")
    ref, out = _as_batch(reference), _as_batch(test)
    mse = torch.mean((ref - out) ** 2).item()
    psnr = peak_signal_noise_ratio(out, ref, data_range=255.0).item() if mse > 0 else float("inf")
    # SSIM's 11x11 Gaussian window needs images of at least 11 px; smaller ones use a 3x3 window.
    k = 11 if min(reference.shape[:2]) >= 11 else 3
    ssim = structural_similarity_index_measure(out, ref, data_range=255.0, kernel_size=k).item()
    return {"psnr": psnr, "mse": mse, "ssim": ssim}


def compression_rate(compressed_bytes: int, height: int, width: int, channels: int = 3) -> float:
    """``CR = 1 - size(compressed) / size(I)`` in percent, size(I) = raw 8-bit bytes (GNCA §4.2)."""
    return 100.0 * (1.0 - compressed_bytes / float(height * width * channels))
