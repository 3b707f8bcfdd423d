"""Bad input never crashes or hangs: a catalogue of mistakes across the five command-line tools.

Every case must end with exit status 2, exactly one ``error: ...`` line on stderr (no traceback,
no warning lines), no output file and no temporary file left in the output folder, within a
bounded time.  The catalogue runs in-process (``nca_zoo.cli.run``); one case per tool also runs
as a real subprocess.  Then: the image modes that are converted to RGB instead of refused, the
decoder limits, and the memory guard of ``compress``.
"""
import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import torch
from nca_file_helpers import with_crc
from PIL import Image

import nca_zoo
import nca_zoo._pretrained  # the lazy package exposes a submodule once it is imported
from nca_zoo import cli
from nca_zoo.cells.sobel_mlp import SobelMLPCell
from nca_zoo.compression import memory
from nca_zoo.compression.nca_file import _HEADER, MAGIC, DecodeLimits, decode, decode_image, encode
from nca_zoo.data.images import read_rgb
from nca_zoo.layers import grid_shape
from nca_zoo.models.gnca import GNCA

ROOT = Path(__file__).resolve().parents[1]
SECONDS = 30  # per in-process case; subprocesses get 60
#: a small LNCA restorer, saved fresh for the pretrained-folder cases
TINY_RESTORER = {"embed_dim": 16, "steps": [2, 2], "eval_steps": 2}


def nca_bytes(h, w, patch, channels, hidden, steps, version=1) -> bytes:
    """A .nca file with a consistent header, zero weights and a valid CRC."""
    rows, cols = grid_shape(h, w, patch)
    body = _HEADER.pack(MAGIC, version, h, w, patch, channels, hidden, steps) + bytes(
        rows * cols * (6 + SobelMLPCell.params_per_model(channels, hidden)))
    return with_crc(body)


#: absurd but consistent headers (h, w, patch, n_c, h_s, steps), one per decoder limit
ABSURD = {"pixels": (10000, 10000, 1024, 4, 1, 1),       # 2.3 kB file, 105 Mpx to grow
          "patch": (2000, 2000, 2000, 4, 1, 8),          # 43-byte file, one 4 Mpx patch
          "steps": (8, 8, 8, 4, 1, 65535),
          "channels": (8, 8, 8, 255, 1, 8),
          "hidden": (8, 8, 8, 4, 65535, 8),              # 1.1 MB file
          "work": (1024, 1024, 1024, 4, 1, 4000),        # 43 bytes, 4.2 G cell updates
          "huge": (65535, 65535, 65535, 4, 1, 65535)}    # 43 bytes, 4.3 Gpx x 65535 steps


@pytest.fixture(scope="module")
def inputs(tmp_path_factory):
    """Every bad input of the catalogue, made once in a temporary folder."""
    d = tmp_path_factory.mktemp("inputs")
    rng = np.random.default_rng(0)
    paths = {"dir": d / "a_folder", "missing": d / "missing.png"}
    paths["dir"].mkdir()
    rgb = (rng.random((64, 64, 3)) * 255).astype(np.uint8)
    Image.fromarray(rgb[:16, :16]).save(paths.setdefault("rgb", d / "rgb.png"))
    Image.fromarray(rgb[:2, :2]).save(paths.setdefault("tiny", d / "tiny.png"))
    Image.fromarray(rgb).save(d / "noise.png")
    png = (d / "noise.png").read_bytes()
    (paths.setdefault("truncated", d / "truncated.png")).write_bytes(png[: len(png) * 3 // 5])
    (paths.setdefault("corrupt", d / "corrupt.png")).write_bytes(
        png[:200] + bytes(400) + png[600:])
    (paths.setdefault("empty", d / "empty.png")).write_bytes(b"")
    (paths.setdefault("text", d / "text.png")).write_text("not an image\n")
    alpha = np.dstack([rgb[:16, :16], rng.integers(0, 256, (16, 16), dtype=np.uint8)])
    Image.fromarray(alpha).save(paths.setdefault("transparent", d / "transparent.png"))
    Image.fromarray(rng.random((16, 16)).astype(np.float32)).save(
        paths.setdefault("float", d / "float.tif"))

    good = encode(GNCA(16, 32, 4, 8, 4), 16, 16, 4)
    files = {"good": good, "badcrc": good[:30] + bytes([good[30] ^ 1]) + good[31:],
             "truncated_nca": good[:50], "magic": b"XXXX" + good[4:], "zero": b"",
             "version": with_crc(good[:4] + b"\x09" + good[5:-4]),
             "length": with_crc(good[:-104]),
             **{f"absurd_{k}": nca_bytes(*v) for k, v in ABSURD.items()}}
    for name, data in files.items():
        (paths.setdefault(name, d / f"{name}.nca")).write_bytes(data)

    shipped = nca_zoo._pretrained.SHIPPED
    # a small restorer saved fresh (no restorer is shipped: none passes the shipping rule)
    paths["restorer"] = nca_zoo.save_pretrained(
        nca_zoo.create_model("lnca_nafca", **TINY_RESTORER), d / "restorer", "lnca_nafca",
        TINY_RESTORER, card={"task": "noise"})

    def corrupt_copy(name, src, change):
        folder = shutil.copytree(paths["restorer"] if src == "restorer" else shipped / src,
                                 d / name)
        change(Path(folder))
        paths[name] = folder

    def edit_config(**changes):
        def change(folder):
            cfg = json.loads((folder / "config.json").read_text())
            for key, value in changes.items():
                cfg[key] = value(cfg[key]) if callable(value) else value
            (folder / "config.json").write_text(json.dumps(cfg))
        return change

    weights = "model.safetensors"
    corrupt_copy("pre_truncated", "restorer", lambda f: (f / weights).write_bytes(
        (f / weights).read_bytes()[:5000]))
    corrupt_copy("pre_nocard", "restorer", lambda f: (f / "card.json").unlink())
    corrupt_copy("pre_noconfig", "restorer", lambda f: (f / "config.json").unlink())
    corrupt_copy("pre_mismatch", "restorer",
                 edit_config(model_args=lambda a: {**a, "hidden_channels": 10**6}))
    corrupt_copy("pre_badjson", "restorer",
                 lambda f: (f / "config.json").write_text('{"architecture": '))
    corrupt_copy("pre_unknown", "restorer", edit_config(architecture="lnca_nope"))
    corrupt_copy("diff_badschedule", "diff-nca-pathology",
                 edit_config(diffusion=lambda c: {**c, "timesteps": 10**9}))
    (paths.setdefault("ckpt_text", d / "fake.ckpt")).write_text("not a checkpoint")
    (paths.setdefault("bad_yaml", d / "bad.yaml")).write_text("model: [unclosed\n")
    (paths.setdefault("unknown_key", d / "unknown.yaml")).write_text("bogus_key: 1\n")
    return paths


CATALOGUE = [
    # (id, tool, argv with {placeholders}, what the error line must say)
    ("compress-missing-file", "compress", ["{missing}", "-o", "{nca}"], "no such file"),
    ("compress-directory-input", "compress", ["{dir}", "-o", "{nca}"], "is a directory"),
    ("compress-text-as-png", "compress", ["{text}", "-o", "{nca}"], "not a readable image"),
    ("compress-zero-byte-png", "compress", ["{empty}", "-o", "{nca}"], "not a readable image"),
    ("compress-truncated-png", "compress", ["{truncated}", "-o", "{nca}"],
     "not a readable image"),
    ("compress-corrupted-png", "compress", ["{corrupt}", "-o", "{nca}"], "not a readable image"),
    ("compress-too-small", "compress", ["{tiny}", "-o", "{nca}", "--codec", "gnca"],
     "at least 4x4"),
    ("compress-float-image", "compress", ["{float}", "-o", "{nca}"], "floating-point (mode F)"),
    ("compress-transparent", "compress", ["{transparent}", "-o", "{nca}"], "pass --background"),
    ("compress-bad-background", "compress", ["{transparent}", "-o", "{nca}", "--background",
                                             "nocolour"], "unknown colour 'nocolour'"),
    ("compress-unknown-embedded", "compress", ["embedded:nope", "-o", "{nca}"],
     "unknown embedded photo"),
    ("compress-steps-0", "compress", ["{rgb}", "-o", "{nca}", "--steps", "0"],
     "argument --steps: must be a positive integer, got 0"),
    ("compress-negative-patch", "compress", ["{rgb}", "-o", "{nca}", "--patch", "-3"],
     "argument --patch: must be a positive integer"),
    ("compress-iterations-0", "compress", ["{rgb}", "-o", "{nca}", "--iterations", "0"],
     "argument --iterations"),
    ("compress-negative-seed", "compress", ["{rgb}", "-o", "{nca}", "--seed", "-1"],
     "argument --seed"),
    ("compress-patch-too-large", "compress",
     ["{rgb}", "-o", "{nca}", "--codec", "gnca", "--patch", "2000"],
     "--patch must be between 3 and 1024"),
    ("compress-steps-over-limit", "compress",
     ["{rgb}", "-o", "{nca}", "--codec", "gnca", "--steps", "5000"],
     "decoder's limit on growth steps: 5,000 > 4,096"),
    ("compress-gnca-option-for-latent", "compress", ["{rgb}", "-o", "{nca}", "--size", "small"],
     "--size needs --codec gnca"),
    ("compress-latent-option-for-gnca", "compress",
     ["{rgb}", "-o", "{nca}", "--codec", "gnca", "--bpp", "1"], "--bpp needs --codec latent"),
    ("compress-bpp-0", "compress", ["{rgb}", "-o", "{nca}", "--bpp", "0"],
     "argument --bpp: must be a number > 0"),
    ("compress-negative-lambda", "compress", ["{rgb}", "-o", "{nca}", "--lambda", "-1"],
     "argument --lambda"),
    ("compress-unknown-rule", "compress", ["{rgb}", "-o", "{nca}", "--rule", "no-such-rule"],
     "no-such-rule"),
    ("compress-output-folder-missing", "compress", ["{rgb}", "-o", "{nowhere}/x.nca"],
     "output folder does not exist"),
    ("compress-output-is-directory", "compress", ["{rgb}", "-o", "{outdir}"], "is a directory"),
    ("compress-missing-output-option", "compress", ["{rgb}"], "required: -o/--output"),
    ("decompress-missing-file", "decompress", ["{missing}", "-o", "{png}"], "no such file"),
    ("decompress-directory-input", "decompress", ["{dir}", "-o", "{png}"], "is a directory"),
    ("decompress-zero-byte", "decompress", ["{zero}", "-o", "{png}"], "too short"),
    ("decompress-truncated", "decompress", ["{truncated_nca}", "-o", "{png}"], "checksum"),
    ("decompress-bad-crc", "decompress", ["{badcrc}", "-o", "{png}"], "checksum"),
    ("decompress-wrong-magic", "decompress", ["{magic}", "-o", "{png}"], "not a .nca file"),
    ("decompress-png-as-nca", "decompress", ["{rgb}", "-o", "{png}"], "not a .nca file"),
    ("decompress-unknown-version", "decompress", ["{version}", "-o", "{png}"],
     "unsupported .nca format version 9"),
    ("decompress-length-mismatch", "decompress", ["{length}", "-o", "{png}"], "header implies"),
    ("decompress-absurd-pixels", "decompress", ["{absurd_pixels}", "-o", "{png}"],
     "limit on pixels to grow: 104,857,600 > 89,478,485 (decompress --max-pixels N"),
    ("decompress-absurd-patch", "decompress", ["{absurd_patch}", "-o", "{png}"],
     "limit on patch side: 2,000 > 1,024 (decompress --no-limits"),
    ("decompress-absurd-steps", "decompress", ["{absurd_steps}", "-o", "{png}"],
     "limit on growth steps: 65,535 > 4,096"),
    ("decompress-absurd-channels", "decompress", ["{absurd_channels}", "-o", "{png}"],
     "limit on state channels: 255 > 32"),
    ("decompress-absurd-hidden", "decompress", ["{absurd_hidden}", "-o", "{png}"],
     "limit on hidden width: 65,535 > 128"),
    ("decompress-absurd-work", "decompress", ["{absurd_work}", "-o", "{png}"],
     "limit on cell updates (pixels x steps): 4,194,304,000 > 500,000,000 (decompress "
     "--max-work N"),
    ("decompress-absurd-everything", "decompress", ["{absurd_huge}", "-o", "{png}"],
     "limit on patch side"),
    ("decompress-raised-limit-still-short", "decompress",
     ["{absurd_pixels}", "-o", "{png}", "--max-pixels", "100000000"], "limit on pixels"),
    ("decompress-max-pixels-0", "decompress", ["{good}", "-o", "{png}", "--max-pixels", "0"],
     "argument --max-pixels"),
    ("decompress-output-folder-missing", "decompress", ["{good}", "-o", "{nowhere}/x.png"],
     "output folder does not exist"),
    ("decompress-output-is-directory", "decompress", ["{good}", "-o", "{outdir}"],
     "is a directory"),
    ("restore-unknown-model", "restore", ["{rgb}", "-o", "{png}", "--model", "no-such-model"],
     "no restorer 'no-such-model'"),
    ("restore-truncated-weights", "restore", ["{rgb}", "-o", "{png}", "--model",
                                              "{pre_truncated}"], "cannot be read"),
    ("restore-missing-card", "restore", ["{rgb}", "-o", "{png}", "--model", "{pre_nocard}"],
     "missing card.json"),
    ("restore-missing-config", "restore", ["{rgb}", "-o", "{png}", "--model", "{pre_noconfig}"],
     "missing config.json"),
    ("restore-config-not-matching-weights", "restore",
     ["{rgb}", "-o", "{png}", "--model", "{pre_mismatch}"],
     "model.safetensors does not match config.json (17 of another shape"),
    ("restore-config-not-json", "restore", ["{rgb}", "-o", "{png}", "--model", "{pre_badjson}"],
     "is not valid JSON"),
    ("restore-config-unknown-architecture", "restore",
     ["{rgb}", "-o", "{png}", "--model", "{pre_unknown}"], "unknown model 'lnca_nope'"),
    ("restore-diffusion-model", "restore",
     ["{rgb}", "-o", "{png}", "--model", "diff-nca-pathology"], "is a diffusion model"),
    ("restore-missing-image", "restore", ["{missing}", "-o", "{png}", "--model", "{restorer}"],
     "no such file"),
    ("restore-transparent", "restore", ["{transparent}", "-o", "{png}", "--model", "median3"],
     "pass --background"),
    ("restore-tile-0", "restore", ["{rgb}", "-o", "{png}", "--model", "median3", "--tile", "0"],
     "argument --tile: expected 'auto' or a size"),
    ("restore-output-is-directory", "restore", ["{rgb}", "-o", "{outdir}", "--model",
                                                "{restorer}"], "is a directory"),
    ("sample-steps-0", "sample", ["--model", "diff-nca-pathology", "-o", "{png}", "--steps", "0"],
     "argument --steps: must be a positive integer, got 0"),
    ("sample-n-negative", "sample", ["--model", "diff-nca-pathology", "-o", "{png}", "--n", "-2"],
     "argument --n"),
    ("sample-size-0", "sample", ["--model", "diff-nca-pathology", "-o", "{png}", "--size", "0"],
     "argument --size"),
    ("sample-negative-eta", "sample", ["--model", "diff-nca-pathology", "-o", "{png}", "--eta",
                                       "-1"], "argument --eta: must be a number >= 0"),
    ("sample-unknown-sampler", "sample", ["--model", "diff-nca-pathology", "-o", "{png}",
                                          "--sampler", "plms"],
     "argument --sampler: invalid choice: 'plms' (choose from 'ddpm', 'ddim', 'dpm-solver++'"),
    ("sample-eta-without-ddim", "sample", ["--model", "diff-nca-pathology", "-o", "{png}",
                                           "--sampler", "euler", "--eta", "0.5"],
     "--eta applies to --sampler ddim only, not euler"),
    ("sample-too-many-pixels", "sample", ["--model", "diff-nca-pathology", "-o", "{png}", "--n",
                                          "16", "--size", "4096"],
     "16 images of 4096x4096 px are 268,435,456 pixels, over the limit of 89,478,485"),
    ("sample-corrupt-schedule", "sample", ["--model", "{diff_badschedule}", "-o", "{png}"],
     "invalid diffusion config (1000000000 is not an integer in [1, 100000])"),
    ("sample-restorer-as-generator", "sample", ["--model", "{restorer}", "-o", "{png}"],
     "is not a diffusion model"),
    ("sample-truncated-weights", "sample", ["--model", "{pre_truncated}", "-o", "{png}"],
     "cannot be read"),
    ("sample-missing-checkpoint", "sample", ["{missing}", "-o", "{png}"], "no such checkpoint"),
    ("sample-text-checkpoint", "sample", ["{ckpt_text}", "-o", "{png}"],
     "not a readable checkpoint"),
    ("sample-inpaint-without-image", "sample", ["--model", "diff-nca-pathology", "-o", "{png}",
                                                "--mode", "inpaint"], "needs --image"),
    ("sample-transparent-input", "sample", ["--model", "diff-nca-pathology", "-o", "{png}",
                                            "--mode", "superres", "--image", "{transparent}"],
     "pass --background"),
    ("fit-missing-config", "fit", ["--config", "{missing}.yaml"], "File does not exist"),
    ("fit-config-is-directory", "fit", ["--config", "{dir}"], "is not a file"),
    ("fit-bad-yaml", "fit", ["--config", "{bad_yaml}"], "Problems parsing config"),
    ("fit-unknown-key", "fit", ["--config", "{unknown_key}"], "'bogus_key' is not accepted"),
    ("fit-unknown-model-key", "fit", ["--config", "configs/gnca/quickstart.yaml",
                                      "--model.init_args.bogus=1"], "'bogus' is not accepted"),
    ("fit-unknown-trainer-option", "fit", ["--config", "configs/gnca/quickstart.yaml",
                                           "--trainer.max_stepz=3"], "unrecognized arguments"),
    ("fit-missing-image", "fit", ["--config", "configs/gnca/quickstart.yaml",
                                  "--data.init_args.images=[/nope.png]"], "no such file"),
    ("fit-bad-patch-size", "fit", ["--config", "configs/gnca/quickstart.yaml",
                                   "--data.init_args.patch_size=-4"], "patch_size must be >= 3"),
    ("fit-init-from-missing", "fit", ["--config", "configs/lnca/nafnet_denoise.yaml",
                                      "--model.init_args.init_from={missing}.ckpt"],
     "init_from: no checkpoint"),
]


def fill(argv, paths, outdir):
    names = {k: str(v) for k, v in paths.items()}
    names.update(nca=str(outdir / "out.nca"), png=str(outdir / "out.png"), outdir=str(outdir),
                 nowhere=str(outdir / "no_such_folder"))
    return [a.format(**names) for a in argv]


def assert_one_error_line(err: str, fragment: str) -> None:
    lines = err.splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), err
    assert "Traceback" not in err and fragment in lines[0], lines[0]


@pytest.mark.parametrize("tool,argv,fragment", [c[1:] for c in CATALOGUE],
                         ids=[c[0] for c in CATALOGUE])
def test_catalogue(tool, argv, fragment, inputs, tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(ROOT)
    monkeypatch.setattr(sys, "argv", [f"nca_zoo.{tool}"])
    outdir = tmp_path / "out"
    outdir.mkdir()
    start = time.perf_counter()
    rc = cli.run(tool, fill(argv, inputs, outdir))
    elapsed = time.perf_counter() - start
    assert rc == 2
    assert_one_error_line(capsys.readouterr().err, fragment)
    assert not list(outdir.iterdir())          # no output, no temporary file
    assert elapsed < SECONDS


def test_catalogue_is_large_and_covers_every_tool():
    assert len(CATALOGUE) >= 25 and len({c[0] for c in CATALOGUE}) == len(CATALOGUE)
    assert {c[1] for c in CATALOGUE} == set(cli.TOOLS)


SUBPROCESS_CASES = ["compress-steps-0", "decompress-absurd-everything", "restore-truncated-weights",
                    "sample-corrupt-schedule", "fit-bad-yaml"]


def test_real_processes_exit_2_with_one_line(inputs, tmp_path):
    """One case per tool as ``python -m nca_zoo.TOOL``: the real exit status and stderr."""
    cases = {c[0]: c for c in CATALOGUE}
    env = {**os.environ, "WANDB_MODE": "disabled"}
    procs = []
    for name in SUBPROCESS_CASES:        # all at once: the start-up (imports) dominates
        _, tool, argv, fragment = cases[name]
        outdir = tmp_path / name
        outdir.mkdir()
        cmd = [sys.executable, "-m", f"nca_zoo.{tool}", *fill(argv, inputs, outdir)]
        procs.append((name, fragment, outdir, subprocess.Popen(
            cmd, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)))
    for name, fragment, outdir, proc in procs:
        try:
            out, err = proc.communicate(timeout=150)
        except subprocess.TimeoutExpired:
            proc.kill()
            pytest.fail(f"{name} ran for more than 150 s")
        assert proc.returncode == 2, (name, err)
        assert_one_error_line(err, fragment)
        assert not list(outdir.iterdir()), name


# ---------------------------------------------------------------- image modes converted to RGB
def test_image_modes_convert_to_the_expected_rgb(tmp_path):
    gray = np.arange(48, dtype=np.uint8).reshape(6, 8) * 5
    expect_gray = np.repeat(gray[..., None], 3, axis=2)
    Image.fromarray(gray).save(tmp_path / "l.png")
    opaque = np.dstack([gray, np.full_like(gray, 255)])
    Image.frombytes("LA", (8, 6), opaque.tobytes()).save(tmp_path / "la.png")
    palette = Image.frombytes("P", (8, 6), (np.arange(48) % 3).astype(np.uint8).tobytes())
    colours = [255, 0, 0, 0, 255, 0, 0, 0, 255]
    palette.putpalette(colours)
    palette.save(tmp_path / "p.png")
    expect_p = np.array(colours, np.uint8).reshape(3, 3)[np.arange(48).reshape(6, 8) % 3]
    cmyk = np.zeros((2, 3, 4), np.uint8)
    cmyk[0, 1, 0] = 255                                   # cyan
    cmyk[1, :, 3] = 255                                   # black
    Image.frombytes("CMYK", (3, 2), cmyk.tobytes()).save(tmp_path / "cmyk.tif")
    expect_cmyk = np.full((2, 3, 3), 255, np.uint8)
    expect_cmyk[0, 1] = (0, 255, 255)
    expect_cmyk[1] = 0
    sixteen = np.array([[0, 257, 1000], [32896, 65280, 65535]], np.uint16)
    Image.fromarray(sixteen).save(tmp_path / "i16.png")
    expect_16 = np.repeat(np.array([[0, 1, 4], [128, 254, 255]], np.uint8)[..., None], 3, 2)

    for name, expected, mode in [("l.png", expect_gray, "L"), ("la.png", expect_gray, "LA"),
                                 ("p.png", expect_p, "P"), ("cmyk.tif", expect_cmyk, "CMYK"),
                                 ("i16.png", expect_16, "I;16")]:
        assert Image.open(tmp_path / name).mode == mode
        pixels, note = read_rgb(tmp_path / name)
        assert pixels.dtype == np.uint8 and np.array_equal(pixels, expected), name
        assert note.startswith(f"{tmp_path / name}: converted {mode} ") and "\n" not in note


def test_exif_rotated_jpeg_comes_out_upright(tmp_path):
    wide = np.zeros((16, 32, 3), np.uint8)
    wide[:, 16:] = 255                                    # left half black, right half white
    img = Image.fromarray(wide)
    exif = img.getexif()
    exif[0x0112] = 6                                      # display rotated 90 degrees clockwise
    img.save(tmp_path / "phone.jpg", exif=exif, quality=95)
    pixels, note = read_rgb(tmp_path / "phone.jpg")
    assert pixels.shape == (32, 16, 3)                    # upright: taller than wide
    assert pixels[:14].mean() < 10 and pixels[18:].mean() > 245  # left column is now the top
    assert "rotated it upright (EXIF orientation 6)" in note


def test_transparency_needs_a_background_and_rgb_needs_no_note(tmp_path):
    rgba = np.zeros((2, 2, 4), np.uint8)
    rgba[0, 0] = (200, 0, 0, 255)                         # opaque red, the rest fully transparent
    Image.fromarray(rgba).save(tmp_path / "t.png")
    pixels, note = read_rgb(tmp_path / "t.png", background="#00ff00")
    assert tuple(pixels[0, 0]) == (200, 0, 0) and tuple(pixels[1, 1]) == (0, 255, 0)
    assert "composited its transparency onto #00ff00" in note
    Image.fromarray(rgba[..., :3]).save(tmp_path / "rgb.png")
    assert read_rgb(tmp_path / "rgb.png").note is None


def test_cli_prints_the_conversion_as_one_note_line(tmp_path, capsys):
    gray = (np.random.default_rng(0).random((16, 16)) * 255).astype(np.uint8)
    Image.fromarray(gray).save(tmp_path / "gray.png")
    out = tmp_path / "out.png"
    assert cli.run("restore", [str(tmp_path / "gray.png"), "-o", str(out), "--model",
                               "median3"]) == 0
    assert capsys.readouterr().err == f"note: {tmp_path / 'gray.png'}: converted L to RGB\n"
    assert Image.open(out).size == (16, 16)


# ---------------------------------------------------------------- decoder limits
def test_limits_are_checked_before_any_allocation_and_can_be_lifted():
    data = nca_bytes(*ABSURD["work"])                     # 4.2 G cell updates from 43 bytes
    start = time.perf_counter()
    with pytest.raises(nca_zoo.compression.nca_file.NCAFormatError, match="cell updates"):
        decode(data)
    assert time.perf_counter() - start < 0.5
    assert decode(data, limits=None).steps == 4000        # a file you trust: parsed, not grown
    assert decode(data, limits=DecodeLimits(max_work=5 * 10**9)).patch_size == 1024


def test_every_file_compress_can_write_is_within_the_default_limits():
    limits = DecodeLimits()
    assert limits.max_patch >= 1024                       # compress's own largest --patch
    assert limits.max_steps >= round(1.2 * 1024)          # its default steps at that patch
    assert limits.max_channels >= 16 and limits.max_hidden >= 40   # GNCA-large (Table 1)


def test_chunked_decoding_matches_growing_the_whole_bank():
    torch.manual_seed(0)
    model = GNCA(16, 32, 6, 8, 5)
    with torch.no_grad():
        model.cell.w2.normal_(0, 0.1)
    nca = decode(encode(model, 16, 24, 5))
    whole = decode_image(nca)
    assert np.array_equal(decode_image(nca, chunk_bytes=1), whole)   # one patch at a time


# ---------------------------------------------------------------- memory guard of compress
def test_compress_refuses_a_bank_that_does_not_fit(inputs, tmp_path, capsys, monkeypatch):
    monkeypatch.setattr(memory, "available_bytes", lambda device=None: 100 * 2**20)
    rgb = tmp_path / "photo.png"
    Image.new("RGB", (256, 256), (10, 20, 30)).save(rgb)
    rc = cli.run("compress", [str(rgb), "-o", str(tmp_path / "x.nca"), "--codec", "gnca"])
    err = capsys.readouterr().err
    assert rc == 2
    assert_one_error_line(err, "training 49 patches of 40 px over 48 steps (256x256 px) needs "
                               "about 1.0 GiB of memory, only 0.1 GiB is available; use a "
                               "smaller image")
    assert not (tmp_path / "x.nca").exists()


def test_memory_estimate_of_the_issue_example():
    need = memory.training_bytes(15000, 40, 16, 32, 48)   # 6000x4000 px at --patch 40
    assert 250 * 2**30 < need < 350 * 2**30


@pytest.mark.slow
def test_memory_estimate_is_within_2x_of_the_measured_peak(tmp_path):
    """Peak RSS of training a 256x256 bank (3 iterations) vs :func:`memory.training_bytes`."""
    script = f"""
import resource, numpy as np
from PIL import Image
from nca_zoo.drivers.compression import train_bank
from nca_zoo.data.patch_bank import PatchBankDataModule
Image.fromarray((np.random.default_rng(0).random((256, 256, 3)) * 255).astype(np.uint8)).save(
    r"{tmp_path / 'img.png'}")
dm = PatchBankDataModule([r"{tmp_path / 'img.png'}"], size=None, patch_size=40,
                         iterations_per_epoch=3)
base = int(open("/proc/self/status").read().split("VmRSS:")[1].split()[0]) * 1024
train_bank(dm, "medium", 3)
print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024 - base)
"""
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                         timeout=300, cwd=ROOT)
    measured = int(out.stdout.split()[-1])
    estimate = memory.training_bytes(49, 40, 16, 32, 48)
    assert 0.5 < measured / estimate < 2.0, (measured, estimate)
