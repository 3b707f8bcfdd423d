"""Entropy coding of ``.nca`` weights (issue 11, part 4): file bytes, speed and PSNR per coder.

Banks: the shipped ``examples/gnca/astronaut_120.nca`` and four trained here on embedded photos
(GNCA-small / medium / large, 4 to 64 patches, and a medium bank whose patches all start from
one shared NCA as with a prior; each at most about 2 CPU-minutes on one thread, cached under
``runs/gnca_entropy_banks/``).  Every candidate codes the same int8 weights (header
and float16 scales raw, as in version 1) and must give them back bit for bit:

* ``v1``: raw int8 (the baseline); ``zlib`` / ``lzma``: the raw bytes through zlib -9 and LZMA2
  (preset 9e, liblzma's default literal context);
* ``zlib-lm``: zlib after the layer-major reordering of :mod:`nca_zoo.compression.entropy`;
* ``lzma-lm`` / ``lzma-lm-delta``: that module's layouts 0 and 1 (patch by patch; position by
  position minus the previous patch), LZMA2 with a context-free literal coder;
* ``v2``: format version 2, the smaller of the two layouts, timed as whole files through
  :func:`~nca_zoo.compression.nca_file.transcode` / :func:`~nca_zoo.compression.nca_file.decode`;
* ``ans-laplace`` / ``ans-gauss``: constriction's ANS coder with one quantised Laplace / Gaussian
  per section (its float16 spread stored, 2 bytes a section);
* ``ans-table``: constriction's ANS coder with each section's own histogram as the model, the
  histogram stored as zlib-compressed uint32 counts;
* ``entropy bound``: the sections' empirical (order-0) entropy, model cost left out: no coder
  of independent symbols per section gets below it.

Times: median of ``--repeats`` calls, payload only (plus the whole v2 file).  PSNR: the image
decoded from each file against the photo; v1 and v2 must agree exactly.

    python benchmarks/gnca/gnca_entropy_coding.py   # trains the banks once (~6 CPU-minutes)
"""
from __future__ import annotations

import argparse
import lzma
import os
import sys
import zlib
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # benchmarks/: _common
from _common import ROOT, md_table, median_time, write_results

SHIPPED = ROOT / "examples" / "gnca" / "astronaut_120.nca"
#: name: (image, side in px, patch, GNCA size, training iterations); "shared" starts every patch
#: from one random NCA (what a prior does, :mod:`nca_zoo.compression.prior`) instead of its own
BANKS = {"small": ("embedded:coffee", 80, 40, "small", 250),
         "medium": ("embedded:chelsea", 120, 40, "medium", 70),
         "large": ("embedded:astronaut", 160, 20, "large", 60),
         "shared": ("embedded:chelsea", 120, 40, "medium", 70)}
CANDIDATES = ("v1", "zlib", "zlib-lm", "lzma", "lzma-lm", "lzma-lm-delta", "v2", "ans-laplace",
              "ans-gauss", "ans-table", "entropy bound")


def trained_bank(name: str, cache: Path) -> bytes:
    """The version-1 file of bank ``name`` (trained once, then read from ``cache``)."""
    from nca_zoo.data.patch_bank import PatchBankDataModule
    from nca_zoo.drivers.compression import train_bank

    image, px, patch, size, iterations = BANKS[name]
    path = cache / f"{name}_{image.split(':')[-1]}_{px}px_p{patch}_{size}_{iterations}it.nca"
    if not path.is_file():
        dm = PatchBankDataModule([image], size=px, patch_size=patch,
                                 iterations_per_epoch=iterations)
        if name == "shared":
            data = shared_init_bank(dm, size, iterations)
        else:
            data = train_bank(dm, size, iterations, None, seed=0).to_nca(0, version=1)
        cache.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
    return path.read_bytes()


def shared_init_bank(dm, size: str, iterations: int) -> bytes:
    """A bank whose patches all start from one random NCA, trained by compress's recipe."""
    import lightning as L

    from nca_zoo.compression.nca_file import encode
    from nca_zoo.compression.prior import adapt, bank_like
    from nca_zoo.models.gnca import GNCA, GNCA_SIZES, default_growth_steps

    L.seed_everything(0, verbose=False)
    steps = default_growth_steps(dm.patch_size)
    bank = bank_like(GNCA(*GNCA_SIZES[size], 1, dm.patch_size, steps), dm.num_patches,
                     dm.patch_size, steps)
    adapt(bank, dm.targets, iterations, 1e-2, steps)
    _, _, h, w = dm.layout[0]
    return encode(bank.eval(), h, w, steps, version=1)


def _lzma(lc: int):
    filters = [{"id": lzma.FILTER_LZMA2, "preset": 9 | lzma.PRESET_EXTREME, "lc": lc}]
    return (lambda b: lzma.compress(b, format=lzma.FORMAT_RAW, filters=filters),
            lambda b: lzma.decompress(b, format=lzma.FORMAT_RAW, filters=filters))


def _ans(kind: str):
    """(encode, decode) of a constriction ANS coder with one model per section."""
    import constriction

    model = constriction.stream.model

    def models(params):
        for p in params:
            if kind == "laplace":
                yield model.QuantizedLaplace(-127, 127, 0.0, float(p))
            elif kind == "gauss":
                yield model.QuantizedGaussian(-127, 127, 0.0, float(p))
            else:
                yield model.Categorical(np.asarray(p, np.float64), perfect=False)

    def encode(sections):
        if kind == "laplace":
            params = [np.float16(max(np.abs(s).mean(), 0.1)) for s in sections]
        elif kind == "gauss":
            params = [np.float16(max(s.astype(np.float64).std(), 0.1)) for s in sections]
        else:
            params = [np.bincount(s.astype(np.int64) + 127, minlength=255).astype(np.uint32)
                      for s in sections]
        coder = constriction.stream.stack.AnsCoder()
        symbols = [s.astype(np.int32) + (127 if kind == "table" else 0) for s in sections]
        for s, m in reversed(list(zip(symbols, models(params)))):
            coder.encode_reverse(s, m)
        side = (np.asarray(params, np.float16).tobytes() if kind != "table"
                else zlib.compress(np.concatenate(params).tobytes(), 9))
        return coder.get_compressed(), params, side

    def decode(words, params, sizes):
        coder = constriction.stream.stack.AnsCoder(words)
        out = [coder.decode(m, n) for m, n in zip(models(params), sizes)]
        return [o - (127 if kind == "table" else 0) for o in out]

    return encode, decode


def measure(name: str, v1: bytes, original: np.ndarray, repeats: int) -> dict:
    """Bytes, ms and PSNR of every candidate on one bank (version-1 bytes ``v1``)."""
    from nca_zoo.compression import entropy
    from nca_zoo.compression.metrics import image_quality
    from nca_zoo.compression.nca_file import _parse, decode, decode_image, transcode

    _, bank = _parse(v1, None)
    nc, hs = bank.fields[3], bank.fields[4]
    patches, raw = bank.codes.shape[0], bank.codes.tobytes()
    fixed = len(v1) - len(raw)  # header, scales, CRC: the same in every candidate
    lm = entropy.layer_major(bank.codes, nc, hs)
    sections = np.split(lm, np.cumsum([patches * s.size for s in entropy.sections(nc, hs)])[:-1])
    rows = {}

    def generic(label, comp, decomp, data):
        payload = comp(data)
        assert decomp(payload) == data, label
        rows[label] = {"bytes": fixed + 4 + len(payload),
                       "encode_ms": 1e3 * median_time(lambda: comp(data), repeats),
                       "decode_ms": 1e3 * median_time(lambda: decomp(payload), repeats)}

    rows["v1"] = {"bytes": len(v1), "encode_ms": 1e3 * median_time(
        lambda: transcode(v1, 1, None), repeats), "decode_ms": 1e3 * median_time(
        lambda: decode(v1, None), repeats)}
    zc, zd = (lambda b: zlib.compress(b, 9)), zlib.decompress
    generic("zlib", zc, zd, raw)
    generic("zlib-lm", zc, zd, lm.tobytes())
    generic("lzma", *_lzma(3), raw)
    for layout, label in enumerate(("lzma-lm", "lzma-lm-delta")):
        _, payload = entropy.compress_codes(bank.codes, nc, hs, layout)
        rows[label] = {"bytes": fixed + 5 + len(payload), "encode_ms": 1e3 * median_time(
            lambda: entropy.compress_codes(bank.codes, nc, hs, layout), repeats),  # noqa: B023
            "decode_ms": 1e3 * median_time(lambda: entropy.decompress_codes(  # noqa: B023
                payload, layout, patches, nc, hs), repeats)}  # noqa: B023
    v2 = transcode(v1, 2, None)
    assert np.array_equal(_parse(v2, None)[1].codes, bank.codes) and transcode(v2, 1) == v1
    rows["v2"] = {"bytes": len(v2), "layout": v2[fixed - 4],
                  "encode_ms": 1e3 * median_time(lambda: transcode(v1, 2, None), repeats),
                  "decode_ms": 1e3 * median_time(lambda: decode(v2, None), repeats)}
    for kind in ("laplace", "gauss", "table"):
        enc, dec = _ans(kind)
        words, params, side = enc(sections)
        back = dec(words, params, [s.size for s in sections])
        assert all(np.array_equal(a, b) for a, b in zip(back, sections)), kind
        rows[f"ans-{kind}"] = {
            "bytes": fixed + 4 + words.nbytes + len(side),
            "encode_ms": 1e3 * median_time(lambda: enc(sections), repeats),
            "decode_ms": 1e3 * median_time(
                lambda: dec(words, params, [s.size for s in sections]), repeats)}
    bits = 0.0
    for sec in sections:
        counts = np.bincount(sec.astype(np.int64) + 127)
        counts = counts[counts > 0]
        bits -= float((counts * np.log2(counts / sec.size)).sum())
    rows["entropy bound"] = {"bytes": fixed + 5 + int(np.ceil(bits / 8)), "encode_ms": "-",
                             "decode_ms": "-"}
    images = {v: decode_image(decode(data, None)) for v, data in (("v1", v1), ("v2", v2))}
    psnr = {v: image_quality(original, img)["psnr"] for v, img in images.items()}
    h, w, patch, _, _, steps = bank.fields
    return {"bank": name, "size": f"n_c={nc}, h_s={hs}", "patches": patches,
            "image": f"{w}x{h} px, patch {patch}, {steps} steps", "weights": len(raw),
            "candidates": rows, "psnr_v1": psnr["v1"], "psnr_v2": psnr["v2"],
            "images_identical": bool(np.array_equal(images["v1"], images["v2"]))}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=7)
    parser.add_argument("--cache", type=Path, default=ROOT / "runs" / "gnca_entropy_banks")
    args = parser.parse_args()
    torch.set_num_threads(1)
    os.environ.setdefault("WANDB_MODE", "disabled")

    from nca_zoo.data.images import load_rgb_uint8, resize_square

    banks = [("shipped (astronaut_120)", SHIPPED.read_bytes(),
              resize_square(load_rgb_uint8("embedded:astronaut"), 120))]
    for name, (image, px, *_rest) in BANKS.items():
        banks.append((f"{name} ({image.split(':')[-1]} {px})", trained_bank(name, args.cache),
                      resize_square(load_rgb_uint8(image), px)))
    results = [measure(name, v1, original, args.repeats) for name, v1, original in banks]

    total_v1 = sum(r["candidates"]["v1"]["bytes"] for r in results)
    summary = {c: sum(r["candidates"][c]["bytes"] for r in results) / total_v1 for c in CANDIDATES}
    reduction = [1 - r["candidates"]["v2"]["bytes"] / r["candidates"]["v1"]["bytes"]
                 for r in results]
    lines = ["Bytes of the whole `.nca` file per weight coder (header, scales and CRC included), "
             "and encode / decode ms (median, one CPU thread; v1 and v2: the whole file; others: "
             "the weight payload).  Every coder returns the int8 weights bit for bit.", ""]
    for r in results:
        lines += [f"### {r['bank']}: {r['patches']} patches, {r['size']}, {r['image']}, "
                  f"{r['weights']:,} weights", ""]
        v1b = r["candidates"]["v1"]["bytes"]
        lines.append(md_table(["coder", "bytes", "vs v1", "encode ms", "decode ms"], [
            [c, f"{row['bytes']:,}", f"{row['bytes'] / v1b - 1:+.1%}", row["encode_ms"],
             row["decode_ms"]] for c, row in r["candidates"].items()]))
        lines += ["", f"v2 layout {r['candidates']['v2']['layout']}; PSNR v1 "
                  f"{r['psnr_v1']:.4f} dB, v2 {r['psnr_v2']:.4f} dB, decoded images identical: "
                  f"{r['images_identical']}", ""]
    lines += ["### all banks: bytes relative to v1 (sum over banks)", "",
              md_table(["coder", "bytes / v1"], [[c, f"{v:.3f}"] for c, v in summary.items()]),
              "", f"version 2 is {min(reduction):.1%} to {max(reduction):.1%} smaller than "
              f"version 1 per bank, {1 - summary['v2']:.1%} over all."]
    write_results("gnca_entropy_coding", {"banks": results, "bytes_vs_v1": summary,
                                          "bank_specs": BANKS}, "\n".join(lines))
    print("\n".join(lines))
    print(f"size_reduction={100 * (1 - summary['v2']):.1f}%")


if __name__ == "__main__":
    main()
