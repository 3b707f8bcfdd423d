"""What README command 1 reaches: run the GNCA quickstart and record its report and wall time.

Runs ``nca-zoo fit --config configs/gnca/quickstart.yaml`` exactly as the README gives it (output
in ``runs/gnca_quickstart/``), then writes ``results/gnca_quickstart.{json,md}``: the bytes, PSNR
and SSIM of the ``.nca`` file beside the codecs at matched bytes, from the run's ``report.json``,
and the wall time of the command (training, report and file writing; not the install); then the
latent codec's file at 1 bpp (the report's second part) beside the codecs at its bytes.

    python benchmarks/gnca/gnca_quickstart.py
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # benchmarks/: _common
from _common import ROOT, write_results

CONFIG = "configs/gnca/quickstart.yaml"
REPORT = ROOT / "runs" / "gnca_quickstart" / "report.json"


def main() -> int:
    REPORT.unlink(missing_ok=True)  # a stale report must not pass for this run's
    env = {**os.environ, "WANDB_MODE": os.environ.get("WANDB_MODE", "disabled")}
    start = time.perf_counter()
    subprocess.run([sys.executable, "-m", "nca_zoo.fit", "--config", CONFIG], cwd=ROOT, env=env,
                   check=True)
    seconds = time.perf_counter() - start
    entry = json.loads(REPORT.read_text())[0]
    rows = {(r["method"], r["protocol"]): r for r in entry["rows"]}
    gnca = next(r for r in entry["rows"] if r["method"].startswith("gnca"))
    matched = {m: rows[(m, "matched bytes")] for m in ("JPEG", "JPEG-2000", "WebP")
               if (m, "matched bytes") in rows}
    threads = os.environ.get("OMP_NUM_THREADS", "all")
    md = (f"`nca-zoo fit --config {CONFIG}` ({entry['image']}, 120×120, 9 patches, "
          f"{os.cpu_count()} CPU cores, OMP_NUM_THREADS={threads}): "
          f"**{gnca['bytes']:,} bytes at {gnca['psnr']:.2f} dB PSNR**, SSIM {gnca['ssim']:.3f}, "
          f"in {seconds / 60:.1f} min; at about the same bytes "
          + ", ".join(f"{m} {r['psnr']:.2f} dB ({r['bytes']:,} B)" for m, r in matched.items())
          + ".")
    latent = entry.get("latent")
    if latent:
        rows = {(r["method"], r["protocol"]): r for r in latent["rows"]}
        own = latent["rows"][0]
        md += (f" Then the latent codec (`--bpp {latent['target_bpp']:g}`): **{own['bytes']:,} "
               f"bytes at {own['psnr']:.2f} dB**, SSIM {own['ssim']:.3f}; at about its bytes "
               + ", ".join(f"{m} {rows[(m, 'matched bytes')]['psnr']:.2f} dB "
                           f"({rows[(m, 'matched bytes')]['bytes']:,} B)"
                           for m in ("JPEG", "JPEG-2000", "WebP")
                           if (m, "matched bytes") in rows) + ".")
    md += "\n"
    write_results("gnca_quickstart", {"command": f"nca-zoo fit --config {CONFIG}",
                                      "seconds": seconds, "threads": threads, "report": entry}, md)
    print(md)
    print(f"psnr_db={gnca['psnr']:.2f} bytes={gnca['bytes']} seconds={seconds:.0f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
