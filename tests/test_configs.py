"""Every YAML in configs/ runs through ``python -m nca_zoo.fit`` (in-process) with tiny overrides.

Per-group overrides live in ``tests/config_overrides/<group>.yaml``: a mapping from a shell-style
pattern over the config's file name (``"*"``: all of the group; a plain name: that config) to a
list of extra ``--key=value`` arguments.  Every matching entry applies, in file order.
"""
import fnmatch
import math
from pathlib import Path

import pytest
import yaml

from nca_zoo.cli.fit import main

ROOT = Path(__file__).resolve().parents[1]
CONFIGS = sorted((ROOT / "configs").rglob("*.yaml"))


def overrides_for(cfg: Path) -> list[str]:
    group = cfg.parent.name
    file = ROOT / "tests" / "config_overrides" / f"{group}.yaml"
    table = yaml.safe_load(file.read_text()) if file.exists() else {}
    table = table or {}
    return [arg for pattern, args in table.items() if fnmatch.fnmatchcase(cfg.name, pattern)
            for arg in args]


@pytest.mark.parametrize("precision", ["32-true", "bf16-mixed"])
@pytest.mark.parametrize("cfg", CONFIGS,
                         ids=[str(c.relative_to(ROOT / "configs")) for c in CONFIGS])
def test_config_runs(cfg, precision, tmp_path, monkeypatch):
    """Each config trains, validates and saves in full precision and in bf16 autocast.

    ``bf16-mixed`` is what GPU users switch on (``--trainer.precision=bf16-mixed``); on CPU it
    runs the same autocast code paths (dtype casts, NCA state updates, losses), if slowly.
    """
    monkeypatch.chdir(tmp_path)
    args = ["--config", str(cfg), "--trainer.accelerator=cpu", "--trainer.devices=1",
            f"--trainer.precision={precision}", f"--trainer.default_root_dir={tmp_path}",
            *overrides_for(cfg)]
    cli = main(args)
    assert cli.trainer.global_step >= 1
    assert cli.trainer.precision == precision
    metrics = {k: float(v) for k, v in cli.trainer.callback_metrics.items() if v.numel() == 1}
    assert metrics and all(math.isfinite(v) for v in metrics.values()), metrics


def test_run_stopping_between_validations_keeps_its_final_weights(tmp_path, monkeypatch):
    """max_steps between two validations: the fit CLI still writes the final step's checkpoint."""
    import torch

    monkeypatch.chdir(tmp_path)
    cfg = ROOT / "configs" / "diffusion" / "quickstart.yaml"
    args = ["--config", str(cfg), "--trainer.accelerator=cpu", "--trainer.devices=1",
            f"--trainer.default_root_dir={tmp_path}", *overrides_for(cfg),
            "--trainer.max_steps=3", "--trainer.check_val_every_n_epoch=5"]
    cli = main(args)
    last = Path(cli.trainer.checkpoint_callback.dirpath) / "last.ckpt"
    assert cli.trainer.global_step == 3
    assert torch.load(last, weights_only=False)["global_step"] == 3


def test_fit_resumes_from_ckpt_path(tmp_path, monkeypatch):
    import torch

    monkeypatch.chdir(tmp_path)
    cfg = ROOT / "configs" / "diffusion" / "quickstart.yaml"
    base = ["--config", str(cfg), "--trainer.accelerator=cpu", "--trainer.devices=1",
            f"--trainer.default_root_dir={tmp_path}", *overrides_for(cfg)]
    first = main([*base, "--trainer.max_steps=2"])
    ckpt = Path(first.trainer.checkpoint_callback.dirpath) / "last.ckpt"
    first.trainer.save_checkpoint(ckpt)
    resumed = main([*base, "--trainer.max_steps=4", f"--ckpt_path={ckpt}"])
    assert resumed.trainer.global_step == 4
    # another seed, nothing left to train: the weights can only be the checkpoint's
    same = main([*base, "--trainer.max_steps=2", "--seed_everything=5", f"--ckpt_path={ckpt}"])
    saved = torch.load(ckpt, weights_only=False)["state_dict"]
    assert all(torch.equal(v, saved[k]) for k, v in same.model.state_dict().items())
    with pytest.raises(ValueError, match="no such checkpoint"):
        main([*base, "--ckpt_path=missing.ckpt"])


LNCA_CONFIGS = sorted((ROOT / "configs" / "lnca").glob("lnca_*.yaml"))


@pytest.mark.parametrize("cfg", LNCA_CONFIGS, ids=[c.name for c in LNCA_CONFIGS])
def test_lnca_config_chains_phase_2_to_phase_1(cfg, tmp_path, monkeypatch):
    """Phase 1 writes the autoencoder file the config names; phase 2 (bf16) starts from it."""
    import torch

    monkeypatch.chdir(tmp_path)
    ae_file = Path(yaml.safe_load(cfg.read_text())["model"]["init_args"]["ae_checkpoint"])
    base = ["--config", str(cfg), "--trainer.accelerator=cpu", "--trainer.devices=1",
            f"--trainer.default_root_dir={ae_file.parent}", *overrides_for(cfg)]
    main(base)
    assert ae_file.is_file()
    phase2 = main([*base, "--model.init_args.phase=nca", "--trainer.precision=bf16-mixed"])
    assert phase2.trainer.global_step >= 1
    saved = torch.load(ae_file, weights_only=False)
    state = phase2.model.model.autoencoder.state_dict()
    assert all(torch.equal(state[k], v) for k, v in saved.items())
