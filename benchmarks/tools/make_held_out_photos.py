"""Rebuild ``nca_zoo/data/held_out_photos/``: the colour held-out photos, from their packages.

Nine photos of the Debian package ``lomiri-wallpapers-16.04`` (CC-BY-4.0 / CC0-1.0, per its
``debian/copyright``), scikit-learn's two sample photos (CC-BY-2.0, per
``sklearn/datasets/images/README.txt``) and matplotlib's ``grace_hopper.jpg`` (a US Navy photo,
public domain).  Each is resized (Lanczos) so its longer side is at most 512 px and saved as a
quality-95 JPEG; ``photos.json`` records the source package and version, the original path, its
SHA-256 (the corpus fetch excludes these files), the author and the licence.  Needs apt-get,
dpkg-deb and pip.  ``python benchmarks/tools/make_held_out_photos.py``
"""
import hashlib
import json
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

import matplotlib
import numpy as np
from PIL import Image

from nca_zoo.data.corpus import _shrink, download_deb
from nca_zoo.data.corpus_sources import copyright_of, parse_copyright

OUT = Path(__file__).resolve().parents[2] / "nca_zoo" / "data" / "held_out_photos"
LOMIRI = {  # name -> file in usr/share/backgrounds
    "aitzgorri": "aitzgorri_by_Aitzol_Berasategi.jpg",
    "friends": "friends_by_Aitzol_Berasategi.jpg",
    "life": "life_by_Aitzol_Berasategi.jpg",
    "picos_de_europa": "picosdeeuropa_by_Aitzol_Berasategi.jpg",
    "sunset": "sunset_by_Aitzol_Berasategi.jpg",
    "fig": "Picture_0B_by_freespace.jpg",
    "brushes": "Picture_1A_by_freespace.jpg",
    "wine": "Wine_by_Jakkub_Mede.jpg",
    "seeding": "seeding_by_Clements_Engelhardt.jpg",
}
SKLEARN_AUTHORS = {  # sklearn/datasets/images/README.txt: CC-BY-2.0, retrieved by Robert Layton
    "china": "Flickr user danielbuechele",
    "flower": "Flickr user vultilion (the photo page sklearn's README links; its attribution "
              "line repeats danielbuechele)",
}
WHAT = {"aitzgorri": "mountain meadow, autumn trees", "friends": "two dogs at a window",
        "life": "forest stream over rocks", "picos_de_europa": "mountains, path, clouds",
        "sunset": "sunset over a hilltop", "fig": "fig in a red bowl", "brushes": "paint brushes",
        "wine": "interior: drum, table, bottle", "seeding": "dandelion clocks in a field",
        "china": "temple and trees", "flower": "flower close-up",
        "grace_hopper": "portrait of Grace Hopper"}
HEADER = """# Held-out colour photos: sources and licences

Photos no model of the zoo trains on (`nca_zoo.data.held_out.HELD_OUT_COLOUR_PHOTOS`, with
scikit-image's `stereo_motorcycle`). Each was resized (Lanczos) so its longer side is at most
512 px and saved as a quality-95 JPEG by `benchmarks/tools/make_held_out_photos.py`; that is
the only change. `photos.json` holds the same records and the SHA-256 of each original file.

| file | what | source (package, version) | original file | author | licence |
| --- | --- | --- | --- | --- | --- |
"""
FOOTER = """
Licences: CC-BY-4.0 <https://creativecommons.org/licenses/by/4.0/>, CC0-1.0
<https://creativecommons.org/publicdomain/zero/1.0/>, CC-BY-2.0
<https://creativecommons.org/licenses/by/2.0/>; the Grace Hopper portrait is a work of the US
Navy, in the public domain. The CC-BY photos are redistributed here, resized, with the
attribution above.
"""


def save(name: str, blob: bytes, record: dict, photos: list) -> None:
    with tempfile.NamedTemporaryFile(suffix=".jpg") as f:
        f.write(blob)
        f.flush()
        arr = _shrink(np.asarray(Image.open(f.name).convert("RGB")), 512)
    Image.fromarray(arr).save(OUT / f"{name}.jpg", quality=95, subsampling=0)
    photos.append({"name": name, "file": f"{name}.jpg", "width": arr.shape[1],
                   "height": arr.shape[0], **record,
                   "sha256_original": hashlib.sha256(blob).hexdigest()})


def main() -> None:
    OUT.mkdir(exist_ok=True)
    photos: list = []
    with tempfile.TemporaryDirectory() as tmp:
        root, version = download_deb("lomiri-wallpapers-16.04", Path(tmp))
        paras = parse_copyright((root / "usr/share/doc/lomiri-wallpapers-16.04/copyright")
                                .read_text())
        for name, file in LOMIRI.items():
            original = f"usr/share/backgrounds/{file}"
            licence, holder = copyright_of(original, paras)
            save(name, (root / original).read_bytes(),
                 {"package": "lomiri-wallpapers-16.04 (Debian)", "version": version,
                  "original": original, "author": holder, "licence": licence}, photos)
        subprocess.run([sys.executable, "-m", "pip", "download", "--no-deps", "--only-binary",
                        ":all:", "scikit-learn", "-d", tmp], check=True, capture_output=True)
        wheel = next(Path(tmp).glob("scikit_learn-*.whl"))
        sk_version = wheel.name.split("-")[1]
        with zipfile.ZipFile(wheel) as z:
            for name in ("china", "flower"):
                original = f"sklearn/datasets/images/{name}.jpg"
                save(name, z.read(original),
                     {"package": "scikit-learn (PyPI)", "version": sk_version,
                      "original": original, "author": SKLEARN_AUTHORS[name],
                      "licence": "CC-BY-2.0"}, photos)
    hopper = Path(matplotlib.get_data_path()) / "sample_data" / "grace_hopper.jpg"
    save("grace_hopper", hopper.read_bytes(),
         {"package": "matplotlib (PyPI)", "version": matplotlib.__version__,
          "original": "matplotlib/mpl-data/sample_data/grace_hopper.jpg",
          "author": "US Navy (official portrait of Grace Hopper, 1984)",
          "licence": "public-domain"}, photos)
    (OUT / "photos.json").write_text(json.dumps(photos, indent=1) + "\n")
    rows = [f"| {p['file']} | {WHAT[p['name']]} | {p['package']} {p['version']} | "
            f"`{p['original']}` | {p['author']} | {p['licence']} |" for p in photos]
    (OUT / "ATTRIBUTION.md").write_text(HEADER + "\n".join(rows) + "\n" + FOOTER)
    print(f"{len(photos)} photos, {sum(p.stat().st_size for p in OUT.iterdir()) / 1e6:.2f} MB")


if __name__ == "__main__":
    main()
