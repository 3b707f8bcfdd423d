"""Peak memory per megapixel of large-image Diff-NCA sampling, tiled vs. one full rollout (§4.9).

Workload: the paper-size Diff-NCA (c=96, h=512, listing 2) with the local per-cell norm, one
denoising step (one NCA rollout) at several square sizes, batch 1, no gradients.  ``tiled``
predicts the noise through :class:`nca_zoo.diffusion.TiledDenoiser` (core ``--tile`` px, halo
``--halo`` px = the receptive radius of 20 image steps); ``full`` runs one rollout over the whole
image.  A sampler repeats this step T times with the same peak, so this is the sampling peak.

Every (mode, size) runs in its own subprocess; the peak is the growth of ``ru_maxrss`` over a
warmed-up baseline on CPU (with ``MALLOC_MMAP_THRESHOLD_=65536``, so that freed tile buffers are
returned instead of fragmenting the heap) (``torch.cuda.max_memory_allocated`` on CUDA).
``--nca-steps`` sets the rollout length: the peak of a no-gradient rollout does not depend on it
(the state is replaced every step), which the script checks at the smallest size when
``--check-steps`` is given; the halo is what depends on the paper's 20 steps, and it is fixed by
``--halo``.

    python benchmarks/diffusion/diffusion_memory.py [--sizes 256 512 1024]
        [--full-sizes 128 256 384] [--tile 128] [--nca-steps 2] [--check-steps 20]
"""
from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # benchmarks/: _common
from _common import md_table, write_results


def measure(mode: str, size: int, tile: int, halo: int, nca_steps: int) -> dict:
    import torch

    import nca_zoo
    from nca_zoo.diffusion import TiledDenoiser

    torch.manual_seed(0)
    dev = "cuda" if torch.cuda.is_available() else "cpu"
    model = nca_zoo.create_model("diff_nca", norm="cell", steps=nca_steps).to(dev).eval()
    den = TiledDenoiser(model, tile=tile, halo=halo) if mode == "tiled" else model
    t = torch.tensor([0.5], device=dev)
    with torch.no_grad():
        den(torch.randn(1, 3, 16, 16, device=dev), t)          # warm-up: allocator, kernels
        x = torch.randn(1, 3, size, size, device=dev)
        if dev == "cuda":
            torch.cuda.synchronize()
            torch.cuda.reset_peak_memory_stats()
            base = torch.cuda.memory_allocated()
        else:
            base = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
        start = time.perf_counter()
        eps = den(x, t)
        if dev == "cuda":
            torch.cuda.synchronize()
            peak = torch.cuda.max_memory_allocated() - base
        else:
            peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024 - base
        elapsed = time.perf_counter() - start
    assert eps.shape == x.shape
    return {"mode": mode, "size": size, "megapixels": size * size / 1e6,
            "tile": tile if mode == "tiled" else None, "halo": halo if mode == "tiled" else None,
            "nca_steps": nca_steps, "device": dev, "peak_bytes": int(peak), "seconds": elapsed}


def slope_mb_per_mp(rows: list[dict]) -> float:
    """Marginal peak MB per extra megapixel between the two largest sizes measured."""
    a, b = sorted(rows, key=lambda r: r["size"])[-2:]
    return (b["peak_bytes"] - a["peak_bytes"]) / 2 ** 20 / (b["megapixels"] - a["megapixels"])


def child(args: list[str]) -> dict:
    # a fixed mmap threshold makes glibc return every large freed buffer at once, so ru_maxrss
    # measures the tensors alive together, not the heap fragmentation left by earlier tiles
    env = {**os.environ, "MALLOC_MMAP_THRESHOLD_": "65536"}
    out = subprocess.run([sys.executable, __file__, *args], capture_output=True, text=True,
                         check=False, env=env)
    if out.returncode != 0:
        raise SystemExit(f"child {args} failed: {out.stderr.strip().splitlines()[-1:]}")
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sizes", type=int, nargs="+", default=[256, 512, 1024])
    ap.add_argument("--full-sizes", type=int, nargs="+", default=[128, 256, 384],
                    help="sizes for the full rollout (it needs ~9 GB per megapixel)")
    ap.add_argument("--tile", type=int, default=128)
    ap.add_argument("--halo", type=int, default=20)
    ap.add_argument("--nca-steps", type=int, default=2)
    ap.add_argument("--check-steps", type=int, default=None,
                    help="also measure the smallest size with this many NCA steps")
    ap.add_argument("--_child", nargs=2, default=None, help=argparse.SUPPRESS)
    a = ap.parse_args()
    if a._child:
        print(json.dumps(measure(a._child[0], int(a._child[1]), a.tile, a.halo, a.nca_steps)))
        return
    common = ["--tile", str(a.tile), "--halo", str(a.halo)]
    rows = []
    for mode, sizes in (("tiled", a.sizes), ("full", a.full_sizes)):
        for s in sizes:
            r = child(["--_child", mode, str(s), "--nca-steps", str(a.nca_steps), *common])
            rows.append(r)
            print(f"{mode:5s} {s:5d}px  peak {r['peak_bytes'] / 2**20:8.1f} MB  "
                  f"{r['seconds']:.1f} s", flush=True)
    checks = []
    if a.check_steps:
        for mode in ("tiled", "full"):
            s = min(a.sizes)
            checks.append(child(["--_child", mode, str(s), "--nca-steps", str(a.check_steps),
                                 *common]))
    slopes = {m: slope_mb_per_mp([r for r in rows if r["mode"] == m]) for m in ("tiled", "full")}
    md = [f"# Diff-NCA large-image sampling memory ({rows[0]['device']}, OMP_NUM_THREADS="
          f"{os.environ.get('OMP_NUM_THREADS', 'default')})", "",
          "Paper-size Diff-NCA (c=96, h=512), per-cell norm, one denoising step, batch 1, no grad, "
          "glibc MALLOC_MMAP_THRESHOLD_=65536. "
          f"Tiled: core {a.tile} px, halo {a.halo} px. Rollout of {a.nca_steps} NCA steps (peak "
          "does not depend on the step count, see checks).", "",
          md_table(["mode", "size", "MP", "peak MB", "seconds"],
                   [[r["mode"], r["size"], round(r["megapixels"], 4),
                     round(r["peak_bytes"] / 2 ** 20, 1), round(r["seconds"], 2)]
                    for r in rows]), "",
          f"Peak memory per extra megapixel (between the two largest sizes): tiled "
          f"{slopes['tiled']:.1f} MB/MP, full rollout {slopes['full']:.1f} MB/MP."]
    if checks:
        md += ["", "Step-count check at the smallest size: " + ", ".join(
            f"{c['mode']} {c['nca_steps']} steps {c['peak_bytes'] / 2**20:.1f} MB" for c in checks)]
    path = write_results("diffusion_memory", {"rows": rows, "checks": checks,
                                              "mb_per_megapixel": slopes, "tile": a.tile,
                                              "halo": a.halo}, "\n".join(md))
    print("\n".join(md[-3:]))
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
