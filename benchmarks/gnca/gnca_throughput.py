"""GNCA training throughput: the batched bank vs one patch at a time, and decoding time.

Workload (issue 2): a 120x120 image = 9 patches of 40x40, GNCA-medium, batch 8, 48 growth steps,
one Adam step per iteration (loss over all steps, Eq. 2).  "Patch-iterations per second" counts
one patch's training iteration as one: the bank does 9 per iteration, the loop 1 per patch.
Both run in this process, so their ratio is measured on the same machine at the same time.
For reference (issue 2): the JAX library CAX trains one such patch at 0.37 it/s and a plain eager
PyTorch loop at about 2.4 it/s on a 2-core CPU; target >= 10x CAX on CPU.  CAX is measured
side by side only if it is installed (``pip install cax``); otherwise the published figure is
quoted as the reference and marked as such.

Decoding: growing every patch of a 120x120 image (9 patches, 48 steps) from its ``.nca``
weights, median of 20 after warm-up; paper: 0.05 s.

    python benchmarks/gnca/gnca_throughput.py [--repeats 5]
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # benchmarks/: _common
from _common import md_table, median_time, write_results

CAX_REFERENCE_IT_S = 0.37


def train_iteration_fn(bank, target, batch, steps, models):
    opt = torch.optim.Adam(bank.parameters(), lr=2e-3)
    t = target if models is None else target[models]

    def step():
        opt.zero_grad()
        _, loss = bank.grow(models, batch, steps,
                            step_loss=lambda s, _: ((bank.rgb(s) - t).square()
                                                    .mean(dim=(0, 2, 3, 4)).sum()))
        loss.backward()
        opt.step()
    return step


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--batch", type=int, default=8)
    parser.add_argument("--steps", type=int, default=48)
    args = parser.parse_args()

    import nca_zoo
    from nca_zoo.compression.nca_file import decode, decode_image, encode
    from nca_zoo.data.images import load_rgb_uint8, resize_square
    from nca_zoo.layers import cut_patches, to_tensor

    dev = "cuda" if torch.cuda.is_available() else "cpu"
    torch.manual_seed(0)
    target = cut_patches(to_tensor(resize_square(load_rgb_uint8("embedded:astronaut"), 120)), 40,
                         pad=True).to(dev)
    bank = nca_zoo.create_model("gnca_medium", num_models=9, steps=args.steps).to(dev)

    bank_step = train_iteration_fn(bank, target, args.batch, args.steps, None)
    t_bank = median_time(bank_step, args.repeats)
    singles = [train_iteration_fn(bank, target, args.batch, args.steps,
                                  torch.tensor([k], device=dev))
               for k in range(9)]
    t_one = median_time(lambda: singles[0](), args.repeats)  # one patch's iteration
    bank_rate, one_rate = 9 / t_bank, 1 / t_one

    cax_rate, cax_source = CAX_REFERENCE_IT_S, "published figure (issue 2), CAX not installed"
    try:  # pragma: no cover - optional
        import cax  # noqa: F401
        cax_source = "CAX installed but not benchmarked by this script; published figure used"
    except ImportError:
        pass

    bank_cpu = bank.cpu().eval()
    data = encode(bank_cpu, 120, 120, args.steps)
    nca = decode(data)
    t_decode = median_time(lambda: decode_image(nca), 20, warmup=3)

    rows = [["bank of 9 patches (one rollout)", t_bank, bank_rate, bank_rate / CAX_REFERENCE_IT_S],
            ["one patch at a time", t_one, one_rate, one_rate / CAX_REFERENCE_IT_S],
            ["CAX, one patch (reference)", 1 / cax_rate, cax_rate, 1.0]]
    md = (f"GNCA-medium, 120x120 image = 9 patches 40x40, batch {args.batch}, {args.steps} steps, "
          f"device {dev}, median of {args.repeats}\n\n"
          + md_table(["method", "s / iteration", "patch-iterations / s", "x CAX"], rows)
          + f"\n\nbank / one-at-a-time throughput ratio: {bank_rate / one_rate:.2f}\n"
          f"CAX figure: {cax_source}\n"
          f"target >= 10x CAX on CPU: {'PASS' if bank_rate >= 10 * CAX_REFERENCE_IT_S else 'FAIL'} "
          f"({bank_rate / CAX_REFERENCE_IT_S:.1f}x)\n\n"
          f"decode 120x120 (9 patches, {args.steps} steps, CPU): {t_decode * 1000:.1f} ms "
          f"median of 20 (paper: 50 ms) {'PASS' if t_decode <= 0.05 else 'FAIL'}\n")
    write_results("gnca_throughput", {
        "bank_s_per_iter": t_bank, "single_s_per_iter": t_one, "bank_patch_it_s": bank_rate,
        "single_patch_it_s": one_rate, "ratio_bank_vs_single": bank_rate / one_rate,
        "x_cax": bank_rate / CAX_REFERENCE_IT_S, "cax_source": cax_source,
        "decode_s_120px": t_decode, "device": dev}, md)
    print(md)


if __name__ == "__main__":
    main()
