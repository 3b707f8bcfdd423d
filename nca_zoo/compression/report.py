"""The report written at the end of a GNCA training run (a Lightning callback)."""
from __future__ import annotations

import json
from pathlib import Path
from typing import Optional

import lightning as L

from ..data.images import save_png_atomic
from ..layers import atomic_path
from .compare import compare_with_codecs, format_table
from .nca_file import decode, decode_image


class CompressionReport(L.Callback):
    """GNCA training report: ``.nca`` files, decoded PNGs and a comparison with classical codecs.

    At the end of training: write each image's ``.nca`` file and decoded PNG, compare with
    JPEG / JPEG-2000 / WebP, print the table and save it as ``report.json``.

    Args:
        out_dir: where to write (default: the trainer's log dir).
    """

    def __init__(self, out_dir: Optional[str] = None) -> None:
        self.out_dir = out_dir

    def on_fit_end(self, trainer: L.Trainer, pl_module) -> None:
        """Write the files and the report for every image of the bank (global rank 0 only)."""
        # trainer.log_dir is broadcast from rank 0: every rank asks, then only rank 0 writes
        out = Path(self.out_dir or trainer.log_dir or trainer.default_root_dir)
        if not trainer.is_global_zero:
            return
        out.mkdir(parents=True, exist_ok=True)
        dm = trainer.datamodule
        report = []
        for i, (original, source) in enumerate(zip(dm.originals, dm.images)):
            data = pl_module.to_nca(i)
            name = Path(source.split(":", 1)[-1]).stem
            with atomic_path(out / f"{name}.nca") as tmp:
                tmp.write_bytes(data)
            decoded = decode_image(decode(data, limits=None))  # our own bytes: trusted
            save_png_atomic(decoded, out / f"{name}.decoded.png")
            n_params = sum(p.numel() for p in pl_module.bank.parameters()) // dm.num_patches * \
                dm.layout[i][1]
            rows = compare_with_codecs(original, len(data), n_params, decoded,
                                       method=pl_module.hparams.model)
            print(f"\n{source} ({original.shape[1]}x{original.shape[0]}) -> "
                  f"{out / (name + '.nca')}")
            print(format_table(rows))
            report.append({"image": source, "nca_file": str(out / f"{name}.nca"), "rows": rows})
        with atomic_path(out / "report.json") as tmp:
            tmp.write_text(json.dumps(report, indent=2))
