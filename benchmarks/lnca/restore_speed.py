"""How long ``nca_zoo.restore`` takes per restorer (in-process, no start-up).

    python benchmarks/lnca/restore_speed.py            # 64 and 128 px crops of a bundled photo
    python benchmarks/lnca/restore_speed.py median3 /tmp/nca_zoo/pretrained/NAME   # given ones

Default: every shipped restoration module and the classical filters
(``nca_zoo.restoration.classical``), the time a user already pays.  Restorers can be named (a
classical filter or a shipped module) or given as pretrained folders, e.g. a removed module
restored from git as ``docs/restoration.md`` ("Removed modules") says.  ViTCA models with the
raster position table run tile by tile at their training size (``--tile auto``), every other
restorer on the whole image, exactly as ``python -m nca_zoo.restore`` does.  Median of 3 after
one warm-up.
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # benchmarks/: _common
from _common import md_table, median_time, restorers, write_results

from nca_zoo.data.images import load_rgb_uint8, resize_square
from nca_zoo.layers import to_tensor
from nca_zoo.restoration import default_tile, load_restorer, restore
from nca_zoo.restoration.classical import CLASSICAL_RESTORERS


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("models", nargs="*", help="classical filters, shipped names or pretrained "
                    "folders (default: the shipped restorers and the classical filters)")
    ap.add_argument("--sizes", type=int, nargs="+", default=[64, 128])
    ap.add_argument("--photo", default="embedded:astronaut")
    a = ap.parse_args()
    rows = []
    # shipped modules whose card task is noise or blur, then the classical filters beside them
    for name in a.models or restorers() + list(CLASSICAL_RESTORERS):
        model = load_restorer(name)
        name = getattr(model, "card", {}).get("name", name)
        tile = default_tile(model)
        for size in a.sizes:
            img = to_tensor(resize_square(load_rgb_uint8(a.photo), size))
            seconds = median_time(lambda: restore(model, img, tile=tile), repeats=3)
            rows.append({"model": name, "size": size, "tile": tile, "seconds": seconds})
            print(f"{name} {size}px: {seconds:.2f} s", flush=True)
    md = [f"# Restore time per image (cpu, {torch.get_num_threads()} torch threads, median of 3)",
          "",
          md_table(["model", "image", "tiles", "seconds"],
                    [[r["model"], f"{r['size']}x{r['size']}", r["tile"] or "whole image",
                      round(r["seconds"], 3)] for r in rows])]
    write_results("restore_speed", {"rows": rows, "photo": a.photo}, "\n".join(md))
    print("\n".join(md))


if __name__ == "__main__":
    main()
