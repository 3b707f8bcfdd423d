"""``python -m nca_zoo.compress IMAGE -o OUT.nca``: compress an image into a ``.nca`` file.

Two codecs.  ``--codec latent`` (the default) fits integer latent grids that an NCA rule grows
into the image, on distortion + lambda x rate, and writes them range-coded (``.nca`` version 5):
set the rate by ``--bpp`` or ``--lambda``.  ``--codec gnca`` (the GNCA paper) trains one GNCA per
patch (all patches as one bank) and writes the 8-bit weights.  Each codec's own options are
refused with the other.  The same image and seed give a
byte-identical file.  Any image mode is converted to 8-bit RGB (a ``note:`` line says so);
transparent images need ``--background``.  A GNCA run estimated not to fit in memory is refused
before training.
"""
from __future__ import annotations

import time

from ..compression.nca_file import VERSION, VERSIONS, decode, decode_image
from ..compression.prior import DEFAULT_PRIOR_WEIGHT, INITS
from ..layers import write_atomic
from ..layers.quantize import DEFAULT_CODE_MAX
from ..models.gnca import GNCA_SIZES
from ._common import (
    ToolParser,
    check_output,
    color,
    note,
    positive_float,
    positive_int,
    seed_int,
)

CODECS = ("latent", "gnca")
#: the options only one codec takes (argparse dests)
OPTIONS = {"latent": ("bpp", "lam", "rule", "shipped_rule"),
           "gnca": ("size", "patch", "steps", "init", "prior", "prior_weight", "lr",
                    "no_memory_check", "format_version", "code_max")}
GNCA_DEFAULTS = {"size": "medium", "patch": 40, "iterations": 1500, "init": "prior",
                 "prior_weight": DEFAULT_PRIOR_WEIGHT, "format_version": VERSION,
                 "code_max": DEFAULT_CODE_MAX}


def main(argv: list | None = None) -> int:
    """Compress the image given in ``argv`` into a ``.nca`` file; the exit status."""
    parser = ToolParser(prog="python -m nca_zoo.compress", description=__doc__)
    parser.add_argument("image", help="image file, or embedded:NAME (scikit-image photo)")
    parser.add_argument("-o", "--output", required=True, help="output .nca file")
    parser.add_argument("--codec", default="latent", choices=CODECS,
                        help="latent: latent grids grown by an NCA rule, rate-controlled "
                             "(default; beats JPEG on held-out photos); gnca: one NCA per "
                             "patch, its weights are the file (the paper)")
    parser.add_argument("--iterations", type=positive_int, default=None,
                        help="training iterations (default 1000 latent, 1500 gnca)")
    parser.add_argument("--seed", type=seed_int, default=0,
                        help="random seed (same seed -> same file)")
    parser.add_argument("--background", type=color,
                        help="colour to put behind a transparent image (white, #rrggbb)")
    parser.add_argument("--quiet", action="store_true", help="no progress bar or summary")
    latent = parser.add_argument_group("--codec latent")
    latent.add_argument("--bpp", type=positive_float, default=None,
                        help="bits per pixel of the file (rate control)")
    latent.add_argument("--lambda", dest="lam", type=positive_float, default=None,
                        help="rate-distortion trade-off: larger gives smaller files "
                             "(default 2e-3 when --bpp is not given)")
    latent.add_argument("--rule", default=None,
                        help="NCA rule: shipped name or folder (default latent-nca-prior)")
    latent.add_argument("--shipped-rule", action="store_true",
                        help="keep the rule as shipped and name it in the file (about 550 bytes "
                             "less; the decoder must ship the same rule) instead of fine-tuning "
                             "it on the image and storing it")
    gnca = parser.add_argument_group("--codec gnca")
    gnca.add_argument("--size", choices=list(GNCA_SIZES),
                      help="GNCA variant (Table 1; default medium)")
    gnca.add_argument("--patch", type=positive_int, help="patch side in pixels (paper: 40)")
    gnca.add_argument("--steps", type=positive_int, help="growth steps (default 1.2 x patch)")
    gnca.add_argument("--init", choices=list(INITS),
                      help="start every patch's NCA from the meta-learned prior of its size "
                           "(default) or from random weights (the paper)")
    gnca.add_argument("--prior", help="prior for --init prior: shipped name or folder "
                                      "(default gnca-SIZE-prior)")
    gnca.add_argument("--prior-weight", type=float,
                      help="start from W * prior + (1 - W) * random weights, W in (0, 1]; "
                           f"1 copies the prior (default {DEFAULT_PRIOR_WEIGHT})")
    gnca.add_argument("--lr", type=float,
                      help="Adam learning rate (default: the prior's fit_lr from its card with "
                           "--init prior, 1e-2 with --init random)")
    gnca.add_argument("--no-memory-check", action="store_true",
                      help="train even if the memory estimate exceeds the memory available")
    gnca.add_argument("--format-version", type=int, choices=VERSIONS,
                      help=".nca format: 4 (default) entropy-codes the weights and their "
                           "one-byte scales, one per column; 3 the weights, with float16 scales "
                           "per column; 2 with one per tensor; 1 stores them raw")
    gnca.add_argument("--code-max", type=int,
                      help="codes of the weights lie in [-N, N], N <= 127: a smaller N gives a "
                           "smaller file (format versions 2-4) and coarser weights "
                           f"(default {DEFAULT_CODE_MAX})")
    args = parser.parse_args(argv)
    given = {codec: [f"--{dest.replace('_', '-')}" for dest in OPTIONS[codec]
                     if getattr(args, dest) not in (None, False)] for codec in CODECS}
    other = "gnca" if args.codec == "latent" else "latent"
    if given[other]:
        parser.error(f"{', '.join(given[other])} need{'s' if len(given[other]) == 1 else ''} "
                     f"--codec {other}")
    out = check_output(args.output)
    if args.codec == "latent":
        return _compress_latent(args, out)
    for dest, value in GNCA_DEFAULTS.items():
        if getattr(args, dest) is None:
            setattr(args, dest, value)
    from ..compression.metrics import compression_rate  # training's imports:
    from ..drivers.compression import compress  # Lightning, torchmetrics (not needed for --help)

    start = time.perf_counter()
    data, task, dm = compress(args.image, args.size, args.patch, args.iterations, args.seed,
                              args.steps, lr=args.lr, progress=not args.quiet,
                              background=args.background,
                              memory_check=not args.no_memory_check, init=args.init,
                              prior=args.prior, prior_weight=args.prior_weight,
                              version=args.format_version, code_max=args.code_max)
    q = _write(data, dm, out, args.quiet)
    if q is not None:
        h, w = dm.originals[0].shape[:2]
        params = sum(p.numel() for p in task.bank.parameters())
        print(f"{out}: {len(data)} bytes for {w}x{h} px ({dm.num_patches} patches), "
              f"PSNR {q['psnr']:.2f} dB, SSIM {q['ssim']:.3f} (after 8-bit quantisation), "
              f"CR {compression_rate(params, h, w):.1f}% (paper) / "
              f"{compression_rate(len(data), h, w):.1f}% (file), "
              f"{time.perf_counter() - start:.0f} s")
    return 0


def _compress_latent(args, out) -> int:
    """``--codec latent``: fit, write the version 5 file, print size and quality."""
    from ..drivers.latent_compress import DEFAULT_ITERATIONS, DEFAULT_RULE, compress_latent

    start = time.perf_counter()
    data, task, dm = compress_latent(args.image, lam=args.lam, bpp=args.bpp,
                                     iterations=args.iterations or DEFAULT_ITERATIONS,
                                     rule=args.rule or DEFAULT_RULE,
                                     fit_rule=not args.shipped_rule, seed=args.seed,
                                     progress=not args.quiet, background=args.background)
    q = _write(data, dm, out, args.quiet)
    if q is not None:
        h, w = dm.originals[0].shape[:2]
        print(f"{out}: {len(data)} bytes for {w}x{h} px, {8 * len(data) / (h * w):.3f} bpp, "
              f"PSNR {q['psnr']:.2f} dB, SSIM {q['ssim']:.3f}, lambda {float(task.lam):.2e}, "
              f"{time.perf_counter() - start:.0f} s")
    return 0


def _write(data: bytes, dm, out, quiet: bool):
    """Print the datamodule's notes, write the file atomically; its decoded quality unless quiet."""
    from ..compression.metrics import image_quality

    for line in dm.notes:
        note(line)
    write_atomic(data, out)
    if quiet:
        return None
    return image_quality(dm.originals[0], decode_image(decode(data, limits=None)))
