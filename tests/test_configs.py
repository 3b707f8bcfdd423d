"""Every YAML in configs/ runs through ``python -m nca_zoo.fit`` (in-process) with tiny overrides.

Per-group overrides live in ``tests/config_overrides/<group>.yaml``: a mapping from the config's
file name (or ``"*"`` for all of the group) to a list of extra ``--key=value`` arguments.
"""
from pathlib import Path

import pytest
import yaml

from nca_zoo.fit import main

ROOT = Path(__file__).resolve().parents[1]
CONFIGS = sorted((ROOT / "configs").rglob("*.yaml"))


def overrides_for(cfg: Path) -> list[str]:
    group = cfg.parent.name
    file = ROOT / "tests" / "config_overrides" / f"{group}.yaml"
    table = yaml.safe_load(file.read_text()) if file.exists() else {}
    table = table or {}
    return list(table.get("*", [])) + list(table.get(cfg.name, []))


@pytest.mark.parametrize("cfg", CONFIGS, ids=[str(c.relative_to(ROOT / "configs")) for c in CONFIGS])
def test_config_runs(cfg, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    args = ["--config", str(cfg), "--trainer.accelerator=cpu", "--trainer.devices=1",
            f"--trainer.default_root_dir={tmp_path}", *overrides_for(cfg)]
    cli = main(args)
    assert cli.trainer.global_step >= 1
