"""Every restorer on photos it never saw, and the shipping rule (issue: held-out cards).

    python benchmarks/lnca/restoration_held_out.py                # every shipped restorer
    python benchmarks/lnca/restoration_held_out.py --write-cards  # + the numbers into the cards

The held-out photos (``nca_zoo.data.held_out``) at 32 / 64 / 128 px and at full size, degraded
at the fixed strength and restored whole-photo (``nca_zoo.restoration.held_out_metrics``).  A
restorer ships only if it beats its degraded input in PSNR *and* SSIM at 64 and 128 px
(``nca_zoo.restoration.ships``); this script reports the verdict, and ``--write-cards`` writes the
measured block into each shipped card (``held_out``), which ``tests/test_pretrained.py`` checks
against the rule.  Writes ``results/restoration_held_out.{json,md}``.
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
from nca_zoo.data.held_out import HELD_OUT_PHOTOS
from nca_zoo.restoration import is_size_dependent
from nca_zoo.restoration.evaluate import HELD_OUT_SIZES, SHIPPING_SIZES, held_out_metrics, ships


def main(argv: list | None = None) -> None:
    """Measure, report, and optionally write the cards."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--models", nargs="*", help="shipped names (default: every restorer)")
    ap.add_argument("--write-cards", action="store_true", help="store the block in each card")
    args = ap.parse_args(argv)
    rows, results = [], {}
    for name in args.models or restorers():
        card_path = SHIPPED / name / "card.json"
        card = json.loads(card_path.read_text())
        start = time.perf_counter()
        model = nca_zoo.load_pretrained(name)
        # a size-dependent model (pixel ViTCA) restores a full photo as hundreds of tiles: minutes
        # per photo on a CPU, so its full-size column is left out
        sizes = [s for s in HELD_OUT_SIZES if s != "full" or not is_size_dependent(model)]
        measured = held_out_metrics(model, card["task"], sizes=sizes)
        verdict = ships(measured)
        results[name] = {"task": card["task"], "held_out": measured, "ships": verdict,
                         "seconds": round(time.perf_counter() - start, 1)}
        for size in sizes:
            m = measured[size]
            rows.append([name, card["task"], size, f"{m['psnr_input']:.2f} → {m['psnr_model']:.2f}",
                         f"{m['ssim_input']:.3f} → {m['ssim_model']:.3f}",
                         "yes" if verdict else "**no**"])
        print(name, "ships" if verdict else "does NOT ship", measured, flush=True)
        if args.write_cards:
            card["held_out"] = {"photos": list(HELD_OUT_PHOTOS), "rule_sizes": list(SHIPPING_SIZES),
                                "ships": verdict, **measured}
            card_path.write_text(json.dumps(card, indent=2, sort_keys=True))
    previous = RESULTS / "restoration_held_out.json"
    if args.models and previous.exists():  # a partial re-run keeps the other modules' rows
        old = json.loads(previous.read_text())
        results = {**old["results"], **results}
        rows = [r for r in old.get("rows", []) if r[0] not in args.models] + rows
    md = ("Degraded → restored on the held-out photos "
          f"({', '.join(HELD_OUT_PHOTOS)}; never trained on), centre-cropped and resized to each "
          "size, or full size; fixed degradation strength. Ships = beats the input in PSNR and "
          f"SSIM at {' and '.join(SHIPPING_SIZES)} px.\n\n")
    md += md_table(["module", "task", "size", "PSNR dB", "SSIM", "ships"], rows)
    print(write_results("restoration_held_out", {"photos": list(HELD_OUT_PHOTOS),
                                                 "results": results, "rows": rows}, md))


if __name__ == "__main__":
    main()
