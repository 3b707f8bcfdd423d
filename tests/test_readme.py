"""The README stays short, starts with working set-up commands, and its generated parts are fresh.

Both ``README.md`` and ``benchmarks/results/README.md`` are written by
``benchmarks/tools/make_readme_tables.py``; ``--check`` fails when either differs from what the
result files and the pretrained cards say.
"""
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
README = ROOT / "README.md"
RESULTS_README = ROOT / "benchmarks" / "results" / "README.md"
SCRIPT = ROOT / "benchmarks" / "tools" / "make_readme_tables.py"
LINK = re.compile(r"!?\[[^\]]*\]\(<?([^)\s>]+)>?\)")


def code_blocks(text: str) -> list[str]:
    return re.findall(r"^```[^\n]*\n(.*?)^```", text, re.S | re.M)


def test_readme_is_short():
    n = len(README.read_text().splitlines())
    assert n <= 250, f"README.md has {n} lines; move detail to docs/ or benchmarks/results/"


def test_first_code_block_sets_up_once_and_runs_the_tests():
    first = code_blocks(README.read_text())[0]
    assert first.count("python3 -m venv") == 1
    assert "python -m pytest" in first
    assert ".venv/bin/python -m pytest" in (ROOT / ".ci" / "run").read_text()


def test_generated_tables_are_up_to_date():
    proc = subprocess.run([sys.executable, str(SCRIPT), "--check"], capture_output=True, text=True,
                          timeout=60)
    assert proc.returncode == 0, proc.stderr.strip() or proc.stdout.strip()


@pytest.mark.parametrize("doc", [README, RESULTS_README], ids=lambda p: str(p.relative_to(ROOT)))
def test_relative_links_exist(doc):
    text = doc.read_text()
    for block in code_blocks(text):
        text = text.replace(block, "")
    broken = []
    for target in LINK.findall(text):
        if re.match(r"^(?:[a-z][a-z0-9+.-]*:|#)", target):
            continue                                    # web link or in-page anchor
        path = target.split("#", 1)[0]
        if path and not (doc.parent / path).exists():
            broken.append(target)
    assert not broken, f"{doc.relative_to(ROOT)}: missing link targets {broken}"


@pytest.mark.parametrize("doc", [README, RESULTS_README], ids=lambda p: str(p.relative_to(ROOT)))
def test_no_internal_check_wording(doc):
    words = re.findall(r"\b(?:PASS|FAIL|[Tt]argets?|[Ii]ssues?|[Aa]cceptance)\b", doc.read_text())
    assert not words, f"{doc.relative_to(ROOT)} contains {sorted(set(words))}"
