"""Will a compression run fit in memory?  Estimate before training instead of swapping.

Training a GNCA bank back-propagates through every growth step (plain BPTT), so it keeps, per
step and per patch, the state and the hidden activations of every pixel plus the fused 3x3 kernels
of the step: ``4 bytes x steps x patches x (p^2 (2 n_c + h_s) + 18 h_s n_c)``.  The growth of
peak RSS during training on CPU is 0.82-1.00x this estimate over patch 8-80, small and medium
(e.g. 512x512 px, patch 40, medium: estimate 3.4 GiB, measured 3.2 GiB); the slow test in
``tests/test_bad_input.py`` re-measures it.
"""
from __future__ import annotations

import os
from pathlib import Path
from typing import Optional

import torch


class InsufficientMemoryError(ValueError):
    """The run would not fit in the memory available; the message is one line."""


def training_bytes(patches: int, patch: int, channels: int, hidden: int, steps: int,
                   batch: int = 1) -> int:
    """Estimated peak memory (bytes) of training a bank: BPTT activations of every step."""
    # saved per step: state and update (2 n_c) and hidden (h_s) per pixel; the fused kernels
    # (9 h_s n_c, plus as much again for the einsum that builds them)
    per_step = patch * patch * (2 * channels + hidden) + 18 * hidden * channels
    targets = 3 * patch * patch
    return 4 * patches * (batch * steps * per_step + targets)


def _meminfo_available() -> Optional[int]:
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemAvailable:"):
                return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    return None


def _cgroup_room() -> Optional[int]:
    """Room left under a container's memory limit (cgroup v2), if there is one."""
    try:
        limit = Path("/sys/fs/cgroup/memory.max").read_text().strip()
        used = int(Path("/sys/fs/cgroup/memory.current").read_text())
    except (OSError, ValueError):
        return None
    return None if limit == "max" else max(0, int(limit) - used)


def available_bytes(device: Optional[str] = None) -> Optional[int]:
    """Free memory where training will run (the GPU if CUDA is used, else RAM); None if unknown."""
    device = device or ("cuda" if torch.cuda.is_available() else "cpu")
    if device.startswith("cuda"):
        return torch.cuda.mem_get_info(torch.device(device))[0]
    known = [b for b in (_meminfo_available(), _cgroup_room()) if b is not None]
    if not known:  # no /proc: free pages, where the platform reports them
        try:
            known = [os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_AVPHYS_PAGES")]
        except (ValueError, OSError, AttributeError):
            return None
    return min(known)


def gib(n: float) -> str:
    """``n`` bytes as ``12.3 GiB``."""
    return f"{n / 2**30:.1f} GiB"


def check_fits(needed: int, what: str, advice: str, device: Optional[str] = None) -> None:
    """Raise :class:`InsufficientMemoryError` if ``needed`` bytes exceed the memory available."""
    free = available_bytes(device)
    if free is not None and needed > free:
        raise InsufficientMemoryError(f"{what} needs about {gib(needed)} of memory, only "
                                      f"{gib(free)} is available; {advice}")
