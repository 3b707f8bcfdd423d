"""``python -m nca_zoo.fit --config <yaml>``: train any task of the zoo through LightningCLI.

Model and data are chosen by ``class_path`` in the YAML (subclass mode); ``--print_config`` and
``--a.b=value`` overrides work; unknown keys are an error.  W&B runs offline unless the user sets
``WANDB_MODE`` (``wandb sync`` uploads later); metrics also go to a CSV logger.
"""
from __future__ import annotations

import os
import sys
from typing import Optional

import lightning as L
from lightning.pytorch.cli import LightningCLI


class ZooCLI(LightningCLI):
    """LightningCLI with the zoo's defaults; after ``fit`` it runs ``test`` when data has one."""


def main(args: Optional[list] = None) -> Optional[LightningCLI]:
    os.environ.setdefault("WANDB_MODE", "offline")
    os.environ.setdefault("WANDB_SILENT", "true")
    import nca_zoo.callbacks  # noqa: F401  (short class names in YAML)
    import nca_zoo.data  # noqa: F401
    import nca_zoo.tasks  # noqa: F401

    cli = ZooCLI(
        L.LightningModule, L.LightningDataModule,
        subclass_mode_model=True, subclass_mode_data=True, run=False, args=args,
        seed_everything_default=0,
        save_config_kwargs={"overwrite": True, "config_filename": "lightning_config.yaml"},
        parser_kwargs={"description": __doc__},
    )
    cli.trainer.fit(cli.model, datamodule=cli.datamodule)
    dm = cli.datamodule
    if getattr(dm, "has_test", False) and not cli.trainer.fast_dev_run:
        cli.trainer.test(cli.model, datamodule=dm, ckpt_path="best" if cli.trainer.checkpoint_callback else None)
    return cli


if __name__ == "__main__":
    main()
