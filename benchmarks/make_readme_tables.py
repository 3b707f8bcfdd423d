"""Regenerate the README's result tables from ``benchmarks/results/*.md``.

The README marks each generated block with ``<!-- results:NAME -->`` ... ``<!-- /results:NAME -->``;
this script replaces the block's body with ``results/NAME.md`` (or a note that it was not run).

    python benchmarks/make_readme_tables.py
"""
from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results"
BLOCK = re.compile(r"(<!-- results:(?P<name>[\w-]+) -->\n)(?P<body>.*?)(<!-- /results:(?P=name) -->)", re.S)


def pretrained_table() -> str:
    """The pretrained-model tables (restoration, generation), generated from the shipped cards."""
    import json

    restore = ["| name | task | params | file | SSIM (input) | PSNR dB (input) | test images | recipe |",
               "|---|---|---|---|---|---|---|---|"]
    generate = ["| name | data | params | file | FID (train ref / noise ref) | KID (train ref / noise ref)"
                " | samples vs test | recipe |", "|---|---|---|---|---|---|---|---|"]
    features = set()
    for card_path in sorted((ROOT / "nca_zoo" / "pretrained").glob("*/card.json")):
        c = json.loads(card_path.read_text())
        m = c["metrics"]
        head = f"| {c['name']} | {{}} | {c['num_params']:,} | {c['file_size_bytes'] / 1024:.0f} KiB |"
        if "fid_model" in m:
            features.add(m["features"])
            generate.append(head.format(c["data"]) +
                            f" {m['fid_model']:.3f} ({m['fid_train']:.3f} / {m['fid_noise']:.3f}) |"
                            f" {m['kid_model']:.4f} ({m['kid_train']:.4f} / {m['kid_noise']:.4f}) |"
                            f" {m['n']} vs {m['n']}, DDIM {m['sampler_steps']} | `{c['recipe']}` |")
        else:
            restore.append(head.format(c["task"]) +
                           f" {m['ssim_model']:.3f} ({m['ssim_input']:.3f}) |"
                           f" {m['psnr_model']:.2f} ({m['psnr_input']:.2f}) | {m['n_test']} | `{c['recipe']}` |")
    out = "\n".join(restore) + "\n"
    if len(generate) > 2:
        out += ("\nGenerators (features: " + "; ".join(sorted(features)) + ". *train ref*: training "
                "images vs the test images, what a perfect model reaches; *noise ref*: Gaussian noise "
                "with the test images' colour statistics; a FID above the noise ref means that, by these "
                "features, the samples are no closer to the test images than colour-matched noise):\n\n" + "\n".join(generate) + "\n")
    return out


def render(name: str) -> str:
    if name == "pretrained":
        return pretrained_table()
    path = RESULTS / f"{name}.md"
    if not path.exists():
        return f"_not measured yet: run the benchmark that writes `benchmarks/results/{name}.md`_\n"
    return path.read_text().rstrip() + "\n"


def main() -> None:
    readme = ROOT / "README.md"
    text = readme.read_text()
    new = BLOCK.sub(lambda m: m.group(1) + render(m.group("name")) + m.group(4), text)
    readme.write_text(new)
    print(f"updated {len(BLOCK.findall(text))} result blocks in README.md")


if __name__ == "__main__":
    main()
