"""Command-line tools: success paths, and one-line errors with non-zero exit on bad input."""
import subprocess
import sys

import numpy as np
import pytest
from PIL import Image

from nca_zoo import compress, decompress
from nca_zoo.cli import run_cli
from nca_zoo.cli.fit import main as fit_main


@pytest.fixture
def images(tmp_path):
    rng = np.random.default_rng(0)
    paths = {}
    rgb = (rng.random((16, 16, 3)) * 255).astype(np.uint8)
    Image.fromarray(rgb).save(paths.setdefault("rgb", tmp_path / "rgb.png"))
    Image.fromarray(rgb[..., 0]).save(paths.setdefault("gray", tmp_path / "gray.png"))
    Image.fromarray(np.dstack([rgb, rgb[..., :1]])).save(
        paths.setdefault("rgba", tmp_path / "rgba.png"))
    Image.fromarray(rgb[..., 0].astype(np.uint16) * 256).save(
        paths.setdefault("i16", tmp_path / "i16.png"))
    Image.fromarray(rgb[:2, :2]).save(paths.setdefault("tiny", tmp_path / "tiny.png"))
    (tmp_path / "text.png").write_text("not an image")
    paths["text"] = tmp_path / "text.png"
    paths["missing"] = tmp_path / "missing.png"
    return paths


def one_line_error(capsys):
    err = capsys.readouterr().err.strip()
    assert err.startswith("error: ") and "\n" not in err and "Traceback" not in err, err
    return err


@pytest.mark.parametrize("kind,msg", [("missing", "no such file"), ("gray", "mode L"),
                                      ("rgba", "mode RGBA"), ("i16", "16-bit"),
                                      ("tiny", "at least"), ("text", "not a readable image")])
def test_compress_rejects_bad_images(images, tmp_path, capsys, kind, msg):
    out = tmp_path / "out.nca"
    rc = run_cli(compress.main, [str(images[kind]), "-o", str(out), "--iterations", "1", "--quiet"])
    assert rc == 2 and msg in one_line_error(capsys)
    assert not out.exists() and not list(tmp_path.glob(".*.tmp"))


def test_compress_then_decompress(images, tmp_path, capsys):
    nca, png = tmp_path / "x.nca", tmp_path / "x.png"
    argv = [str(images["rgb"]), "-o", str(nca), "--size", "small", "--patch", "8", "--iterations",
            "3", "--seed", "1"]
    assert run_cli(compress.main, argv) == 0
    assert "bytes for 16x16 px (4 patches)" in capsys.readouterr().out
    first = nca.read_bytes()
    assert run_cli(compress.main, argv) == 0
    assert nca.read_bytes() == first  # same image + seed -> byte-identical file
    assert run_cli(decompress.main, [str(nca), "-o", str(png)]) == 0
    assert Image.open(png).size == (16, 16)


@pytest.mark.parametrize("mutate,msg", [(lambda d: d[:50], "checksum"),
                                        (lambda d: d[:10] + bytes([d[10] ^ 1]) + d[11:],
                                         "checksum"),
                                        (lambda d: b"XXXX" + d[4:], "not a .nca file"),
                                        (lambda d: b"", "too short")])
def test_decompress_rejects_bad_files(images, tmp_path, capsys, mutate, msg):
    good = tmp_path / "good.nca"
    assert run_cli(compress.main, [str(images["rgb"]), "-o", str(good), "--patch", "8",
                                   "--iterations", "1", "--quiet"]) == 0
    bad, out = tmp_path / "bad.nca", tmp_path / "out.png"
    bad.write_bytes(mutate(good.read_bytes()))
    assert run_cli(decompress.main, [str(bad), "-o", str(out)]) == 2
    assert msg in one_line_error(capsys)
    assert not out.exists()


def test_decompress_missing_file_and_bad_options(tmp_path, capsys):
    assert run_cli(decompress.main, [str(tmp_path / "nope.nca"), "-o",
                                     str(tmp_path / "o.png")]) == 2
    assert "no such file" in one_line_error(capsys)
    assert run_cli(compress.main, ["embedded:astronaut", "-o",
                                   str(tmp_path / "missing_dir" / "o.nca")]) == 2
    assert "does not exist" in one_line_error(capsys)
    assert run_cli(compress.main, ["embedded:nonexistent", "-o", str(tmp_path / "o.nca")]) == 2
    assert "unknown embedded photo" in one_line_error(capsys)


@pytest.mark.parametrize("override,msg", [("--model.init_args.bogus=1", "'bogus' is not accepted"),
                                          ("--trainer.max_stepz=3", "unrecognized arguments"),
                                          ("--data.init_args.images=[/nope.png]", "no such file")])
def test_fit_bad_config_is_one_line(override, msg, capsys, monkeypatch):
    monkeypatch.setattr(sys, "argv", ["nca_zoo.fit"])
    rc = run_cli(lambda a: (fit_main(a), 0)[1],
                 ["--config", "configs/gnca/quickstart.yaml", override])
    assert rc == 2 and msg in one_line_error(capsys)


def test_fit_print_config_and_real_exit_code(tmp_path):
    ok = subprocess.run([sys.executable, "-m", "nca_zoo.fit", "--config",
                         "configs/gnca/quickstart.yaml", "--print_config"],
                        capture_output=True, text=True, timeout=120)
    assert ok.returncode == 0 and "class_path: nca_zoo.tasks.GNCACompression" in ok.stdout
    bad = subprocess.run([sys.executable, "-m", "nca_zoo.decompress", str(tmp_path / "x.nca"),
                          "-o", str(tmp_path / "x.png")], capture_output=True, text=True,
                         timeout=120)
    assert bad.returncode == 2 and bad.stderr.strip().count("\n") == 0
