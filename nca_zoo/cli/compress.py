"""``python -m nca_zoo.compress IMAGE -o OUT.nca``: compress an image into a ``.nca`` file.

Two codecs.  ``--codec gnca`` (the GNCA paper) trains one GNCA per patch (all patches as one bank)
and writes the 8-bit weights.  ``--codec latent`` fits integer latent grids that the shipped NCA
rule grows into the image, on distortion + lambda x rate, and writes them range-coded
(``.nca`` version 5): set the rate by ``--bpp`` or ``--lambda``.  The same image and seed give a
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

CODECS = ("gnca", "latent")


def main(argv: list | None = None) -> int:
    """Compress the image given in ``argv`` into a ``.nca`` file; the exit status."""
    parser = ToolParser(prog="python -m nca_zoo.compress", description=__doc__)
    parser.add_argument("image", help="image file, or embedded:NAME (scikit-image photo)")
    parser.add_argument("-o", "--output", required=True, help="output .nca file")
    parser.add_argument("--codec", default="gnca", choices=CODECS,
                        help="gnca: one NCA per patch, its weights are the file (the paper); "
                             "latent: latent grids grown by the shipped NCA rule, "
                             "rate-controlled (default %(default)s)")
    latent = parser.add_argument_group("--codec latent")
    latent.add_argument("--bpp", type=positive_float, default=None,
                        help="target bits per pixel of the file (rate control)")
    latent.add_argument("--lambda", dest="lam", type=positive_float, default=None,
                        help="rate-distortion trade-off: larger gives smaller files "
                             "(default 2e-3 when --bpp is not given)")
    latent.add_argument("--rule", default=None,
                        help="NCA rule: shipped name or folder (default latent-nca-prior)")
    latent.add_argument("--shipped-rule", action="store_true",
                        help="keep the rule as shipped and name it in the file (about 550 bytes "
                             "less; the decoder must ship the same rule) instead of fine-tuning "
                             "it on the image and storing it")
    parser.add_argument("--size", default="medium", choices=list(GNCA_SIZES),
                        help="GNCA variant (Table 1)")
    parser.add_argument("--patch", type=positive_int, default=40,
                        help="patch side in pixels (paper: 40)")
    parser.add_argument("--iterations", type=positive_int, default=1500,
                        help="training iterations")
    parser.add_argument("--seed", type=seed_int, default=0,
                        help="random seed (same seed -> same file)")
    parser.add_argument("--steps", type=positive_int, default=None,
                        help="growth steps (default 1.2 x patch)")
    parser.add_argument("--background", type=color,
                        help="colour to put behind a transparent image (white, #rrggbb)")
    parser.add_argument("--init", default="prior", choices=list(INITS),
                        help="start every patch's NCA from the meta-learned prior of its size "
                             "(default) or from random weights (the paper)")
    parser.add_argument("--prior", default=None,
                        help="prior for --init prior: shipped name or folder "
                             "(default gnca-SIZE-prior)")
    parser.add_argument("--prior-weight", type=float, default=DEFAULT_PRIOR_WEIGHT,
                        help="start from W * prior + (1 - W) * random weights, W in (0, 1]; "
                             "1 copies the prior (default %(default)s)")
    parser.add_argument("--lr", type=float, default=None,
                        help="Adam learning rate (default: the prior's fit_lr from its card with "
                             "--init prior, 1e-2 with --init random)")
    parser.add_argument("--no-memory-check", action="store_true",
                        help="train even if the memory estimate exceeds the memory available")
    parser.add_argument("--format-version", type=int, choices=VERSIONS, default=VERSION,
                        help=".nca format: 4 entropy-codes the weights and their one-byte "
                             "scales, one per column; 3 the weights, with float16 scales per "
                             "column; 2 with one per tensor; 1 stores them raw "
                             "(default %(default)s)")
    parser.add_argument("--code-max", type=int, default=DEFAULT_CODE_MAX,
                        help="codes of the weights lie in [-N, N], N <= 127: a smaller N gives a "
                             "smaller file (format versions 2-4) and coarser weights "
                             "(default %(default)s)")
    parser.add_argument("--quiet", action="store_true", help="no progress bar or summary")
    args = parser.parse_args(argv)
    out = check_output(args.output)
    if args.codec == "latent":
        return _compress_latent(args, out)
    if args.bpp is not None or args.lam is not None or args.rule or args.shipped_rule:
        parser.error("--bpp, --lambda, --rule and --shipped-rule need --codec latent")
    from ..compression.metrics import compression_rate, image_quality  # training's imports:
    from ..drivers.compression import compress  # Lightning, torchmetrics (not needed for --help)

    start = time.perf_counter()
    data, task, dm = compress(args.image, args.size, args.patch, args.iterations, args.seed,
                              args.steps, lr=args.lr, progress=not args.quiet,
                              background=args.background,
                              memory_check=not args.no_memory_check, init=args.init,
                              prior=args.prior, prior_weight=args.prior_weight,
                              version=args.format_version, code_max=args.code_max)
    for line in dm.notes:
        note(line)
    write_atomic(data, out)
    if not args.quiet:
        original = dm.originals[0]
        h, w = original.shape[:2]
        q = image_quality(original, decode_image(decode(data, limits=None)))
        params = sum(p.numel() for p in task.bank.parameters())
        print(f"{out}: {len(data)} bytes for {w}x{h} px ({dm.num_patches} patches), "
              f"PSNR {q['psnr']:.2f} dB, SSIM {q['ssim']:.3f} (after 8-bit quantisation), "
              f"CR {compression_rate(params, h, w):.1f}% (paper) / "
              f"{compression_rate(len(data), h, w):.1f}% (file), "
              f"{time.perf_counter() - start:.0f} s")
    return 0


def _compress_latent(args, out) -> int:
    """``--codec latent``: fit, write the version 5 file, print size and quality."""
    from ..compression.metrics import image_quality
    from ..drivers.latent_compress import DEFAULT_RULE, compress_latent

    start = time.perf_counter()
    data, task, dm = compress_latent(args.image, lam=args.lam, bpp=args.bpp,
                                     iterations=args.iterations, rule=args.rule or DEFAULT_RULE,
                                     fit_rule=not args.shipped_rule, seed=args.seed,
                                     progress=not args.quiet, background=args.background)
    for line in dm.notes:
        note(line)
    write_atomic(data, out)
    if not args.quiet:
        original = dm.originals[0]
        h, w = original.shape[:2]
        q = image_quality(original, decode_image(decode(data, limits=None)))
        print(f"{out}: {len(data)} bytes for {w}x{h} px, {8 * len(data) / (h * w):.3f} bpp, "
              f"PSNR {q['psnr']:.2f} dB, SSIM {q['ssim']:.3f}, lambda {float(task.lam):.2e}, "
              f"{time.perf_counter() - start:.0f} s")
    return 0
