"""The offline photo corpus for training restorers, and any folder of photos used the same way.

``python -m nca_zoo.data.corpus fetch [--dest DIR]`` downloads the Debian packages of
:data:`~nca_zoo.data.corpus_sources.SOURCES` with ``apt-get download`` into a temporary folder,
extracts the hand-picked photos, drops small, grayscale and near-duplicate ones (and any
held-out photo of :mod:`nca_zoo.data.held_out`, by hash and by look), and writes them as RGB
PNGs (longer side at most 1024 px) with a ``manifest.json`` (file, package, version, licence,
copyright, original path, size) into the cache, ``$NCA_ZOO_CORPUS`` or
``~/.cache/nca_zoo/corpus``.  The folder appears whole or not at all; a second run is a no-op.
Neither CI nor the tests need it (see ``docs/corpus.md``).

:func:`corpus_photos` lists the photos of the corpus or of any folder (DIV2K, Flickr2K, BSD500:
images anywhere below it), and :func:`split_by_name` splits them into train / val / test by a hash
of the file name, so a photo keeps its split when the folder grows.
"""
from __future__ import annotations

import argparse
import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Optional, Sequence, Union

import numpy as np
from PIL import Image

from .corpus_sources import SOURCES, Source, copyright_of, matches, parse_copyright, rcc_files
from .images import IMAGE_SUFFIXES, ImageError, list_images, load_rgb_uint8

#: environment variable naming the corpus folder
CORPUS_ENV = "NCA_ZOO_CORPUS"
#: train / val / test shares of :func:`split_by_name` (the datamodule's 64/16/20 %)
SPLIT_SHARES = (0.64, 0.16, 0.20)
MIN_SIDE, MAX_SIDE = 256, 1024
#: near-duplicate threshold: mean absolute difference of normalised 32 px thumbnails
DUPLICATE_DISTANCE = 0.2


class CorpusError(RuntimeError):
    """A missing client, package or corpus: reported as one line."""


def corpus_dir(dest: Union[str, os.PathLike, None] = None) -> Path:
    """The corpus folder: ``dest``, else ``$NCA_ZOO_CORPUS``, else ``~/.cache/nca_zoo/corpus``."""
    if dest is not None:
        return Path(dest).expanduser()
    env = os.environ.get(CORPUS_ENV)
    return Path(env).expanduser() if env else Path.home() / ".cache" / "nca_zoo" / "corpus"


def is_complete(folder: Path) -> bool:
    """True if ``folder`` holds a finished fetch: its manifest and every photo it lists."""
    try:
        manifest = json.loads((folder / "manifest.json").read_text())
    except (OSError, ValueError):
        return False
    return bool(manifest.get("complete")) and all(
        (folder / p["file"]).is_file() for p in manifest.get("photos", []))


def corpus_photos(path: Union[str, os.PathLike, None] = None) -> list[Path]:
    """Image files (recursive, sorted) of a folder of photos; None = the fetched corpus."""
    folder = corpus_dir() if path is None else Path(path).expanduser()
    if path is None and not folder.is_dir():
        raise CorpusError(f"no corpus at {folder}: run `python -m nca_zoo.data.corpus fetch`")
    return list_images(folder)


def split_of_name(name: str, shares: Sequence[float] = SPLIT_SHARES) -> str:
    """``"train"``, ``"val"`` or ``"test"`` for a file name, from its SHA-256 (deterministic)."""
    u = int.from_bytes(hashlib.sha256(Path(name).name.encode()).digest()[:8], "big") / 2.0 ** 64
    edges = np.cumsum(shares) / sum(shares)
    return ("train", "val", "test")[min(int(np.searchsorted(edges, u, side="right")), 2)]


def split_by_name(paths: Sequence[Union[str, os.PathLike]],
                shares: Sequence[float] = SPLIT_SHARES) -> dict[str, list[Path]]:
    """``{"train", "val", "test"}`` -> paths, each photo by a hash of its file name."""
    parts: dict[str, list[Path]] = {"train": [], "val": [], "test": []}
    for p in paths:
        parts[split_of_name(str(p), shares)].append(Path(p))
    return parts


# ---------------------------------------------------------------------- fetching
def _need(tool: str) -> None:
    if shutil.which(tool) is None:
        raise CorpusError(f"`{tool}` is not installed: the corpus is fetched from Debian "
                          f"packages with apt-get and dpkg-deb (Debian / Ubuntu only)")


def _run(cmd: list[str], cwd: Path, what: str) -> str:
    done = subprocess.run(cmd, cwd=cwd, capture_output=True, text=True)
    if done.returncode:
        last = (done.stderr or done.stdout).strip().splitlines()[-1:] or ["no output"]
        raise CorpusError(f"{what} failed: {last[0]}")
    return done.stdout


def download_deb(package: str, workdir: Path) -> tuple[Path, str]:
    """``apt-get download`` + ``dpkg-deb -x`` ``package``: ``(extracted root, version)``."""
    for tool in ("apt-get", "dpkg-deb"):
        _need(tool)
    workdir.mkdir(parents=True, exist_ok=True)
    _run(["apt-get", "download", package], workdir, f"apt-get download {package}")
    debs = sorted(workdir.glob(f"{package}_*.deb"))
    if not debs:
        raise CorpusError(f"apt-get download {package} left no .deb in {workdir}")
    version = _run(["dpkg-deb", "-f", str(debs[-1]), "Version"], workdir, "dpkg-deb -f").strip()
    root = workdir / package
    _run(["dpkg-deb", "-x", str(debs[-1]), str(root)], workdir, f"dpkg-deb -x {debs[-1].name}")
    return root, version


def _candidates(src: Source, root: Path):
    """``(original path, bytes)`` of the photos ``src`` picks from its extracted package."""
    files = sorted(p for p in root.rglob("*") if p.is_file())
    if src.largest:
        biggest: dict = {}
        for f in files:
            if f.parent not in biggest or f.stat().st_size > biggest[f.parent].stat().st_size:
                biggest[f.parent] = f
        files = sorted(biggest.values())
    for f in files:
        rel = f.relative_to(root).as_posix()
        if src.rcc is not None:
            if matches(rel, (src.rcc,)):
                for member, blob in rcc_files(f.read_bytes()):
                    if (member.lower().endswith(IMAGE_SUFFIXES)
                            and matches(member, src.include)
                            and not matches(member, src.exclude)):
                        yield f"{rel}:{member}", blob
        elif matches(rel, src.include) and not matches(rel, src.exclude):
            yield rel, f.read_bytes()


def thumbnail(arr: np.ndarray, size: int = 32) -> np.ndarray:
    """Centre square, ``size`` px, grayscale, zero mean and unit std: for near-duplicates."""
    h, w = arr.shape[:2]
    s = min(h, w)
    crop = arr[(h - s) // 2:(h - s) // 2 + s, (w - s) // 2:(w - s) // 2 + s]
    g = np.asarray(Image.fromarray(crop).convert("L").resize((size, size), Image.BILINEAR),
                   dtype=np.float32)
    return (g - g.mean()) / (g.std() + 1e-6)


def is_near(thumb: np.ndarray, others: Sequence[np.ndarray],
            distance: float = DUPLICATE_DISTANCE) -> bool:
    """True if ``thumb`` is within ``distance`` of one of ``others``."""
    return any(float(np.abs(thumb - o).mean()) < distance for o in others)


def _decode(blob: bytes, tmp: Path) -> Optional[np.ndarray]:
    path = tmp / "photo.bin"
    path.write_bytes(blob)
    try:
        return load_rgb_uint8(path, background="white")
    except ImageError:
        return None


def _shrink(arr: np.ndarray, max_side: int) -> np.ndarray:
    h, w = arr.shape[:2]
    if max(h, w) <= max_side:
        return arr
    k = max_side / max(h, w)
    img = Image.fromarray(arr).resize((round(w * k), round(h * k)), Image.LANCZOS)
    return np.asarray(img, dtype=np.uint8)


def _slug(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9]+", "-", text).strip("-").lower()


def fetch(dest: Union[str, os.PathLike, None] = None, sources: Sequence[Source] = SOURCES,
          max_side: int = MAX_SIDE, log=print) -> Path:
    """Fetch the corpus into ``dest`` (see the module docstring); returns the folder."""
    from .held_out import held_out_fingerprints

    dest = corpus_dir(dest)
    if is_complete(dest):
        log(f"corpus already complete at {dest}")
        return dest
    for tool in ("apt-get", "dpkg-deb"):
        _need(tool)
    held_hashes, held_thumbs = held_out_fingerprints()
    dest.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{dest.name}-", dir=dest.parent))
    try:
        photos, thumbs, names, skipped = [], [], set(), {}
        with tempfile.TemporaryDirectory(prefix="nca-corpus-") as tmp:
            for src in sources:
                root, version = download_deb(src.package, Path(tmp) / "debs")
                doc = root / "usr/share/doc" / src.package / "copyright"
                paragraphs = parse_copyright(doc.read_text(errors="replace")) if doc.is_file() \
                    else []
                kept = 0
                for original, blob in _candidates(src, root):
                    digest = hashlib.sha256(blob).hexdigest()
                    arr = None if digest in held_hashes else _decode(blob, Path(tmp))
                    why = ("held out" if digest in held_hashes else "not an image" if arr is None
                           else "small" if min(arr.shape[:2]) < MIN_SIDE
                           else "grayscale" if np.abs(np.diff(arr.astype(np.int16), axis=2)).mean()
                           < 2 else None)
                    if why is None:
                        thumb = thumbnail(arr)
                        why = ("held out" if is_near(thumb, held_thumbs)
                               else "duplicate" if is_near(thumb, thumbs) else None)
                    if why:
                        skipped[why] = skipped.get(why, 0) + 1
                        continue
                    thumbs.append(thumb)
                    stem = _slug(Path(original.split(":")[-1]).stem)
                    name, k = f"{src.package}__{stem}.png", 1
                    while name in names:
                        k += 1
                        name = f"{src.package}__{stem}-{k}.png"
                    names.add(name)
                    small = _shrink(arr, max_side)
                    Image.fromarray(small).save(staging / name, format="PNG")
                    licence, holder = copyright_of(original.split(":")[-1], paragraphs,
                                                   src.upstream)
                    photos.append({"file": name, "package": src.package, "version": version,
                                   "licence": licence, "copyright": holder,
                                   "original": original, "width": small.shape[1],
                                   "height": small.shape[0], "sha256_original": digest})
                    kept += 1
                log(f"{src.package} {version}: {kept} photos")
                shutil.rmtree(root)
                for deb in (Path(tmp) / "debs").glob("*.deb"):
                    deb.unlink()
        manifest = {"complete": True, "max_side": max_side, "n_photos": len(photos),
                    "skipped": skipped, "photos": photos}
        (staging / "manifest.json").write_text(json.dumps(manifest, indent=1) + "\n")
        if dest.exists():
            shutil.rmtree(dest)  # an unfinished earlier fetch
        os.replace(staging, dest)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    log(f"corpus: {len(photos)} photos at {dest} (skipped: {skipped})")
    return dest


def main(argv: Optional[Sequence[str]] = None) -> int:
    """``python -m nca_zoo.data.corpus fetch [--dest DIR] [--max-side N]``."""
    parser = argparse.ArgumentParser(prog="python -m nca_zoo.data.corpus",
                                     description="Fetch the offline photo corpus.")
    sub = parser.add_subparsers(dest="command", required=True)
    f = sub.add_parser("fetch", help="download and cache the corpus (a no-op when complete)")
    f.add_argument("--dest", default=None,
                   help=f"folder (default: ${CORPUS_ENV} or ~/.cache/nca_zoo/corpus)")
    f.add_argument("--max-side", type=int, default=MAX_SIDE, help="longer side cap in px")
    args = parser.parse_args(argv)
    try:
        fetch(args.dest, max_side=args.max_side)
    except (CorpusError, OSError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
