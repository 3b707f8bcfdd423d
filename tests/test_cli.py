"""Command-line tools: success paths (bad input: ``tests/test_bad_input.py``)."""
import subprocess
import sys

import numpy as np
from PIL import Image

from nca_zoo import compress, decompress
from nca_zoo.cli import run_cli


def test_compress_then_decompress(tmp_path, capsys):
    rgb = tmp_path / "rgb.png"
    Image.fromarray((np.random.default_rng(0).random((16, 16, 3)) * 255).astype(np.uint8)).save(rgb)
    nca, png = tmp_path / "x.nca", tmp_path / "x.png"
    argv = [str(rgb), "-o", str(nca), "--codec", "gnca", "--size", "small", "--patch", "8",
            "--iterations", "3", "--seed", "1"]
    assert run_cli(compress.main, argv) == 0
    assert "bytes for 16x16 px (4 patches)" in capsys.readouterr().out
    first = nca.read_bytes()
    assert run_cli(compress.main, argv) == 0
    assert nca.read_bytes() == first  # same image + seed -> byte-identical file
    assert run_cli(decompress.main, [str(nca), "-o", str(png)]) == 0
    assert Image.open(png).size == (16, 16)


def test_fit_print_config():
    ok = subprocess.run([sys.executable, "-m", "nca_zoo.fit", "--config",
                         "configs/gnca/quickstart.yaml", "--print_config"],
                        capture_output=True, text=True, timeout=120)
    assert ok.returncode == 0 and "class_path: nca_zoo.tasks.GNCACompression" in ok.stdout
