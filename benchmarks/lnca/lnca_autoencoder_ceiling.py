"""Why LNCA deblurring fails on held-out photos: the autoencoder's ceiling against the input.

    python benchmarks/lnca/lnca_autoencoder_ceiling.py /tmp/nca_zoo/pretrained/lnca-*  # folders

An LNCA restorer can be no better than its autoencoder: ``AE(clean)`` (the NCA bypassed, a clean
photo in) bounds what the NCA can reach. On each held-out photo (``nca_zoo.data.held_out``) at 32 /
64 / 128 px this measures PSNR / SSIM of the degraded input, ``AE(clean)``, ``AE(degraded)`` (the
NCA bypassed), the oracle ``D(z_clean, skip_degraded)`` (an NCA that turned the degraded latent
exactly into the clean one: the best the paper's read-out allows, since the encoder's skip still
carries the degradation) and the full model on the degraded photo. When the degraded input is
already close to ``AE(clean)`` -- motion blur on larger photos -- the autoencoder's own loss
outweighs what the NCA adds. No LNCA restorer is shipped now (the four measured in the results
failed the shipping rule, see ``docs/restoration.md``, "Removed modules"); to measure one, restore
its folder from git (``git archive 9275d7f nca_zoo/pretrained/lnca-nafca-deblur | tar -x -C /tmp``)
and pass the folder (``/tmp/nca_zoo/pretrained/lnca-nafca-deblur``); a shipped name works too. A
Lightning checkpoint of an LNCA run (``.ckpt``) works as well; one of phase 1 (``phase: ae``) has
no trained NCA, so its "model" column is left empty:

    python benchmarks/lnca/lnca_autoencoder_ceiling.py RUN/checkpoints/last.ckpt --task noise \
        --sizes 64 128 256 --name lnca_autoencoder_ceiling_corpus

Phase 1 also keeps its best autoencoder by validation score in ``phase1_autoencoder.pt``, the one
phase 2 starts from, often not its last step's; pass that file (``--task`` too) to measure it.

Writes ``results/<name>.{json,md}`` (default ``lnca_autoencoder_ceiling``).
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

import torch
from torchmetrics.functional.image import (
    peak_signal_noise_ratio,
    structural_similarity_index_measure,
)

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # benchmarks/: _common
from _common import md_table, write_results

import nca_zoo
from nca_zoo.data.degradations import Curriculum, degrade
from nca_zoo.data.held_out import held_out_photos
from nca_zoo.data.images import resize_square
from nca_zoo.layers import to_tensor


def score(img: torch.Tensor, clean: torch.Tensor) -> tuple[float, float]:
    """PSNR (pooled) and mean SSIM of a batch against the clean batch."""
    return (float(peak_signal_noise_ratio(img, clean, data_range=1.0)),
            float(structural_similarity_index_measure(img, clean, data_range=1.0)))


@torch.no_grad()
def ceiling(ae: torch.nn.Module, task: str, size: int,
            model: torch.nn.Module | None = None) -> dict:
    """Scores of the input, ``AE(clean)``, ``AE(degraded)``, the oracle and the model at a size."""
    clean = torch.stack([to_tensor(resize_square(p, size)) for p in held_out_photos().values()])
    bad = degrade(clean, task, Curriculum(task).strength(None), torch.Generator().manual_seed(0))
    torch.manual_seed(0)
    outputs = {"input": bad, "AE(clean)": ae(clean), "AE(degraded)": ae(bad)}
    # the oracle NCA: the degraded latent mapped exactly onto the clean one
    outputs["oracle"] = ae.decode(ae.encode(clean)[1], ae.encode(bad)[0])
    if model is not None:
        outputs["model(degraded)"] = model(bad)
    return {k: score(v, clean) for k, v in outputs.items()}


def shape(ae: torch.nn.Module) -> str:
    """``ae_width W latent L [ae_depth D]`` of an LNCA autoencoder, read from its layers."""
    depth = len(ae.encoder_blocks) + 1
    return (f"ae_width {ae.conv1[0].out_channels} latent {ae.latent_channels}"
            + (f" ae_depth {depth}" if depth != 1 else ""))


def load(name: str, ckpt_task: str | None = None) -> tuple:
    """``(autoencoder, model or None, task, label)`` of what ``name`` holds.

    A pretrained folder or name, an LNCA Lightning checkpoint (``.ckpt``; ``model`` is None for
    one of phase 1), or the autoencoder file phase 1 keeps (``.pt``: its best by validation, the
    one phase 2 starts from).  Neither file records its data, so its task is ``ckpt_task``.
    """
    if not name.endswith((".ckpt", ".pt")):
        model = nca_zoo.load_pretrained(name).eval()
        return model.autoencoder, model, model.card["task"], Path(name).name
    if ckpt_task is None:
        raise SystemExit(f"{name}: a checkpoint does not record its degradation: "
                         "give --task noise or --task blur")
    if name.endswith(".pt"):
        from nca_zoo.models.lnca import LNCAAutoencoder

        try:
            ae = LNCAAutoencoder.from_state_dict(torch.load(name, map_location="cpu"))
        except ValueError as err:
            raise SystemExit(f"{name}: {err}") from None
        label = (f"`{Path(name).parent.name}/{Path(name).name}`: autoencoder {shape(ae)} "
                 "(phase 1's best)")
        return ae.eval(), None, ckpt_task, label
    from nca_zoo.tasks import LNCARestoration

    raw = torch.load(name, map_location="cpu", weights_only=False)
    run = LNCARestoration.load_from_checkpoint(name, map_location="cpu")
    model = run.model.eval()
    label = (f"`{Path(name).stem}`: {run.hparams.model} {shape(model.autoencoder)} "
             f"({run.hparams.phase}, step {raw['global_step']})")
    return model.autoencoder, None if run.in_phase1() else model, ckpt_task, label


def main(argv: list | None = None) -> None:
    """Measure every restorer given, write the table."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("models", nargs="+", help="pretrained folders or names (LNCA only), "
                    ".ckpt runs or phase1_autoencoder.pt files (see above)")
    ap.add_argument("--sizes", nargs="+", type=int, default=[32, 64, 128])
    ap.add_argument("--name", default="lnca_autoencoder_ceiling", help="results file name")
    ap.add_argument("--task", choices=("noise", "blur"),
                    help="the degradation of the .ckpt runs given (a folder's card has its own)")
    args = ap.parse_args(argv)
    rows, results = [], {}
    for name in args.models:
        ae, model, task, label = load(name, args.task)
        results[label] = {}
        for size in args.sizes:
            r = ceiling(ae, task, size, model)
            results[label][size] = r
            rows.append([label, task, size] + [f"{p:.2f} / {s:.3f}" for p, s in r.values()]
                        + ([] if model is not None else [""]))
            print(label, size, r, flush=True)
    md = ("PSNR dB / SSIM on the held-out photos. AE(clean): the autoencoder alone on the clean "
          "photo, the best an LNCA restorer can do; AE(degraded): the autoencoder alone on the "
          "degraded photo; oracle: D(z_clean, skip_degraded), the best the read-out allows; "
          "model: the full LNCA on the degraded photo.\n\n")
    md += md_table(["module", "task", "px", "input", "AE(clean)", "AE(degraded)",
                    "oracle", "model"], rows)
    print(write_results(args.name, {"results": results}, md))


if __name__ == "__main__":
    main()
