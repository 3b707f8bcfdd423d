"""The GNCA training report with the latent codec beside it (the quickstart's callback).

:class:`~nca_zoo.compression.report.CompressionReport` compares the trained GNCA bank with JPEG,
JPEG-2000 and WebP at the ``.nca`` file's bytes.  :class:`CodecComparisonReport` then also
compresses each image with the latent codec (``compress --codec latent``) at ``latent_bpp``, and
compares it with the same codecs at *its* file's bytes, so one run shows the paper's codec, the
latent codec and the classical codecs, each at matched bytes.
"""
from __future__ import annotations

import json
from pathlib import Path
from typing import Optional

from ..compression.compare import compare_with_codecs, format_table
from ..compression.nca_file import decode, decode_image
from ..compression.report import CompressionReport
from ..layers import atomic_path
from .latent_compress import DEFAULT_ITERATIONS, compress_latent


class CodecComparisonReport(CompressionReport):
    """:class:`CompressionReport`, then the latent codec on the same images.

    Args:
        out_dir: where to write (default: the trainer's log dir).
        latent_bpp: the latent codec's target rate in bits per pixel.
        latent_iterations: its fitting iterations.
    """

    def __init__(self, out_dir: Optional[str] = None, latent_bpp: float = 1.0,
                 latent_iterations: int = DEFAULT_ITERATIONS) -> None:
        super().__init__(out_dir)
        self.latent_bpp, self.latent_iterations = latent_bpp, latent_iterations

    def on_fit_end(self, trainer, pl_module) -> None:
        """The GNCA report, then a latent file, its PNG and its comparison per image.

        One process only: the latent codec fits with a trainer of its own, which must not run
        inside a multi-process group, so under DDP the GNCA report comes alone (with a note).
        """
        super().on_fit_end(trainer, pl_module)
        if trainer.world_size > 1:
            if trainer.is_global_zero:
                print("note: the latent codec's comparison runs in single-process runs only")
            return
        out = Path(self.out_dir or trainer.log_dir or trainer.default_root_dir)
        dm = trainer.datamodule
        report = json.loads((out / "report.json").read_text())
        for entry, original, source in zip(report, dm.originals, dm.images):
            name = Path(source.split(":", 1)[-1]).stem
            data, _, _ = compress_latent(source, bpp=self.latent_bpp,
                                         iterations=self.latent_iterations,
                                         size=getattr(dm, "size", None),
                                         background=dict(getattr(dm, "hparams", {})).get(
                                             "background"))
            path = out / f"{name}.latent.nca"
            with atomic_path(path) as tmp:
                tmp.write_bytes(data)
            decoded = decode_image(decode(data, limits=None))
            rows = compare_with_codecs(original, len(data), len(data), decoded,
                                       method="latent NCA")
            print(f"\n{source}, latent codec at {self.latent_bpp:g} bpp -> {path}")
            print(format_table(rows))
            entry["latent"] = {"nca_file": str(path), "target_bpp": self.latent_bpp,
                               "rows": rows}
        with atomic_path(out / "report.json") as tmp:
            tmp.write_text(json.dumps(report, indent=2))
