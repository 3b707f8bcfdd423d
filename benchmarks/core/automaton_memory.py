"""Peak training memory of a 64-step rollout with and without checkpointed BPTT.

Workload: a GNCA-medium bank of 9 patches (40x40), batch 8, 64 growth steps, one training step
(forward, loss over all steps, backward).  Every configuration runs in its own subprocess.  On
CPU the peak is the growth of the process's maximum resident set size (``ru_maxrss``) during the
training step over a warmed-up baseline; on CUDA it is ``torch.cuda.max_memory_allocated``.
Target (issue 2): checkpointed peak <= 25% of plain BPTT.

    python benchmarks/core/automaton_memory.py [--steps 64] [--every 8]
"""
from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # benchmarks/: _common
from _common import md_table, write_results


def measure(every: int, steps: int, batch: int) -> dict:
    import torch

    import nca_zoo

    torch.manual_seed(0)
    dev = "cuda" if torch.cuda.is_available() else "cpu"
    bank = nca_zoo.create_model("gnca_medium", num_models=9, steps=steps,
                                checkpoint_every=every).to(dev)
    with torch.no_grad():
        bank.cell.w2.normal_(0, 0.01)
    target = torch.rand(9, 3, 40, 40, device=dev)

    def train_step():
        _, loss = bank.grow(batch=batch,
                            step_loss=lambda s, t: (bank.rgb(s) - target).square().mean())
        loss.backward()

    with torch.no_grad():  # warm-up: allocator, kernels, the state tensors themselves
        bank.grow(batch=batch)
    if dev == "cuda":
        torch.cuda.synchronize()
        torch.cuda.reset_peak_memory_stats()
        base = torch.cuda.memory_allocated()
        train_step()
        torch.cuda.synchronize()
        peak = torch.cuda.max_memory_allocated() - base
    else:
        base = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
        train_step()
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024 - base
    return {"checkpoint_every": every, "steps": steps, "batch": batch, "device": dev,
            "peak_bytes": int(peak)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=64)
    parser.add_argument("--every", type=int, nargs="+", default=[4, 8, 16])
    parser.add_argument("--batch", type=int, default=8)
    parser.add_argument("--_child", type=int, default=None, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args._child is not None:
        print(json.dumps(measure(args._child, args.steps, args.batch)))
        return
    rows = []
    for every in [0, *args.every]:
        out = subprocess.run([sys.executable, __file__, "--_child", str(every), "--steps",
                              str(args.steps), "--batch", str(args.batch)],
                             capture_output=True, text=True, check=True)
        rows.append(json.loads(out.stdout.strip().splitlines()[-1]))
    plain = rows[0]["peak_bytes"]
    for r in rows:
        r["ratio_to_plain"] = r["peak_bytes"] / plain
    best = min(r["ratio_to_plain"] for r in rows[1:])
    table = md_table(["checkpoint_every", "peak MiB", "ratio to plain BPTT"],
                     [[r["checkpoint_every"] or "off (plain BPTT)", r["peak_bytes"] / 2**20,
                       r["ratio_to_plain"]] for r in rows])
    md = (f"Peak training memory, GNCA-medium bank of 9 patches 40x40, batch {args.batch}, "
          f"{args.steps} steps, device {rows[0]['device']}\n\n{table}\n\n"
          f"best ratio {best:.3f} (target <= 0.25): {'PASS' if best <= 0.25 else 'FAIL'}\n")
    write_results("automaton_memory", {"rows": rows, "best_ratio": best}, md)
    print(md)
    print(f"memory_ratio={best:.3f}")


if __name__ == "__main__":
    main()
