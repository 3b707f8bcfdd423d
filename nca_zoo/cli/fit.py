"""``python -m nca_zoo.fit --config <yaml>``: train any task of the zoo through LightningCLI.

Model and data are chosen by ``class_path`` in the YAML (subclass mode); ``--print_config`` and
``--a.b=value`` overrides work; unknown keys are an error.  W&B runs offline unless the user sets
``WANDB_MODE`` (``wandb sync`` uploads later); metrics also go to a CSV logger.
"""
from __future__ import annotations

import contextvars
import gc
import logging
import os
import re
from typing import Optional

import lightning as L
from lightning.pytorch.cli import LightningCLI


class ConfigError(ValueError):
    """A bad config or override; the message is one line."""


_RAISED = re.compile(r"^(?:[\w.]+\.)?\w*(?:Error|Exception): (.+)$")
_SPECIFIC = re.compile(r"not accepted|unrecognized|no such|does not exist|not valid\b|invalid|"
                       r"required|unable", re.IGNORECASE)


def one_line(message: str) -> str:
    """Condense jsonargparse's nested multi-line error into one line.

    Preference: the message of an exception our code raised while building the objects (e.g. a
    missing image), then the most specific parser complaint (an unknown key), then the first line.
    """
    lines = [ln.strip(" -") for ln in str(message).splitlines() if ln.strip(" -")]
    if not lines:
        return "invalid configuration"
    raised = [m.group(1) for m in map(_RAISED.match, lines) if m]
    if raised:
        return raised[-1]
    head = lines[0]
    reasons = lines[lines.index("Errors:") + 1:] if "Errors:" in lines else lines[1:]
    if not reasons:
        return head
    i = next((k for k, ln in enumerate(reasons) if _SPECIFIC.search(ln)), 0)
    specific = reasons[i]
    if specific.endswith(":") and i + 1 < len(reasons):  # "Problem with ...:" -> say what
        specific = f"{specific} {reasons[i + 1]}"
    return f"{head.rstrip(':')}: {specific}"


class ZooCLI(LightningCLI):
    """LightningCLI with the zoo's defaults and ``--ckpt_path``.

    Parse errors raise instead of printing usage; ``--ckpt_path`` resumes a run from one of its
    checkpoints.
    """

    def add_arguments_to_parser(self, parser) -> None:
        """Add ``--ckpt_path`` (resume training from a checkpoint)."""
        parser.add_argument("--ckpt_path", type=Optional[str], default=None,
                            help="resume training from this checkpoint (model, optimiser, step)")


def save_final_checkpoint(trainer: L.Trainer) -> None:
    """Write ``last.ckpt`` when the run's last steps fell after its last checkpoint.

    ModelCheckpoint saves after validation; a run that stops at ``max_steps`` between two
    validations would otherwise lose its final weights.
    """
    cb = trainer.checkpoint_callback
    if cb is None or cb.dirpath is None:
        return
    if getattr(cb, "_last_global_step_saved", -1) < trainer.global_step:
        path = os.path.join(cb.dirpath, "last.ckpt")
        trainer.save_checkpoint(path)


def main(args: Optional[list] = None) -> Optional[LightningCLI]:
    """Build the task and data from ``args``, train, then test the best checkpoint; the CLI.

    The test runs only when the datamodule has a test split (``has_test``) and not in
    ``fast_dev_run``.  Each call runs in its own copy of the context variables: jsonargparse keeps
    its parser state in them, and a parse left unfinished by an earlier failed run in the same
    process (a notebook, the test suite) could otherwise reset them in the middle of this one.
    For the same reason garbage left by earlier runs is collected first, and the collector pauses
    while the command line is parsed: a parser context left suspended and finalised mid-parse
    resets jsonargparse's variables under the running parse (seen once as a ``LookupError`` on
    ``load_value_mode`` in the test suite).
    """
    gc.collect()
    return contextvars.copy_context().run(_main, args)


def _main(args: Optional[list]) -> Optional[LightningCLI]:
    os.environ.setdefault("WANDB_MODE", "offline")
    os.environ.setdefault("WANDB_SILENT", "true")
    # "Seed set to N" would precede a config error on stderr; the seed is in the saved config
    logging.getLogger("lightning.fabric.utilities.seed").setLevel(logging.WARNING)
    from jsonargparse import ArgumentError
    from lightning.fabric.utilities.exceptions import MisconfigurationException

    import nca_zoo.compression.report  # noqa: F401  (short class names in YAML)
    import nca_zoo.data
    import nca_zoo.tasks  # noqa: F401

    for name in nca_zoo.data.__all__:  # the datamodules, imported on first use: import them all
        getattr(nca_zoo.data, name)

    collecting = gc.isenabled()
    gc.disable()
    try:
        cli = ZooCLI(
            L.LightningModule, L.LightningDataModule,
            subclass_mode_model=True, subclass_mode_data=True, run=False, args=args,
            seed_everything_default=0,
            save_config_kwargs={"overwrite": True, "config_filename": "lightning_config.yaml"},
            parser_kwargs={"description": __doc__, "exit_on_error": False},
        )
    except (ArgumentError, ValueError, MisconfigurationException) as exc:  # parse errors, and
        # errors building the objects (e.g. a Trainer argument out of range)
        raise ConfigError(one_line(str(exc))) from None
    finally:
        if collecting:
            gc.enable()
    ckpt = cli.config.get("ckpt_path")
    if ckpt is not None and not os.path.isfile(ckpt):
        raise ConfigError(f"--ckpt_path: no such checkpoint: {ckpt}")
    cli.trainer.fit(cli.model, datamodule=cli.datamodule, ckpt_path=ckpt)
    save_final_checkpoint(cli.trainer)
    if getattr(cli.datamodule, "has_test", False) and not cli.trainer.fast_dev_run:
        test_best(cli.trainer, cli.model, cli.datamodule)
    end_process_group()
    return cli


def test_best(trainer: L.Trainer, model: L.LightningModule, dm: L.LightningDataModule) -> None:
    """Test the best checkpoint (else the final weights), each test sample exactly once.

    After a multi-process run, rank 0 alone tests on one device: under DDP, Lightning's
    ``DistributedSampler`` would pad the test set with repeated samples to split it evenly.
    """
    cb = trainer.checkpoint_callback
    best = cb.best_model_path if cb is not None and cb.best_model_path else None
    ckpt = best if best and os.path.isfile(best) else None
    if trainer.world_size > 1:
        trainer.strategy.barrier("fit_done")
        end_process_group()
        if not trainer.is_global_zero:
            return
        trainer = L.Trainer(accelerator=trainer.accelerator, devices=1, num_nodes=1,
                            precision=trainer.precision, logger=trainer.loggers,
                            default_root_dir=trainer.default_root_dir,
                            limit_test_batches=trainer.limit_test_batches,
                            enable_progress_bar=trainer.progress_bar_callback is not None,
                            enable_checkpointing=False, use_distributed_sampler=False)
    trainer.test(model, datamodule=dm, ckpt_path=ckpt)


def end_process_group() -> None:
    """Leave the DDP process group cleanly (gloo can abort at interpreter exit otherwise)."""
    import torch.distributed as dist

    if dist.is_available() and dist.is_initialized():
        dist.destroy_process_group()
