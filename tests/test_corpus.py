"""The photo corpus and the colour held-out set: loader, split by name, fetch errors, licences.

Nothing here downloads: the corpus is fetched by hand (``docs/corpus.md``); tests use a few
generated PNGs.
"""
import json
from pathlib import Path

import numpy as np
import pytest
import tomllib
from PIL import Image

from nca_zoo.data import corpus
from nca_zoo.data.corpus import (
    CorpusError,
    corpus_dir,
    corpus_photos,
    is_complete,
    is_near,
    split_by_name,
    thumbnail,
)
from nca_zoo.data.corpus_sources import copyright_of, parse_copyright
from nca_zoo.data.held_out import (
    HELD_OUT_COLOUR_PHOTOS,
    HELD_OUT_DIR,
    held_out_photo,
    held_out_photos,
    held_out_sources,
)
from nca_zoo.data.images import skimage_photo
from nca_zoo.data.restoration import TRAINING_TEXTURES, RestorationDataModule, embedded_sources

REPO = Path(__file__).resolve().parents[1]


def photo_folder(folder: Path, n: int, size: int = 64) -> list[Path]:
    """``n`` random colour PNGs, half of them one folder down (a DIV2K-like tree)."""
    rng = np.random.default_rng(0)
    paths = []
    for i in range(n):
        sub = folder / ("train_HR" if i % 2 else "") / f"{i:04d}.png"
        sub.parent.mkdir(parents=True, exist_ok=True)
        Image.fromarray(rng.integers(0, 255, (size, size, 3), dtype=np.uint8)).save(sub)
        paths.append(sub)
    return paths


# ---------------------------------------------------------------------- held-out colour set
def test_held_out_colour_photos_are_twelve_or_more_colour_photos():
    assert len(HELD_OUT_COLOUR_PHOTOS) >= 12 and len(set(HELD_OUT_COLOUR_PHOTOS)) == len(
        HELD_OUT_COLOUR_PHOTOS)
    photos = held_out_photos()
    assert list(photos) == list(HELD_OUT_COLOUR_PHOTOS)
    for name, arr in photos.items():
        assert arr.dtype == np.uint8 and arr.ndim == 3 and arr.shape[2] == 3, name
        assert min(arr.shape[:2]) >= 256 and max(arr.shape[:2]) <= 1024, name
        spread = np.abs(np.diff(arr.astype(np.int16), axis=2)).mean()
        assert spread > 5, f"{name} is (nearly) grayscale"


def test_held_out_photos_are_no_training_photo():
    training = embedded_sources() + [skimage_photo(n) for n in TRAINING_TEXTURES]
    train_thumbs = [thumbnail(a) for a in training]
    held = [thumbnail(a) for a in held_out_photos().values()]
    for name, t in zip(HELD_OUT_COLOUR_PHOTOS, held):
        assert not is_near(t, train_thumbs), f"{name} looks like a training photo"
    for i, t in enumerate(held):  # and no two held-out photos are one photo
        assert not is_near(t, held[:i] + held[i + 1:])


@pytest.mark.skipif(not is_complete(corpus_dir()), reason="no fetched corpus here")
def test_held_out_photos_are_not_in_the_fetched_corpus():
    manifest = json.loads((corpus_dir() / "manifest.json").read_text())
    hashes = {p["sha256_original"] for p in held_out_sources()}
    assert not hashes & {p["sha256_original"] for p in manifest["photos"]}
    held = [thumbnail(a) for a in held_out_photos().values()]
    for path in corpus_photos():
        assert not is_near(thumbnail(np.asarray(Image.open(path).convert("RGB"))), held), path


def test_shipped_held_out_photos_record_source_and_a_redistributable_licence():
    records = held_out_sources()
    shipped = sorted(p.stem for p in HELD_OUT_DIR.glob("*.jpg"))
    assert sorted(r["name"] for r in records) == shipped
    assert set(shipped) <= set(HELD_OUT_COLOUR_PHOTOS)
    for r in records:
        assert r["licence"] in ("CC-BY-4.0", "CC0-1.0", "CC-BY-2.0", "public-domain"), r
        assert r["package"] and r["version"] and r["original"] and r["author"]
        assert len(r["sha256_original"]) == 64
    attribution = (HELD_OUT_DIR / "ATTRIBUTION.md").read_text()
    assert all(f"| {r['file']} |" in attribution for r in records)
    assert sum(p.stat().st_size for p in HELD_OUT_DIR.iterdir()) < 4e6
    data = tomllib.loads((REPO / "pyproject.toml").read_text())
    assert "data/held_out_photos/*" in data["tool"]["setuptools"]["package-data"]["nca_zoo"]


def test_either_held_out_set_by_name():
    assert held_out_photo("china").shape[2] == 3 and held_out_photo("moon").shape[2] == 3
    with pytest.raises(ValueError, match="not a held-out photo"):
        held_out_photo("astronaut")


# ---------------------------------------------------------------------- loader and split
def test_corpus_photos_reads_a_folder_recursively(tmp_path, monkeypatch):
    paths = photo_folder(tmp_path / "DIV2K", 6)
    (tmp_path / "DIV2K" / "notes.txt").write_text("not an image")
    assert corpus_photos(tmp_path / "DIV2K") == sorted(paths)
    monkeypatch.setenv("NCA_ZOO_CORPUS", str(tmp_path / "none"))
    assert corpus_dir() == tmp_path / "none"
    with pytest.raises(CorpusError, match="nca_zoo.data.corpus fetch"):
        corpus_photos()


def test_split_by_name_is_a_stable_partition(tmp_path):
    names = [f"{i:04d}.png" for i in range(400)]
    parts = split_by_name(names)
    assert sorted(str(p) for ps in parts.values() for p in ps) == sorted(names)
    assert not set(parts["train"]) & set(parts["test"])
    shares = [len(parts[k]) / len(names) for k in ("train", "val", "test")]
    assert shares == pytest.approx([0.64, 0.16, 0.20], abs=0.06)
    grown = split_by_name(names + [f"new{i}.png" for i in range(50)])
    for k in parts:  # a photo keeps its split when the folder grows
        assert set(parts[k]) <= set(grown[k])
    moved = split_by_name([f"x/{n}" for n in names])  # by file name, wherever the folder is
    assert {k: [p.name for p in v] for k, v in moved.items()} == \
        {k: [p.name for p in v] for k, v in parts.items()}


def test_datamodule_reads_the_corpus_split_by_name(tmp_path, monkeypatch):
    folder = tmp_path / "corpus"
    photo_folder(folder, 16)
    monkeypatch.setenv("NCA_ZOO_CORPUS", str(folder))
    with pytest.raises(CorpusError, match="fetch"):  # no manifest: not a finished fetch
        RestorationDataModule(root="corpus").setup()
    files = [p.relative_to(folder).as_posix() for p in corpus_photos(folder)]
    (folder / "manifest.json").write_text(json.dumps(
        {"complete": True, "photos": [{"file": f} for f in files]}))
    dm = RestorationDataModule(root="corpus", image_size=16, tiling={"size": 32},
                               split={"by": "name"})
    dm.setup()
    parts = split_by_name(corpus_photos(folder))
    assert len(dm.train_set[0]) == 4 * len(parts["train"])  # four 32 px tiles per photo
    assert len(dm.test_pairs[0]) <= 4 * len(parts["test"]) and len(dm.val_pairs[0]) > 0
    with pytest.raises(ValueError, match="split by name needs a folder"):
        RestorationDataModule(split={"by": "name"}).setup()


# ---------------------------------------------------------------------- fetch
def test_fetch_without_apt_is_one_line_and_exit_2(tmp_path, monkeypatch, capsys):
    monkeypatch.setattr(corpus.shutil, "which", lambda tool: None)
    assert corpus.main(["fetch", "--dest", str(tmp_path / "c")]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("error: `apt-get` is not installed") and "\n" not in err
    assert not (tmp_path / "c").exists()


def test_a_failing_client_is_one_line(tmp_path):
    with pytest.raises(CorpusError, match="apt-get download nope failed: boom"):
        corpus._run(["sh", "-c", "echo boom >&2; exit 100"], tmp_path, "apt-get download nope")


def test_fetch_is_a_no_op_when_complete(tmp_path, monkeypatch, capsys):
    photo_folder(tmp_path, 1)
    (tmp_path / "manifest.json").write_text(json.dumps(
        {"complete": True, "photos": [{"file": "0000.png"}]}))
    monkeypatch.setattr(corpus.shutil, "which", lambda tool: None)  # would fail if it fetched
    assert corpus.main(["fetch", "--dest", str(tmp_path)]) == 0
    assert "already complete" in capsys.readouterr().out
    (tmp_path / "0000.png").unlink()
    assert not is_complete(tmp_path)


def test_copyright_of_follows_dep5():
    text = ("Format: x\n\nFiles: *\nCopyright: 2020 Someone\nLicense: GPL-2+\n\n"
            "Files: 16.04/pic_by_A.jpg\n       other.jpg\nCopyright: A, 2018\nLicense: CC0-1.0\n\n"
            "Files: src/activities/erase/*\nCopyright: B\nLicense: CC-BY-SA-4.0\n\n"
            "License: GPL-2+\n text\n")
    paras = parse_copyright(text)
    assert copyright_of("usr/share/backgrounds/pic_by_A.jpg", paras) == ("CC0-1.0", "A, 2018")
    assert copyright_of("usr/share/other.jpg", paras)[0] == "CC0-1.0"
    assert copyright_of("/gcompris/src/activities/erase/resource/x.webp", paras)[0] == \
        "CC-BY-SA-4.0"
    assert copyright_of("usr/share/anything.png", paras)[0] == "GPL-2+"
    up = ("usr/share/backgrounds/", "16.04/")  # anchored: the upstream path must match
    assert copyright_of("usr/share/backgrounds/pic_by_A.jpg", paras, up)[0] == "CC0-1.0"
    assert copyright_of("usr/share/backgrounds/x/other.jpg", paras, up)[0] == "GPL-2+"
    assert copyright_of("/gcompris/src/activities/erase/a.webp", paras, ("/gcompris/", ""))[0] \
        == "CC-BY-SA-4.0"


def test_near_duplicates_are_found_across_sizes():
    arr = skimage_photo("astronaut")
    small = np.asarray(Image.fromarray(arr).resize((200, 200), Image.LANCZOS))
    assert is_near(thumbnail(small), [thumbnail(arr)])
    assert not is_near(thumbnail(skimage_photo("coffee")), [thumbnail(arr)])
