"""``nca-zoo TOOL`` and ``python -m nca_zoo.TOOL`` run the same code under one error policy."""
import subprocess
import sys
from pathlib import Path

import pytest

from nca_zoo import cli
from nca_zoo.cli import TOOLS, check_output

ROOT = Path(__file__).resolve().parents[1]


def test_dispatcher_lists_tools_and_refuses_unknown_ones(capsys):
    assert cli.main([]) == 2 and "usage: nca-zoo" in capsys.readouterr().out
    assert cli.main(["--help"]) == 0
    out = capsys.readouterr().out
    assert all(t in out for t in TOOLS)
    assert cli.main(["nope"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: unknown tool 'nope'") and err.count("\n") == 1


def test_every_tool_is_reachable_both_ways():
    for tool in TOOLS:
        assert callable(cli.run) and hasattr(__import__(f"nca_zoo.cli.{tool}").cli, tool)
        shim = __import__(f"nca_zoo.{tool}", fromlist=["main"])
        assert shim.main is getattr(cli, tool).main


def test_one_output_check_for_all_tools(tmp_path):
    assert check_output(tmp_path / "out.png") == tmp_path / "out.png"
    with pytest.raises(IsADirectoryError):
        check_output(tmp_path)
    with pytest.raises(FileNotFoundError, match="output folder does not exist"):
        check_output(tmp_path / "missing" / "out.png")


@pytest.mark.parametrize("tool", ["decompress", "restore", "sample"])
def test_console_script_and_module_give_the_same_one_line_error(tool, tmp_path):
    argv = {"decompress": [str(tmp_path / "x.nca"), "-o", str(tmp_path / "x.png")],
            "restore": ["embedded:coffee", "-o", str(tmp_path / "no" / "x.png"), "--model", "x"],
            "sample": ["--model", "diff-nca-pathology", "-o", str(tmp_path / "no" / "g.png")]}[tool]
    script = Path(sys.executable).with_name("nca-zoo")
    commands = [[sys.executable, "-m", f"nca_zoo.{tool}", *argv]]
    if script.exists():                 # installed by `pip install -e .`
        commands.append([str(script), tool, *argv])
    results = [subprocess.run(c, capture_output=True, text=True, timeout=120, cwd=ROOT)
               for c in commands]
    for r in results:
        assert r.returncode == 2 and r.stderr.startswith("error: ") and r.stderr.count("\n") == 1
    assert len({r.stderr for r in results}) == 1
