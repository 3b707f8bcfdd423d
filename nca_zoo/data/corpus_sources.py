"""Where the offline training corpus comes from: Debian packages that ship real photographs.

Each :class:`Source` is one package and the photos picked from it by hand (drawings, renders,
logos and test charts are left out; see ``docs/corpus.md``).  A photo's licence and author come
from the package's machine-readable ``debian/copyright`` (:func:`copyright_of`); GCompris keeps
its photos inside Qt resource files, read by :func:`rcc_files`.
"""
from __future__ import annotations

import fnmatch
import struct
import zlib
from dataclasses import dataclass
from typing import Iterator, Optional


@dataclass(frozen=True)
class Source:
    """A Debian package and the photos taken from it.

    ``include``: glob patterns on the installed paths (relative to ``/``); inside a Qt resource
    file (``rcc``), patterns on the resource paths.  ``exclude``: patterns dropped after that.
    """

    package: str
    include: tuple
    exclude: tuple = ()
    rcc: Optional[str] = None  # glob of the .rcc files whose members ``include`` picks
    largest: bool = False  # keep only the largest file of each folder (one photo, many sizes)
    upstream: tuple = ()  # (installed prefix, upstream prefix): anchors debian/copyright paths


_GCOMPRIS_PHOTOS = ("erase", "explore_monuments", "explore_world_animals",
                    "explore_farm_animals", "explore_world_music", "categorization", "clickgame")

SOURCES = (
    Source("gcompris-qt-data",
           include=tuple(f"*/activities/{a}/*" for a in _GCOMPRIS_PHOTOS),
           rcc="usr/share/gcompris-qt/rcc/*.rcc", upstream=("/gcompris/", "")),
    Source("scratch", include=("usr/share/scratch/Media/Backgrounds/*/*.jpg",),
           exclude=tuple(f"*/{n}.jpg" for n in (
               "party-room", "room1", "room2", "room3", "spotlight-stage", "woods-and-bench",
               "school2", "brick-wall1", "basketball-court1-b")),
           upstream=("usr/share/scratch/", "")),
    Source("mate-backgrounds", include=("usr/share/backgrounds/mate/nature/*.jpg",),
           upstream=("usr/share/backgrounds/mate/", "")),
    Source("plasma-workspace-wallpapers",
           include=tuple(f"usr/share/wallpapers/{n}/contents/images/*" for n in (
               "BytheWater", "ColdRipple", "ColorfulCups", "DarkestHour", "EveningGlow",
               "FallenLeaf", "Grey", "Kite", "MilkyWay", "OneStandsOut", "Path", "Volna",
               "summer_1am")), largest=True),
    Source("lomiri-wallpapers-16.04", include=tuple(f"usr/share/backgrounds/{n}" for n in (
        "Bridge_by_*", "Dragonfly_by_*", "free_by_*", "greentock_by_*")),
           upstream=("usr/share/backgrounds/", "16.04/")),
    Source("lomiri-wallpapers-20.04", include=("usr/share/backgrounds/Kleiber_by_*",),
           upstream=("usr/share/backgrounds/", "20.04/")),
    Source("palapeli-data", include=("usr/share/palapeli/collection/*.jpg",)),
    Source("opencv-doc", include=tuple(f"usr/share/doc/opencv-doc/examples/data/{n}.jpg" for n in (
        "aero1", "aero3", "aloeL", "apple", "baboon", "board", "building", "butterfly", "fruits",
        "home", "leuvenA", "orange", "squirrel_cls", "stuff")),
           upstream=("usr/share/doc/opencv-doc/examples/", "samples/")),
)


def matches(path: str, patterns) -> bool:
    """True if ``path`` matches one of the glob ``patterns``."""
    return any(fnmatch.fnmatchcase(path, p) for p in patterns)


def parse_copyright(text: str) -> list[dict]:
    """The ``Files`` paragraphs of a machine-readable ``debian/copyright``, in file order.

    Each is ``{"files": [patterns], "copyright": str, "license": str}`` (first lines only).
    """
    paragraphs, current, key = [], {}, None
    for line in text.splitlines() + [""]:
        if not line.strip():
            if "files" in current:
                paragraphs.append(current)
            current, key = {}, None
        elif line[0] in " \t":
            if key == "files":
                current["files"] += line.split()
        elif ":" in line:
            key, value = (s.strip() for s in line.split(":", 1))
            key = key.lower()
            if key == "files":
                current["files"] = value.split()
            elif key in ("copyright", "license"):
                current[key] = value
    return paragraphs


def _dep5_match(path: str, pattern: str, anchored: bool) -> bool:
    if pattern == "*" or (anchored and fnmatch.fnmatchcase(path.lstrip("/"), pattern)):
        return True
    if anchored:
        return False
    # installed paths differ from upstream ones: match the end of the path, or the file name
    return fnmatch.fnmatchcase("/" + path.lstrip("/"), "*/" + pattern) or (
        not any(c in pattern for c in "*?[") and pattern.rsplit("/", 1)[-1]
        == path.rsplit("/", 1)[-1])


def copyright_of(path: str, paragraphs: list[dict], upstream: tuple = (),
                 fallback: str = "see debian/copyright") -> tuple[str, str]:
    """``(licence, copyright)`` of ``path`` by DEP-5 rules: the last matching paragraph wins.

    ``upstream`` = ``(installed prefix, upstream prefix)`` maps the path to the source tree and
    anchors the patterns; without it a pattern matches the end of the path or the file name.  A
    ``.webp`` also matches its ``.jpg`` / ``.png`` original (GCompris converts at build time).
    """
    anchored = bool(upstream) and path.startswith(upstream[0])
    if anchored:
        path = upstream[1] + path[len(upstream[0]):]
    stem, _, ext = path.rpartition(".")
    names = [path] + ([f"{stem}.{e}" for e in ("jpg", "jpeg", "png", "svg")]
                      if ext.lower() == "webp" else [])
    found = ("", fallback)
    for para in paragraphs:
        if any(_dep5_match(n, pat, anchored) for pat in para["files"] for n in names):
            found = (para.get("license", ""), para.get("copyright", ""))
    return found


def rcc_files(data: bytes) -> Iterator[tuple[str, bytes]]:
    """``(path, bytes)`` of every file in a Qt binary resource (``.rcc``, format 1-3)."""
    if data[:4] != b"qres":
        raise ValueError("not a Qt resource file")
    version, tree, payload, names = struct.unpack(">4I", data[4:20])
    entry = 14 if version < 2 else 22

    def name(offset: int) -> str:
        n = struct.unpack(">H", data[names + offset:names + offset + 2])[0]
        return data[names + offset + 6:names + offset + 6 + 2 * n].decode("utf-16-be")

    stack = [(0, "")]
    while stack:
        node, prefix = stack.pop()
        base = tree + node * entry
        name_offset, flags = struct.unpack(">IH", data[base:base + 6])
        path = f"{prefix}/{name(name_offset)}" if node else prefix
        if flags & 2:  # directory
            count, first = struct.unpack(">II", data[base + 6:base + 14])
            stack.extend((c, path) for c in range(first + count - 1, first - 1, -1))
            continue
        offset = struct.unpack(">I", data[base + 10:base + 14])[0]
        size = struct.unpack(">I", data[payload + offset:payload + offset + 4])[0]
        blob = data[payload + offset + 4:payload + offset + 4 + size]
        if flags & 4:  # zstd: not needed by any source
            continue
        yield path, (zlib.decompress(blob[4:]) if flags & 1 else blob)
