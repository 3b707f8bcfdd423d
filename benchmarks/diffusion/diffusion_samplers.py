"""FID / KID and wall time vs sampling steps, per sampler, for every shipped generator.

Each shipped diffusion module is sampled with each sampler at each step count through the same
protocol as its model card (``nca_zoo.diffusion.evaluate.diffusion_metrics``: the card's data
and test split, its feature network, seed 0), against DDIM-50 as the reference.  A sampler
"matches" DDIM-50 when its FID is at most 10 % above DDIM-50's; the speed-up is DDIM-50's wall
time over its own (one process, the same threads, measured in one run).

Writes ``benchmarks/results/diffusion_samplers.{json,md}`` and ``figures/diffusion_samplers.png``
(partial results are written after every row); the last line printed is
``best=<sampler>-<steps> speedup=<x>`` for the first generator (the cheapest match: fewest
network evaluations, then lowest FID).

    python benchmarks/diffusion/diffusion_samplers.py           # the full run (~20 CPU-minutes)
    python benchmarks/diffusion/diffusion_samplers.py --quick   # smoke run: 8 images, 2 samplers
    python benchmarks/diffusion/diffusion_samplers.py --write-cards  # + the choice into the cards

``--write-cards`` stores each generator's fastest match as ``"sampling"`` in its ``card.json``;
``nca-zoo sample --model NAME`` uses it when no ``--sampler`` is given.
"""
from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # benchmarks/: _common
from _common import RESULTS, write_results

REFERENCE = ("ddim", 50)


def run_row(den, data: dict, sampler: str, steps: int, n: int) -> dict:
    from nca_zoo.diffusion.evaluate import diffusion_metrics

    start = time.perf_counter()
    m = diffusion_metrics(den.model, den.schedule, data, n=n, sampler=sampler, steps=steps)
    return {"sampler": sampler, "steps": steps, "seconds": time.perf_counter() - start,
            **{k: m[k] for k in ("n", "fid_model", "kid_model", "fid_train", "fid_noise",
                                 "features")}}


def evaluations(row: dict) -> int:
    """Network evaluations of a row's sampler (Heun evaluates twice per step but the last)."""
    return 2 * row["steps"] - 1 if row["sampler"] == "heun" else row["steps"]


def summarise(rows: list[dict], tolerance: float) -> dict:
    """DDIM-50's FID and time, and the cheapest row within ``tolerance`` of its FID.

    Cheapest = fewest network evaluations, then lowest FID: the evaluation count is what the
    time of a sampler is made of, and it does not carry the noise of a shared machine's clock.
    """
    ref = next(r for r in rows if (r["sampler"], r["steps"]) == REFERENCE)
    limit = ref["fid_model"] * (1 + tolerance)
    ok = [r for r in rows if r["steps"] <= 20 and r["fid_model"] <= limit]
    best = min(ok, key=lambda r: (evaluations(r), r["fid_model"])) if ok else None
    return {"reference": {k: ref[k] for k in ("sampler", "steps", "fid_model", "seconds")},
            "best": None if best is None else {
                "sampler": best["sampler"], "steps": best["steps"], "fid_model": best["fid_model"],
                "seconds": best["seconds"], "speedup": ref["seconds"] / best["seconds"],
                "evaluations_ratio": evaluations(ref) / evaluations(best)}}


def write_card(name: str, summary: dict, a) -> None:
    """Store the fastest match as the generator's ``"sampling"`` default in its card."""
    from nca_zoo._pretrained import SHIPPED
    from nca_zoo.layers.files import write_atomic

    best = summary["best"]
    if best is None:
        return
    path = SHIPPED / name / "card.json"
    card = json.loads(path.read_text())
    card["sampling"] = {
        "sampler": best["sampler"], "steps": best["steps"], "fid_model": best["fid_model"],
        "ddim50_fid_model": summary["reference"]["fid_model"],
        "speedup_vs_ddim50": round(best["speedup"], 2),
        "evaluations_vs_ddim50": round(best["evaluations_ratio"], 2), "n": a.n,
        "measured_by": "benchmarks/diffusion/diffusion_samplers.py (fewest network evaluations "
                       f"at <= 20 steps with an FID within {a.tolerance:.0%} of DDIM-50's)"}
    write_atomic(json.dumps(card, indent=2, sort_keys=True).encode(), path)


def markdown(results: dict, a) -> str:
    lines = ["# Diffusion samplers: FID / KID and wall time vs steps (measured)", "",
             f"Card protocol per generator (`diffusion_metrics`: test split, TinyFeatureNet "
             f"features, seed 0), {a.n} samples each; wall time of sampling + metrics in one "
             f"process ({results['threads']} torch threads). *Matches* = FID at most "
             f"{a.tolerance:.0%} above DDIM-50's, at <= 20 steps.", ""]
    for name, res in results["models"].items():
        lines += [f"## {name}", "", "| sampler | steps | FID | KID | seconds | x DDIM-50 speed |",
                  "|---|---|---|---|---|---|"]
        ref = next((r for r in res["rows"] if (r["sampler"], r["steps"]) == REFERENCE), None)
        for r in res["rows"]:
            speed = f"{ref['seconds'] / r['seconds']:.2f}" if ref else "-"
            lines.append(f"| {r['sampler']} | {r['steps']} | {r['fid_model']:.3f} | "
                         f"{r['kid_model']:.4f} | {r['seconds']:.1f} | {speed} |")
        s = res.get("summary")
        if s:
            b = s["best"]
            lines += ["", f"References: FID train-vs-test {res['rows'][0]['fid_train']:.3f}, "
                          f"noise {res['rows'][0]['fid_noise']:.3f}. "
                      + (f"Cheapest match: **{b['sampler']}-{b['steps']}**, FID "
                         f"{b['fid_model']:.3f} vs DDIM-50 {s['reference']['fid_model']:.3f}, "
                         f"{b['evaluations_ratio']:.0f}x fewer network evaluations, "
                         f"{b['speedup']:.1f}x faster measured." if b
                         else "No sampler at <= 20 steps matched DDIM-50.")]
        lines.append("")
    return "\n".join(lines)


def plot(results: dict, path) -> None:
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    models = results["models"]
    fig, axes = plt.subplots(1, len(models), figsize=(5 * len(models), 3.6), squeeze=False)
    for ax, (name, res) in zip(axes[0], models.items()):
        for sampler in dict.fromkeys(r["sampler"] for r in res["rows"]):
            rs = sorted((r for r in res["rows"] if r["sampler"] == sampler),
                        key=lambda r: r["steps"])
            ax.plot([r["steps"] for r in rs], [r["fid_model"] for r in rs], "o-", label=sampler)
        ax.set(xscale="log", xlabel="steps", ylabel="FID (TinyFeatureNet)", title=name)
        ticks = sorted({r["steps"] for r in res["rows"]})
        ax.set_xticks(ticks, [str(t) for t in ticks])
        ax.minorticks_off()
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    plt.close(fig)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--models", nargs="+",
                    default=["diff-nca-pathology", "fourierdiff-nca-photos"])
    ap.add_argument("--samplers", nargs="+", default=["ddim", "dpm-solver++", "unipc", "euler"])
    ap.add_argument("--steps", type=int, nargs="+", default=[5, 10, 20])
    ap.add_argument("--n", type=int, default=32, help="samples per row (and test images)")
    ap.add_argument("--tolerance", type=float, default=0.10)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--name", default="diffusion_samplers")
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--from-json", action="store_true",
                    help="re-summarise the results file already written (no sampling)")
    ap.add_argument("--write-cards", action="store_true",
                    help="write each generator's fastest match into its shipped card.json")
    a = ap.parse_args()
    if a.quick:
        a.models, a.samplers, a.steps, a.n, a.name = (a.models[:1], ["ddim", "dpm-solver++"], [2],
                                                      8, "diffusion_samplers_quick")

    import torch

    from nca_zoo.diffusion import load_denoiser

    torch.set_num_threads(a.threads)
    ref_steps = 2 if a.quick else REFERENCE[1]
    results = {"threads": torch.get_num_threads(), "settings": vars(a), "models": {}}
    if a.from_json:
        old = json.loads((RESULTS / f"{a.name}.json").read_text())
        results.update(threads=old["threads"], models=old["models"])
    for name in [] if a.from_json else a.models:
        den = load_denoiser(name)
        data = den.model.card["data_args"]
        plan = [("ddim", ref_steps)] + [(s, k) for s in a.samplers for k in a.steps
                                        if (s, k) != ("ddim", ref_steps)]
        res = results["models"][name] = {"rows": []}
        for sampler, steps in plan:
            row = run_row(den, data, sampler, steps, a.n)
            res["rows"].append(row)
            print(f"{name} {sampler}-{steps}: FID {row['fid_model']:.3f} "
                  f"KID {row['kid_model']:.4f} {row['seconds']:.1f} s", flush=True)
            write_results(a.name, results, markdown(results, a))
        if not a.quick:
            res["summary"] = summarise(res["rows"], a.tolerance)
        write_results(a.name, results, markdown(results, a))
    for res in results["models"].values() if a.from_json else []:
        res["summary"] = summarise(res["rows"], a.tolerance)
    write_results(a.name, results, markdown(results, a))
    plot(results, RESULTS / "figures" / f"{a.name}.png")
    if a.write_cards and not a.quick:
        for name, res in results["models"].items():
            write_card(name, res["summary"], a)
    first = next(iter(results["models"].values())).get("summary") or {}
    best = first.get("best")
    print(json.dumps({"written": str(RESULTS / f'{a.name}.json')}))
    print(f"best={best['sampler']}-{best['steps']} speedup={best['speedup']:.2f}" if best
          else "best=none speedup=0")


if __name__ == "__main__":
    main()
