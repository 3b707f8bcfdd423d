"""Regenerate the result tables of ``README.md`` and all of ``benchmarks/results/README.md``.

Every number comes from a file: the benchmark results (``benchmarks/results/*.json`` and ``*.md``,
written by the scripts in ``benchmarks/``) and the cards of the shipped modules
(``nca_zoo/pretrained/*/card.json``, written by ``benchmarks/tools/export_pretrained.py``).

* ``README.md`` marks each generated block with ``<!-- results:NAME -->`` ...
  ``<!-- /results:NAME -->``; this script replaces the block's body.  Names: ``headline-gnca``,
  ``headline-lnca``, ``headline-diffusion`` (short tables read from the JSON results and cards),
  ``pretrained`` (the shipped modules), or the stem of any ``benchmarks/results/*.md``.
* ``benchmarks/results/README.md`` is written whole: every result, under a heading naming the
  script that writes it and the command that re-runs it.

    python benchmarks/tools/make_readme_tables.py            # rewrite both files
    python benchmarks/tools/make_readme_tables.py --check    # exit 1 if either file is out of date

Only the standard library is used, so any Python 3.10+ runs it.
"""
from __future__ import annotations

import argparse
import json
import os
import re
import sys
from pathlib import Path
from typing import Callable, Optional

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # benchmarks/: _common
from _common import RESULTS, ROOT, md_table

PRETRAINED = ROOT / "nca_zoo" / "pretrained"
README = ROOT / "README.md"
RESULTS_README = RESULTS / "README.md"
BLOCK = re.compile(r"(<!-- results:(?P<name>[\w-]+) -->\n)(?P<body>.*?)"
                   r"(<!-- /results:(?P=name) -->)", re.S)
TASK_NAMES = {"noise": "denoising", "blur": "deblurring"}


# ---------------------------------------------------------------------------------------------
# reading the result files

def load_json(name: str) -> Optional[dict]:
    """``benchmarks/results/<name>.json``, or None when that benchmark has not been run."""
    path = RESULTS / f"{name}.json"
    return json.loads(path.read_text()) if path.exists() else None


def load_cards() -> list[dict]:
    """The shipped modules' cards, sorted by name."""
    return [json.loads(p.read_text()) for p in sorted(PRETRAINED.glob("*/card.json"))]


def missing(name: str) -> str:
    return f"_not measured yet: run the benchmark that writes `benchmarks/results/{name}`_\n"


def machine_line(data: Optional[dict]) -> str:
    """One line naming the machine that produced a JSON result."""
    m = (data or {}).get("machine")
    if not m:
        return ""
    return (f"_Measured on {m['device']} ({m['cpu_count']} cores, {m['torch_threads']} torch "
            f"threads), torch {m['torch']}, {m['date']}._\n")


def kib(n_bytes: float) -> str:
    return f"{n_bytes / 1024:.0f} KiB"


# ---------------------------------------------------------------------------------------------
# README headline blocks

def headline_gnca() -> str:
    """GNCA-medium (prior, else random init) vs the three codecs at matched file size.

    At the largest image size measured, on the benchmark's images (the held-out photos by
    default), with GNCA's BD-rate against each codec at that size.
    """
    data = load_json("gnca_vs_codecs")
    if data is None:
        return missing("gnca_vs_codecs.json")
    size = max(r["size"] for r in data["table2"])
    rows = [r for r in data["table2"] if r["size"] == size]
    init = data["args"]["inits"][0]
    name = f"GNCA-medium ({init})"
    gnca = next(r for r in rows if r["method"] == name)
    matched = [r for r in rows if r["protocol"] == f"matched to {name}"]
    tests = {t["comparison"]: t for t in data["tests"]}
    out = []
    for r in [gnca, *matched]:
        label = f"**{r['method']}**" if r is gnca else r["method"]
        t = tests.get(f"{name} vs {r['method']} (its bytes)")
        p = "" if t is None else f"{t['adjusted_p']:.2g}"
        out.append([label, f"{r['bytes'][0]:,.0f}", f"{r['psnr'][0]:.2f} ± {r['psnr'][1]:.2f}",
                    f"{r['ssim'][0]:.3f} ± {r['ssim'][1]:.3f}", p])
    short = [r["method"] for r in matched if r["bytes"][0] < 0.9 * gnca["bytes"][0]]
    a = data["args"]
    where = "held-out photos" if not a.get("images") else "photos"
    note = (f"Mean ± std over {gnca['n']} {where} ({', '.join(data['images'])}) at "
            f"{size}×{size} px, {a['iterations']} training iterations from the {init} start, "
            f"patch {a['patch']}; each codec at the quality setting whose file size is nearest "
            f"the `.nca` file")
    if short:
        note += (f" ({' and '.join(short)} land{'s' if len(short) == 1 else ''} over 10 % below "
                 f"it on average: on some images even the highest quality is smaller)")
    t0 = next(iter(tests.values()), None)
    if t0 is not None:
        sizes = sorted({r["size"] for r in data["table2"]})
        note += (f"; p: paired Wilcoxon over the {t0['n']} image × size blocks (each photo at "
                 f"{', '.join(map(str, sizes))} px), Benjamini-Hochberg adjusted")
    bd = [b for b in data.get("bd", []) if b["size"] == size and b["gnca"] == f"GNCA ({init})"]
    if bd:
        shown = lambda v: "no overlap" if v is None else f"{v:+.0f} %"  # noqa: E731
        models = len(a.get("models", [])) or 3
        note += (f". BD-rate of GNCA ({init}) over its {models} sizes at {size} px: "
                 + ", ".join(f"{shown(b['bd_rate'])} vs {b['codec']}" for b in bd)
                 + " (positive: more bits than the codec for the same PSNR)")
    note += ". From `benchmarks/results/gnca_vs_codecs.json`.\n"
    return md_table(["method", "file bytes", "PSNR dB", "SSIM", "p vs GNCA"], out) + "\n\n" + note


def headline_latent() -> str:
    """The latent codec (its default: rule in the file) against each codec and the paper's GNCA.

    BD-rate and BD-PSNR on the mean curves, the median of the per-photo BD-rates, then the same
    BD-rates with the shipped rule kept fixed (``--shipped-rule``) when that run exists.
    """
    data = load_json("latent_codec_rule_in_file")
    if data is None:
        return missing("latent_codec_rule_in_file.json")
    fixed = {b["anchor"]: b for b in (load_json("latent_codec") or {}).get("bd", [])}
    shown = lambda v, unit=" %": "no overlap" if v is None else f"{v:+.1f}{unit}"  # noqa: E731
    rows = [[b["anchor"], shown(b["bd_rate"]), shown(b["bd_psnr"], " dB"),
             shown(b["median_per_image_bd_rate"]) if b["images_with_bd_rate"] else "-",
             shown(fixed[b["anchor"]]["bd_rate"]) if b["anchor"] in fixed else "-"]
            for b in data["bd"]]
    a, curve = data["args"], data["curve"]
    points = ", ".join(f"{p['bpp']:.2f} bpp {p['psnr-rgb']:.2f} dB" for p in curve)
    note = (f"`compress --codec latent` on {len(data['images'])} held-out photos "
            f"({', '.join(data['images'])}) at {a['size']}×{a['size']} px, lambda "
            f"{', '.join(f'{v:g}' for v in a['lambdas'])}, {a['iterations']} iterations per "
            f"image, the rule fine-tuned and stored in each file; every point is a real `.nca` "
            f"version 5 file and its decoded image. Mean curve: {points}. Negative BD-rate: "
            f"fewer bits than the anchor for the same PSNR (bjontegaard, pchip, on the mean "
            f"curves; median: over the photos; last column: the shipped rule kept fixed, "
            f"`--shipped-rule`). Decoding costs {data['macs_per_pixel']:,} MAC per pixel. From "
            f"`benchmarks/results/latent_codec_rule_in_file.json` and `latent_codec.json`.\n")
    return md_table(["anchor", "BD-rate", "BD-PSNR", "median per-photo BD-rate",
                     "BD-rate, shipped rule"], rows) + "\n\n" + note


def held_out_cell(h: dict, size: str, key: str, fmt: str) -> str:
    """``input → model`` of one held-out metric at one size, the model in bold if it is better."""
    model = f"{h[size][key + '_model']:{fmt}}"
    better = h[size][key + "_model"] > h[size][key + "_input"]
    return f"{h[size][key + '_input']:{fmt}} → " + (f"**{model}**" if better else model)


def not_shipped() -> list[str]:
    """Restorers measured by restoration_held_out.py that fail the shipping rule.

    A name shipped since (a retrained module that passes, with its card) is not listed.
    """
    data = load_json("restoration_held_out") or {"results": {}}
    shipped = {c.get("name") for c in load_cards()}
    return sorted(n for n, r in data["results"].items() if not r["ships"] and n not in shipped)


def unshipped_configs() -> list[str]:
    """Restoration recipes in ``configs/lnca/`` with no shipped module (named as the module)."""
    cards = load_cards()
    shipped = {c.get("name") for c in cards}
    recipes = {Path(c["recipe_config"]).stem for c in cards if c.get("recipe_config")}
    names = {p.stem.replace("_", "-") for p in (ROOT / "configs" / "lnca").glob("*.yaml")
             if p.stem not in recipes}
    return sorted(names - shipped)


def classical_rows(task: str, sizes: list, seconds: dict) -> list:
    """Rows of the classical baselines of ``task`` measured by restoration_held_out.py."""
    data = load_json("restoration_held_out") or {}
    rows = []
    for name, h in data.get("classical", {}).get(task, {}).items():
        rows.append([f"`{name}` (classical)", TASK_NAMES.get(task, task), "0"]
                    + [held_out_cell(h, s, k, f) if s in h else "-" for s, k, f in sizes]
                    + [f"{seconds[name]:.2f}" if name in seconds else "-"])
    return rows


def headline_lnca() -> str:
    """Every shipped restorer and the classical baselines against the degraded input, held-out."""
    cards = [c for c in load_cards() if "held_out" in c]
    refused = not_shipped()
    measured = load_json("restoration_held_out") or {}
    if not cards and not measured.get("classical"):
        return "_no restoration module is shipped_\n"
    speed = load_json("restore_speed")
    seconds = {}
    if speed is not None:
        seconds = {r["model"]: r["seconds"] for r in speed["rows"] if r["size"] == 128}
    cards.sort(key=lambda c: (c["task"], c["name"].startswith("vitca"), c["name"]))
    sizes = [("64", "psnr", ".2f"), ("128", "psnr", ".2f"), ("256", "psnr", ".2f"),
             ("128", "ssim", ".3f"), ("full", "psnr", ".2f")]
    rows = []
    for task in sorted({c["task"] for c in cards} | set(measured.get("classical", {}))):
        for c in (c for c in cards if c["task"] == task):
            h = c["held_out"]
            rows.append([f"`{c['name']}`", TASK_NAMES.get(task, task), f"{c['num_params']:,}"]
                        + [held_out_cell(h, s, k, f) if s in h else "-" for s, k, f in sizes]
                        + [f"{seconds[c['name']]:.2f}" if c["name"] in seconds else "-"])
        rows += classical_rows(task, sizes, seconds)
    photos = ", ".join(cards[0]["held_out"]["photos"] if cards else measured["photos"])
    source = ("from the `held_out` block of the cards in `nca_zoo/pretrained/`; the classical "
              "filters (`nca_zoo.restoration.classical`, 0 parameters, library defaults) from "
              if cards else "the classical filters (`nca_zoo.restoration.classical`, 0 "
              "parameters, library defaults), from ")
    note = (f"Degraded → restored on photos no model trained on ({photos}), resized to 64 / 128 / "
            f"256 px or full size, {source}`benchmarks/results/restoration_held_out.json` "
            "(`benchmarks/lnca/restoration_held_out.py`); seconds per 128×128 photo from "
            "`benchmarks/results/restore_speed.json`")
    if speed is not None:
        note += f" ({speed['machine']['device']}, {speed['machine']['torch_threads']} threads)"
    if any(c["name"].startswith("vitca") for c in cards):
        note += (". `vitca-denoise` is the pixel-space ViTCA baseline; ViTCA models with the "
                 "raster position table restore tile by tile, so their full size is not measured")
    note += (". A denoiser ships only if, at 64, 128 and 256 px, it beats its input and the best "
             "classical filter in PSNR and SSIM; a deblurrer only if it gains at least 1 dB PSNR "
             "and 0.02 SSIM over its input and beats unsharp masking in both")
    if refused:
        note += (": **not shipped**, because they fail that rule: "
                 + ", ".join(f"`{n}`" for n in refused)
                 + " (removed; their numbers and how to get them back: "
                   "[docs/restoration.md](docs/restoration.md#removed-modules))")
    note += "."
    others = [n for n in unshipped_configs() if n not in refused]
    if others:
        note += (" No shipped module for the other recipes in `configs/lnca/` ("
                 + ", ".join(f"`{n}`" for n in others)
                 + "; the baselines are compared in `benchmarks/lnca/lnca_quality.py`).")
    note += "\n"
    return md_table(["module", "task", "params", "PSNR 64 px", "PSNR 128 px", "PSNR 256 px",
                     "SSIM 128 px", "PSNR full size", "s / 128 px photo"], rows) + "\n\n" + note


def headline_diffusion() -> str:
    """FID / KID of each shipped generator beside the two references on the same features."""
    cards = [c for c in load_cards() if "fid_model" in c.get("metrics", {})]
    if not cards:
        return "_no generator is shipped_\n"
    header = ["FID / KID (lower is better)"] + [f"`{c['name']}` ({c['num_params']:,} params)"
                                                for c in cards]
    rows = []
    for label, key in (("samples of the shipped model", "model"),
                       ("real training images (best reachable)", "train"),
                       ("noise with the test images' colours", "noise")):
        rows.append([label] + [f"{c['metrics']['fid_' + key]:.3f} / "
                               f"{c['metrics']['kid_' + key]:.4f}" for c in cards])
    rows.append(["images compared (generated vs held-out)"] +
                [f"{c['metrics']['n']} vs {c['metrics']['n']}, DDIM {c['metrics']['sampler_steps']}"
                 for c in cards])
    if any("sampling" in c for c in cards):
        rows.append(["default sampler (measured, FID vs DDIM-50, speed-up)"] + [
            (f"{s['sampler']} {s['steps']} steps: {s['fid_model']:.3f} vs "
             f"{s['ddim50_fid_model']:.3f}, {s['speedup_vs_ddim50']:.1f}x"
             if (s := c.get("sampling")) else "-") for c in cards])
    features = sorted({c["metrics"]["features"] for c in cards})
    note = ("Each generator against held-out images of its own training data; features: "
            f"{'; '.join(features)}. A score at or above the noise row means that, by these "
            "features, the samples are no closer to the real images than coloured noise. From the "
            "cards in `nca_zoo/pretrained/` (default sampler: "
            "`benchmarks/diffusion/diffusion_samplers.py`).\n")
    return md_table(header, rows) + "\n\n" + note


def pretrained_short() -> str:
    """One row per shipped module: name (linked to its folder), task, size, headline metric."""
    rows, features = [], set()
    for c in load_cards():
        m = c.get("metrics", {})
        link = f"[`{c['name']}`](nca_zoo/pretrained/{c['name']}/)"
        if "held_out_gain" in c:
            task, metric = "GNCA initialisation (prior)", prior_gain(c)
        elif "rule_id" in c:
            task, metric = "latent codec rule", latent_rule_metric()
        elif "fid_model" in m:
            features.add(m["features"])
            task = "generation (DDPM)"
            metric = (f"FID {m['fid_model']:.3f} (training images {m['fid_train']:.3f}, "
                      f"noise {m['fid_noise']:.3f})*")
        else:
            task = TASK_NAMES.get(c["task"], c["task"])
            h = c["held_out"]["128"]
            metric = (f"SSIM {h['ssim_model']:.3f} (input {h['ssim_input']:.3f}), "
                      f"PSNR {h['psnr_model']:.2f} dB (input {h['psnr_input']:.2f}), "
                      "held-out photos at 128 px")
        rows.append([link, task, f"{c['num_params']:,}", kib(c["file_size_bytes"]), metric])
    out = md_table(["name", "task", "params", "file", "headline metric (held-out data)"], rows)
    out += "\n"
    if features:
        out += f"\n\\* features: {'; '.join(sorted(features))}.\n"
    return out


def latent_rule_metric() -> str:
    """The latent codec's BD-rate vs JPEG on the held-out photos (rule in file / fixed)."""
    parts = []
    for name, label in (("latent_codec_rule_in_file", "fine-tuned per file"),
                        ("latent_codec", "fixed")):
        data = load_json(name)
        bd = next((b for b in (data or {}).get("bd", []) if b["anchor"] == "JPEG"), None)
        if bd and bd["bd_rate"] is not None:
            parts.append(f"{bd['bd_rate']:+.1f} % ({label})")
    if not parts:
        return "not measured yet: `benchmarks/gnca/latent_codec.py`"
    size = (load_json("latent_codec_rule_in_file") or load_json("latent_codec"))["args"]["size"]
    return f"BD-rate vs JPEG on the held-out photos at {size} px: {', '.join(parts)}"


def prior_gain(card: dict) -> str:
    """A GNCA prior's measured gain over random initialisation on held-out patches.

    Against random weights at their own lr (the settings' ``lr_random``) and, when measured, at
    the prior's ``fit_lr`` (the control: the gain that is the prior's and not the lr's).
    """
    g = card["held_out_gain"]
    steps = [s for s in ("100", "300", "1000") if s in g["gain_db"]]
    w = g.get("settings", {}).get("prior_weight", 1.0)
    start = "prior start" if w == 1.0 else f"start {w} x prior + {1 - w:g} x random"
    gains = lambda key: " / ".join(f"{g[key][s]:+.2f}" for s in steps)  # noqa: E731
    lr_random = g.get("settings", {}).get("lr_random", 1e-2)
    lr = g.get("lr_prior", lr_random)
    out = (f"PSNR vs random init ({start}, lr {lr:g}) after {' / '.join(steps)} it.: "
           f"{gains('gain_db')} dB over random at lr {lr_random:g}")
    if "gain_db_same_lr" in g and lr != lr_random:
        out += f", {gains('gain_db_same_lr')} dB over random at lr {lr:g}"
    return out + f"; {g['n_patches']} held-out patches"


def pretrained_full() -> str:
    """The shipped modules with every measured metric and the command that trained them."""
    restore = []
    generate = []
    features = set()
    priors = []
    for c in load_cards():
        m = c.get("metrics", {})
        head = [f"`{c['name']}`", None, f"{c['num_params']:,}", kib(c["file_size_bytes"])]
        if "held_out_gain" in c:
            head[1] = c["data"]
            priors.append(head + [prior_gain(c), f"`{c['recipe']}`"])
        elif "rule_id" in c:
            head[1] = c["data"]
            priors.append(head + [latent_rule_metric(), f"`{c['recipe']}`"])
        elif "fid_model" in m:
            features.add(m["features"])
            head[1] = c["data"]
            generate.append(head + [
                f"{m['fid_model']:.3f} ({m['fid_train']:.3f} / {m['fid_noise']:.3f})",
                f"{m['kid_model']:.4f} ({m['kid_train']:.4f} / {m['kid_noise']:.4f})",
                f"{m['n']} vs {m['n']}, DDIM {m['sampler_steps']}", f"`{c['recipe']}`"])
        else:
            head[1] = TASK_NAMES.get(c["task"], c["task"])
            h = c["held_out"]
            restore.append(head + [
                " / ".join(f"{h[s]['ssim_model']:.3f} ({h[s]['ssim_input']:.3f})" if s in h
                           else "-" for s in ("32", "64", "128", "full")),
                " / ".join(f"{h[s]['psnr_model']:.2f} ({h[s]['psnr_input']:.2f})" if s in h
                           else "-" for s in ("32", "64", "128", "full")),
                f"`{c['recipe']}`"])
    out = "No restorer is shipped (none passes the shipping rule; removed ones: " \
          "[docs/restoration.md](docs/restoration.md#removed-modules)).\n"
    if restore:
        out = md_table(["name", "task", "params", "file",
                        "SSIM (input), held-out photos at 32 / 64 / 128 px / full",
                        "PSNR dB (input), same", "recipe"], restore) + "\n"
    if generate:
        out += ("\nGenerators (features: " + "; ".join(sorted(features)) + ". *train ref*: "
                "training images vs the test images, what a perfect model reaches; *noise ref*: "
                "Gaussian noise with the test images' colour statistics; a FID above the noise ref "
                "means that, by these features, the samples are no closer to the test images than "
                "colour-matched noise):\n\n")
        out += md_table(["name", "data", "params", "file", "FID (train ref / noise ref)",
                         "KID (train ref / noise ref)", "samples vs test", "recipe"],
                        generate) + "\n"
    if priors:
        out += ("\nGNCA priors (meta-learned initialisations of `nca-zoo compress`; gain "
                "measured by `benchmarks/gnca/gnca_prior.py` on held-out photo patches after 8-bit "
                "quantisation) and the latent codec's rule (`compress --codec latent`; BD-rate "
                "from `benchmarks/gnca/latent_codec.py`):\n\n")
        out += md_table(["name", "training data", "params", "file", "gain", "recipe"],
                        priors) + "\n"
    return out


def gnca_example() -> str:
    """The comparison that the GNCA quickstart printed for the shipped example file."""
    path = ROOT / "examples" / "gnca" / "astronaut_120.report.json"
    if not path.exists():
        return missing("../../examples/gnca/astronaut_120.report.json")
    out = []
    for entry in json.loads(path.read_text()):
        made_by = entry.get("made_by", "?")
        out.append(f"{entry['image']} → `{entry['nca_file']}` (made by `{made_by}`)\n")
        out.append(md_table(["method", "protocol", "setting", "bytes", "PSNR dB", "SSIM"],
                            [[r["method"], r["protocol"], str(r["setting"]), f"{r['bytes']:,}",
                              f"{r['psnr']:.2f}", f"{r['ssim']:.4f}"] for r in entry["rows"]])
                   + "\n")
    return "\n".join(out)


def figures() -> str:
    """Every picture that ``benchmarks/tools/make_figures.py`` writes."""
    pics = sorted((RESULTS / "figures").glob("*.png"))
    if not pics:
        return "_no figures yet: run `python benchmarks/tools/make_figures.py`_\n"
    return "\n".join(f"![{p.stem}](benchmarks/results/figures/{p.name})\n" for p in pics)


# ---------------------------------------------------------------------------------------------
# benchmark markdown, cleaned for readers

#: rewrites of the benchmark scripts' own check lines: the READMEs state the measurement only
_DROP_LINE = re.compile(r"^\s*target\b.*$\n?", re.I | re.M)
_SUBS = [
    (re.compile(r"CAX figure: published figure \(issue \d+\), CAX not installed"),
     "CAX row: a published figure (CAX is not installed here, so it was not run side by side)"),
    (re.compile(r"\s*\(targets?\b[^)]*\)", re.I), ""),
    (re.compile(r"\s*\(issue \d+\)", re.I), ""),
    (re.compile(r":?[ \t]*\b(?:PASS|FAIL)\b"), ""),
]


def clean(text: str) -> str:
    """Drop the benchmark scripts' pass/fail check wording; keep every measured number."""
    text = _DROP_LINE.sub("", text)
    for pattern, repl in _SUBS:
        text = pattern.sub(repl, text)
    return text


def result_md(name: str) -> str:
    path = RESULTS / f"{name}.md"
    if not path.exists():
        return missing(f"{name}.md")
    return clean(path.read_text()).rstrip() + "\n"


def render(name: str) -> str:
    """The body of the README block ``name``."""
    special: dict[str, Callable[[], str]] = {
        "headline-gnca": headline_gnca, "headline-latent": headline_latent,
        "headline-lnca": headline_lnca,
        "headline-diffusion": headline_diffusion, "pretrained": pretrained_short,
        "pretrained-full": pretrained_full}
    return special[name]() if name in special else result_md(name)


# ---------------------------------------------------------------------------------------------
# benchmarks/results/README.md

_SPLIT_NOTE = ("Trained on the photo-level split; the held-out tables (photos no model trained "
               "on, 128 px) compare every model on equal terms.")
#: (block, heading, script, command to re-run, note or None), grouped by paper
SECTIONS = [
    ("Shipped pretrained modules", [
        ("pretrained-full", "Pretrained modules and their cards",
         "benchmarks/tools/export_pretrained.py",
         'python benchmarks/tools/export_pretrained.py RUN.ckpt --name NAME --config CONFIG '
         '--recipe "the fit command"',
         "Measured on held-out data when the module is exported; the recipe is the exact training "
         "command. The cards are in `nca_zoo/pretrained/*/card.json`."),
    ]),
    ("GNCA image compression", [
        ("gnca_quickstart", "What README command 1 reaches (the quickstart, prior start)",
         "benchmarks/gnca/gnca_quickstart.py", "python benchmarks/gnca/gnca_quickstart.py",
         "The quickstart's end-of-training callback prints the full comparison and saves it as "
         "`runs/gnca_quickstart/report.json`."),
        ("gnca-example", "The shipped example file (a version 1 `.nca`, random start)",
         "nca_zoo/compression/report.py", "nca-zoo fit --config configs/gnca/quickstart.yaml",
         "Made by the quickstart before it started from the prior and before `.nca` version 2; "
         "kept so that version 1 decoding stays tested. Its report is "
         "`examples/gnca/astronaut_120.report.json`."),
        ("gnca_vs_codecs", "GNCA vs JPEG / JPEG-2000 / WebP (Tables 2-3 style, BD-rate)",
         "benchmarks/gnca/gnca_vs_codecs.py",
         "python benchmarks/gnca/gnca_vs_codecs.py --sizes 40 80 120 --iterations 300",
         "About 70 CPU-minutes; `--quick` runs 40 px only (~30 CPU-minutes). The default "
         "(2000 iterations) needs about 9 CPU-hours; the paper's setting: `python "
         "benchmarks/gnca/gnca_vs_codecs.py --inits random --images coco30/ --iterations 5000`."),
        ("latent_codec_rule_in_file", "The latent-seeded NCA codec vs the codecs and GNCA "
         "(BD-rate)", "benchmarks/gnca/latent_codec.py",
         "python benchmarks/gnca/latent_codec.py --lambdas 0.0005 0.002 0.006 0.02 0.06 "
         "--fit-rule --rate-control --out latent_codec_rule_in_file",
         "`compress --codec latent` as it runs by default: integer latent grids grown by the "
         "rule `latent-nca-prior` fine-tuned on each photo and stored in its file, rate set by "
         "lambda; the paper's GNCA curve is the 300-iteration one of `gnca_patch_sweep` (same "
         "photos, 120 px)."),
        ("latent_codec_256", "The latent codec at 256 px (3 held-out photos)",
         "benchmarks/gnca/latent_codec.py",
         "python benchmarks/gnca/latent_codec.py --size 256 --n 3 --lambdas 0.002 0.006 0.02 "
         "--fit-rule --rate-control --out latent_codec_256",
         "Rate per pixel is what matters: at 256 px the rule in the file costs a quarter of its "
         "120 px share. About 2.5 minutes per photo and lambda on one shared thread."),
        ("latent_codec_speed", "The latent codec's encode and decode time",
         "benchmarks/gnca/latent_codec_speed.py", "python benchmarks/gnca/latent_codec_speed.py",
         "Wall time with all threads of the machine, beside the paper's GNCA decoding a 520 px "
         "file."),
        ("latent_codec_rate_control", "The latent codec's rate control (`--bpp`)",
         "benchmarks/gnca/latent_codec.py",
         "python benchmarks/gnca/latent_codec.py --lambdas --fit-rule --rate-control 0.5 1 "
         "--out latent_codec_rate_control",
         "Each held-out photo compressed with `--bpp 0.5` and `--bpp 1`: the file's rate against "
         "the one asked for (a fit, then at most two warm-started refits at a corrected lambda, "
         "then a dead-zone trim of a file still over it)."),
        ("latent_codec", "The latent codec with the shipped rule fixed (`--shipped-rule`)",
         "benchmarks/gnca/latent_codec.py",
         "python benchmarks/gnca/latent_codec.py --lambdas 0.0005 0.002 0.006 0.02 0.06",
         "The file names the shipped rule (8 bytes) instead of carrying it (about 550 bytes)."),
        ("gnca_patch_sweep", "Rate-distortion over patch size and iterations",
         "benchmarks/gnca/gnca_patch_sweep.py", "python benchmarks/gnca/gnca_patch_sweep.py",
         "The rate moves with the number of NCAs per image (one per patch), the distortion "
         "with the training iterations."),
        ("gnca_throughput", "Training throughput and decoding time",
         "benchmarks/gnca/gnca_throughput.py", "python benchmarks/gnca/gnca_throughput.py", None),
        ("gnca_prior", "Meta-learned prior vs random initialisation",
         "benchmarks/gnca/gnca_prior.py",
         "python benchmarks/gnca/gnca_prior.py --n 8 --update-cards",
         "Reptile priors meta-trained on the embedded photos minus the held-out set; fitted here "
         "to held-out photo patches. A short CPU run: see the cards for the meta-training steps."),
        ("gnca_prior_lr", "The learning rate to fit from each prior (its card's `fit_lr`)",
         "benchmarks/gnca/gnca_prior_lr.py",
         "python benchmarks/gnca/gnca_prior_lr.py --update-cards",
         "Chosen on meta-validation crops of the training photos, so the held-out gains above "
         "stay unseen data."),
        ("gnca_entropy_coding", "Entropy coders compared (`.nca` versions 1 and 2)",
         "benchmarks/gnca/gnca_entropy_coding.py",
         "OMP_NUM_THREADS=1 python benchmarks/gnca/gnca_entropy_coding.py",
         "The format byte by byte: [docs/nca-format.md](../../docs/nca-format.md)."),
        ("gnca_quantisation", "What 8-bit weights cost: one scale per tensor or per column, "
         "float16 or one byte",
         "benchmarks/gnca/gnca_quantisation.py",
         "OMP_NUM_THREADS=1 python benchmarks/gnca/gnca_quantisation.py",
         "Version 4 (the default) stores one entropy-coded one-byte scale per weight column, "
         "version 3 one float16 scale per column, versions 1 and 2 one per tensor. The "
         "uncoded and delta columns measure the entropy coder and a prior-relative payload at "
         "identical PSNR; the last table trades PSNR for bytes with the encoder's code range "
         "(`--code-max`)."),
        ("gnca_moonshot", "The paper's 40x40 figure in 5 CPU-minutes per patch?",
         "benchmarks/gnca/gnca_moonshot.py",
         "OMP_NUM_THREADS=1 python benchmarks/gnca/gnca_moonshot.py",
         "GNCA-medium from its prior on held-out patches against the paper's 32.58 dB "
         "(Table 2, 40x40, long GPU training)."),
        ("automaton_memory", "Checkpointed BPTT: peak training memory",
         "benchmarks/core/automaton_memory.py", "python benchmarks/core/automaton_memory.py", None),
    ]),
    ("LNCA image restoration", [
        ("restoration_held_out", "Shipped restorers and classical filters on held-out photos "
         "(the shipping rule)",
         "benchmarks/lnca/restoration_held_out.py",
         "python benchmarks/lnca/restoration_held_out.py --write-cards", None),
        ("lnca_autoencoder_ceiling", "Why deblurring fails: the autoencoder's ceiling",
         "benchmarks/lnca/lnca_autoencoder_ceiling.py",
         "python benchmarks/lnca/lnca_autoencoder_ceiling.py /tmp/nca_zoo/pretrained/lnca-*",
         "The four LNCA restorers measured here were removed for failing the shipping rule "
         "([docs/restoration.md](docs/restoration.md#removed-modules)); their folders come "
         "from git: `git archive 9275d7f nca_zoo/pretrained/lnca-nafca-denoise "
         "nca_zoo/pretrained/lnca-vitca-denoise nca_zoo/pretrained/lnca-nafca-deblur "
         "nca_zoo/pretrained/lnca-vitca-deblur | tar -x -C /tmp`. Motion blur leaves a 64-128 px "
         "photo within 1-2 dB of what the autoencoder can "
         "reproduce of the clean photo, and the autoencoder alone loses about 1 dB on the blurred "
         "one, more than the NCA wins back: deblurring needs a better autoencoder first. The next "
         "table lifts the ceiling with augmentation; LNCA deblurrers trained on it in short CPU "
         "runs still did not beat their input on held-out photos, so none is shipped."),
        ("lnca_autoencoder_augmentation", "Augmentation lifts the autoencoder's ceiling",
         "benchmarks/lnca/lnca_autoencoder_augmentation.py",
         "python benchmarks/lnca/lnca_autoencoder_augmentation.py", None),
        ("lnca_latent_oracle", "After augmentation the latent can express deblurring",
         "benchmarks/lnca/lnca_latent_oracle.py", "python benchmarks/lnca/lnca_latent_oracle.py",
         "An NCA that mapped the blurred latent onto the clean one would beat the input by "
         "3.8 dB (paper read-out) to 5.6 dB (residual) at 128 px: with augmented data the "
         "autoencoder no longer holds deblurring back, the NCA does (next table)."),
        ("lnca_deblur_recipes", "Deblurring recipes on held-out photos",
         "benchmarks/lnca/lnca_deblur_recipes.py",
         "python benchmarks/lnca/lnca_deblur_recipes.py --ae-epochs 40 --nca-epochs 6 "
         "--recipes residual residual_zero residual_swish_zero residual_swish augmented_swish "
         "augmented",
         "Short CPU runs (about a minute per NCA epoch). The residual read-out with a "
         "zero-initialised head is the best so far: better at 32 px, level at 64 px, still "
         "worse at 128 px -- on the training photos too, so it under-fits rather than "
         "memorises. No deblurrer ships."),
        ("lnca_loss_balance_corpus", "Phase 2's pull: Eq. 8 outweighs Eq. 7",
         "benchmarks/lnca/lnca_loss_balance.py",
         "python benchmarks/lnca/lnca_loss_balance.py runs/lnca_nafca_pk3_phase2_3000.ckpt "
         "--config configs/lnca/lnca_nafca_denoise_corpus.yaml --name lnca_loss_balance_corpus",
         "A corpus LatentNAFCA denoiser's checkpoint (`runs/`, not in the repository). With the "
         "paper's weights (100 each) the latent loss's gradient is hundreds of times the pixel "
         "loss's at the start of phase 2; `nca_loss: {latent: 1.0}` speeds up the start but "
         "ends level after 1000 steps ([docs/restoration.md](docs/restoration.md))."),
        ("restore_speed", "Restore time per image", "benchmarks/lnca/restore_speed.py",
         "python benchmarks/lnca/restore_speed.py", None),
        ("lnca_efficiency_quick", "Memory, epoch time, latency (Tables 3-5 style)",
         "benchmarks/lnca/lnca_efficiency.py", "python benchmarks/lnca/lnca_efficiency.py --quick",
         "All sizes and batches (GPU advised): `python benchmarks/lnca/lnca_efficiency.py`."),
        ("lnca_quality_noise_3ep", "Denoising quality after 3 epochs per model",
         "benchmarks/lnca/lnca_quality.py",
         "python benchmarks/lnca/lnca_quality.py --tasks noise --models NAFNet LatentNAFCA "
         "LatentViTCA --epochs 3 --threads 1 --out lnca_quality_noise_3ep",
         "A short CPU run on the bundled tiles, far from the paper's training budget. "
         + _SPLIT_NOTE),
        ("lnca_quality_blur_3ep", "Deblurring quality after 3 epochs per model",
         "benchmarks/lnca/lnca_quality.py",
         "python benchmarks/lnca/lnca_quality.py --tasks blur --models NAFNet Restormer "
         "LatentNAFCA LatentViTCA --epochs 3 --threads 1 --out lnca_quality_blur_3ep",
         _SPLIT_NOTE),
        ("lnca_quality_quick", "Smoke run of every pipeline (not model quality)",
         "benchmarks/lnca/lnca_quality.py", "python benchmarks/lnca/lnca_quality.py --quick",
         "Ten training batches per epoch: this shows that every model trains and tests end to end, "
         "nothing about how good it is."),
    ]),
    ("Diff-NCA / FourierDiff-NCA diffusion", [
        ("diffusion_table_quick", "FID / KID and parameter counts (Tables 1-2 style)",
         "benchmarks/diffusion/diffusion_table.py",
         "python benchmarks/diffusion/diffusion_table.py --quick",
         "With real Inception features: add `--features inception:PATH` (a local "
         "`pt_inception-2015-12-05-6726825d.pth`); the default features only rank models within "
         "one run."),
        ("diffusion_memory", "Large-image sampling memory, tiled vs one rollout",
         "benchmarks/diffusion/diffusion_memory.py",
         "OMP_NUM_THREADS=1 python benchmarks/diffusion/diffusion_memory.py --check-steps 20",
         None),
        ("diffusion_samplers", "Samplers: FID and time vs steps (diffusers schedulers)",
         "benchmarks/diffusion/diffusion_samplers.py",
         "OMP_NUM_THREADS=1 python benchmarks/diffusion/diffusion_samplers.py --write-cards",
         "Plot: [figures/diffusion_samplers.png](figures/diffusion_samplers.png). The measured "
         "choice goes into each card's `sampling`; `nca-zoo sample --model NAME` uses it."),
        ("diffusion_speed", "Sampling speed", "benchmarks/diffusion/diffusion_speed.py",
         "OMP_NUM_THREADS=1 python benchmarks/diffusion/diffusion_speed.py", None),
    ]),
    ("Figures", [
        ("figures", "Pictures from the shipped example and modules",
         "benchmarks/tools/make_figures.py",
         "python benchmarks/tools/make_figures.py", None),
    ]),
]


def relink(text: str, target_dir: Path) -> str:
    """Rewrite repo-root-relative markdown links so that they resolve from ``target_dir``."""
    def fix(m: re.Match) -> str:
        path, hash_, fragment = m.group(2).partition("#")
        if re.match(r"^(?:[a-z]+:|/)", path) or not path or not (ROOT / path).exists():
            return m.group(0)
        return (f"]({m.group(1)}{Path(os.path.relpath(ROOT / path, target_dir)).as_posix()}"
                f"{hash_}{fragment}")
    return re.sub(r"\]\((<?)([^)\s>]+)", fix, text)


def demote(text: str, levels: int) -> str:
    """Push markdown headings down ``levels`` levels (benchmark files start at ``#``)."""
    return re.sub(r"^(#+) ", lambda m: "#" * min(6, len(m.group(1)) + levels) + " ", text,
                  flags=re.M)


def results_readme() -> str:
    """The whole of ``benchmarks/results/README.md``."""
    out = ["# nca_zoo: all benchmark results", "",
           "Generated by `python benchmarks/tools/make_readme_tables.py` from the result files in "
           "this folder and the cards in `nca_zoo/pretrained/`; do not edit by hand. Each table "
           "names the script that wrote it and the command that re-runs it (then run "
           "`python benchmarks/tools/make_readme_tables.py` to refresh this page and the "
           "[main README](README.md)).", "",
           "These are small models trained briefly on a 2-core CPU, not the papers' much "
           "longer GPU runs: read them as measurements of this code at that scale, not as "
           "reproductions of the papers' numbers.", ""]
    toc = []
    body = []
    extra: dict[str, Callable[[], str]] = {"gnca-example": gnca_example, "figures": figures}
    for group, items in SECTIONS:
        toc.append(f"- {group}: " + ", ".join(
            f"[{h.lower()}](#{anchor(h)})" for _, h, *_ in items))
        body += [f"## {group}", ""]
        for block, heading, script, command, note in items:
            body += [f"### {heading}", ""]
            body.append(f"Written by `{script}`. Re-run:" + "\n\n```bash\n" + command + "\n```\n")
            if note:
                body += [note, ""]
            text = extra[block]() if block in extra else render(block)
            mline = machine_line(load_json(block)) if block not in extra else ""
            if mline:
                body.append(mline)
            body += [demote(text, 3).rstrip(), ""]
    out += toc + [""] + body
    return relink("\n".join(out).rstrip() + "\n", RESULTS_README.parent)


def anchor(heading: str) -> str:
    """GitHub's anchor for a heading."""
    return re.sub(r"[^\w\- ]", "", heading.lower()).replace(" ", "-")


# ---------------------------------------------------------------------------------------------

def generate() -> dict[Path, str]:
    """What both files should contain."""
    text = README.read_text()
    new = BLOCK.sub(lambda m: m.group(1) + render(m.group("name")) + m.group(4), text)
    return {README: new, RESULTS_README: results_readme()}


def main(argv: Optional[list] = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--check", action="store_true",
                    help="write nothing; exit 1 if README.md or benchmarks/results/README.md "
                         "differs from what this script generates")
    a = ap.parse_args(argv)
    wanted = generate()
    if a.check:
        stale = [p for p, text in wanted.items() if not p.exists() or p.read_text() != text]
        if stale:
            names = " and ".join(str(p.relative_to(ROOT)) for p in stale)
            print(f"error: {names} out of date; run python benchmarks/tools/make_readme_tables.py",
                  file=sys.stderr)
            return 1
        return 0
    for path, text in wanted.items():
        path.write_text(text)
    n = len(BLOCK.findall(README.read_text()))
    print(f"updated {n} result blocks in README.md and wrote {RESULTS_README.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
