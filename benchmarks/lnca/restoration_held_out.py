"""Every restorer and the classical baselines on photos they never saw, and the shipping rule.

    python benchmarks/lnca/restoration_held_out.py                # every shipped restorer
    python benchmarks/lnca/restoration_held_out.py --write-cards  # + the numbers into the cards
    python benchmarks/lnca/restoration_held_out.py --models --sizes 32 64  # baselines only, small
    python benchmarks/lnca/restoration_held_out.py --models /tmp/nca_zoo/pretrained/NAME  # a folder
    python benchmarks/lnca/restoration_held_out.py --models RUN.ckpt --task noise --tile 32 \
        --sizes 64 128 --name restoration_held_out_vitca   # a run's checkpoint, its own file

With no restorer shipped, the default measures the classical baselines alone.  ``--models`` also
takes pretrained folders, e.g. a module removed for failing the rule, restored from git as
``docs/restoration.md`` ("Removed modules") says; a folder's row is named by its card.  A
Lightning checkpoint of a restoration run (``.ckpt``) is measured before any export: it does not
record its degradation (``--task``) or, for pixel ViTCA, its training size (``--tile``: the
size its tiles are restored at, as a shipped card says for ``restore``).

The held-out photos (``nca_zoo.data.held_out``) at 32 / 64 / 128 / 256 px and at full size,
degraded at the fixed strength and restored whole-photo (``nca_zoo.restoration.held_out_metrics``),
by each shipped restorer and by the classical baselines of its task (median 3x3 / 5x5,
total variation, non-local means, wavelet shrinkage for noise; unsharp masking for blur:
``nca_zoo.restoration.classical``), which are rows of the table too.  The shipping rule
(``nca_zoo.restoration.ships``): at 64, 128 and 256 px a denoiser beats its input and the best
classical baseline in PSNR *and* SSIM; a deblurrer gains >= 1 dB PSNR and >= 0.02 SSIM over its
input and beats every classical baseline.  This script reports the verdict (and the failed
clauses), and ``--write-cards`` writes the measured block into each shipped card (``held_out``),
which ``tests/test_restoration_splits.py`` checks against the rule.  Writes
``results/restoration_held_out.{json,md}``.
"""
from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # benchmarks/: _common
from _common import RESULTS, md_table, restorers, write_results

import nca_zoo
from nca_zoo._pretrained import SHIPPED
from nca_zoo.data.held_out import held_out_photos
from nca_zoo.drivers import load_restoration_task
from nca_zoo.restoration import is_size_dependent
from nca_zoo.restoration.classical import CLASSICAL_RESTORERS
from nca_zoo.restoration.evaluate import (
    HELD_OUT_SIZES,
    SHIPPING_SIZES,
    classical_held_out,
    held_out_metrics,
    rule_failures,
)


def row(name: str, task: str, size: str, m: dict, verdict: str) -> list:
    """One table row: degraded → restored PSNR and SSIM."""
    return [name, task, size, f"{m['psnr_input']:.2f} → {m['psnr_model']:.2f}",
            f"{m['ssim_input']:.3f} → {m['ssim_model']:.3f}", verdict]


def main(argv: list | None = None) -> None:
    """Measure, report, and optionally write the cards."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--models", nargs="*", help="shipped names or pretrained folders (default: "
                    "every shipped restorer; none: the classical baselines only)")
    ap.add_argument("--sizes", nargs="+", default=list(HELD_OUT_SIZES), choices=HELD_OUT_SIZES,
                    help="held-out sizes (default: all; the rule needs "
                         f"{', '.join(SHIPPING_SIZES)})")
    ap.add_argument("--write-cards", action="store_true", help="store the block in each card")
    ap.add_argument("--task", choices=("noise", "blur"), help="the task of the .ckpt models")
    ap.add_argument("--tile", type=int, help="a size-dependent .ckpt model's training size")
    ap.add_argument("--name", default="restoration_held_out", help="results file name")
    args = ap.parse_args(argv)
    photos = list(held_out_photos())
    names = restorers() if args.models is None else args.models
    rule_sizes = [s for s in SHIPPING_SIZES if s in args.sizes]
    if args.write_cards and rule_sizes != list(SHIPPING_SIZES):
        raise SystemExit(f"--write-cards needs every shipping size ({', '.join(SHIPPING_SIZES)})")
    if any(n.endswith(".ckpt") for n in names) and args.task is None:
        raise SystemExit("a checkpoint does not record its degradation: give --task noise or blur")
    results, classical = {}, {}
    for task in ("noise", "blur"):
        start = time.perf_counter()
        classical[task] = classical_held_out(task, args.sizes)
        print(task, "baselines", f"{time.perf_counter() - start:.1f} s", classical[task],
              flush=True)
    for source in names:
        start = time.perf_counter()
        if source.endswith(".ckpt"):
            model, card_path, tile = load_restoration_task(source).model, None, args.tile
            card, name = {"task": args.task}, Path(source).stem
            if is_size_dependent(model) and tile is None:
                raise SystemExit(f"{source}: a size-dependent model: give --tile (its "
                                 "training size)")
        else:
            folder = SHIPPED / source if (SHIPPED / source).is_dir() else Path(source)
            card_path, tile = folder / "card.json", None  # the card's training size
            card = json.loads(card_path.read_text())
            name = card.get("name", folder.name)
            model = nca_zoo.load_pretrained(str(folder))
        # a size-dependent model (pixel ViTCA) restores a full photo as hundreds of tiles: minutes
        # per photo on a CPU, so its full-size column is left out
        sizes = [s for s in args.sizes if s != "full" or not is_size_dependent(model)]
        measured = held_out_metrics(model, card["task"], sizes=sizes, tile=tile)
        failures = rule_failures(measured, classical[card["task"]], card["task"], rule_sizes)
        results[name] = {"task": card["task"], "held_out": measured, "ships": not failures,
                         "rule_failures": failures,
                         "seconds": round(time.perf_counter() - start, 1)}
        print(name, "ships" if not failures else f"does NOT ship: {'; '.join(failures)}",
              measured, flush=True)
        if args.write_cards and card_path is not None:
            card["held_out"] = {"photos": photos, "rule_sizes": list(SHIPPING_SIZES),
                                "ships": not failures, "rule_failures": failures, **measured}
            card_path.write_text(json.dumps(card, indent=2, sort_keys=True))
    previous = RESULTS / f"{args.name}.json"
    if args.models and previous.exists():  # a partial re-run keeps the other modules' results
        old = json.loads(previous.read_text())
        if old.get("photos") == photos and old.get("sizes") == list(args.sizes):
            results = {**old["results"], **results}
    rows = []
    for task in ("noise", "blur"):
        for name, measured in classical[task].items():
            rows += [row(f"{name} (classical)", task, s, m, "baseline")
                     for s, m in measured.items()]
        for name, r in results.items():
            if r["task"] == task:
                rows += [row(name, task, s, m, "yes" if r["ships"] else "**no**")
                         for s, m in r["held_out"].items()]
    md = ("Degraded → restored on the held-out photos "
          f"({', '.join(photos)}; never trained on), centre-cropped and resized to each size, or "
          "full size; fixed degradation strength; classical baselines "
          f"({', '.join(CLASSICAL_RESTORERS)}) measured the same way. Ships: at "
          f"{', '.join(SHIPPING_SIZES)} px a denoiser beats its input and the best classical "
          "baseline in PSNR and SSIM; a deblurrer gains at least 1 dB PSNR and 0.02 SSIM over "
          "its input and beats the classical baseline in PSNR and SSIM.\n\n")
    md += md_table(["module", "task", "size", "PSNR dB", "SSIM", "ships"], rows)
    print(write_results(args.name, {"photos": photos, "sizes": list(args.sizes),
                                                 "classical": classical, "results": results,
                                                 "rows": rows}, md))


if __name__ == "__main__":
    main()
