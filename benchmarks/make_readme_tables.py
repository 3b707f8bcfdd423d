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


def render(name: str) -> str:
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
