"""Training stops at the first non-finite loss or gradient, and never saves non-finite weights."""
from pathlib import Path

import lightning as L
import pytest
import torch
from test_configs import ROOT, overrides_for

from nca_zoo.cli import run
from nca_zoo.cli.fit import main
from nca_zoo.tasks.finite_guard import FiniteGuard, NonFiniteError

ABSURD = {"gnca/quickstart.yaml": ["--model.init_args.lr=1e30"],
          "lnca/lnca_nafca_denoise.yaml": ["--model.init_args.lr.ae=1e30"],
          "lnca/vitca_denoise.yaml": ["--model.init_args.lr=1e30"],
          "diffusion/quickstart.yaml": ["--model.init_args.lr=1e30"]}


def fit_args(config: str, root: Path, *extra: str) -> list[str]:
    cfg = ROOT / "configs" / config
    return ["--config", str(cfg), "--trainer.accelerator=cpu", "--trainer.devices=1",
            f"--trainer.default_root_dir={root}", *overrides_for(cfg), "--trainer.max_steps=8",
            "--trainer.max_epochs=8", "--trainer.limit_train_batches=4", *extra]


def all_finite(ckpt: Path) -> bool:
    state = torch.load(ckpt, weights_only=False)["state_dict"]
    return all(torch.isfinite(v).all() for v in state.values() if v.is_floating_point())


@pytest.mark.parametrize("config", sorted(ABSURD))
def test_absurd_learning_rate_stops_with_one_line(config, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    with pytest.raises(NonFiniteError, match=r"non-finite (loss|gradient).* at step \d+") as err:
        main(fit_args(config, tmp_path, *ABSURD[config]))
    assert "\n" not in str(err.value) and "--ckpt_path" in str(err.value) \
        or "start again" in str(err.value)
    for ckpt in tmp_path.rglob("*.ckpt"):  # whatever was saved before the blow-up is sound
        assert all_finite(ckpt), ckpt


def test_cli_exit_names_the_step(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    code = run("fit", fit_args("gnca/quickstart.yaml", tmp_path, *ABSURD["gnca/quickstart.yaml"]))
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2
    assert err[-1].startswith("error: non-finite") and "at step" in err[-1]


class _Poisoned(L.LightningModule):
    """A model whose loss turns NaN at step 2, after a checkpoint at step 1."""

    def __init__(self):
        super().__init__()
        self.w = torch.nn.Parameter(torch.ones(3))

    def configure_callbacks(self):
        return [FiniteGuard()]

    def training_step(self, batch, batch_idx):
        loss = (self.w ** 2).sum()
        return loss * float("nan") if self.global_step == 2 else loss

    def train_dataloader(self):
        return torch.utils.data.DataLoader(torch.zeros(8, 1), batch_size=1)

    def configure_optimizers(self):
        return torch.optim.SGD(self.parameters(), lr=0.1)


def test_stop_leaves_the_weights_of_the_last_good_step(tmp_path):
    model = _Poisoned()
    ckpt = L.pytorch.callbacks.ModelCheckpoint(dirpath=tmp_path, every_n_train_steps=1,
                                               save_last=True)
    trainer = L.Trainer(max_steps=6, accelerator="cpu", logger=False, callbacks=[ckpt],
                        enable_progress_bar=False, default_root_dir=tmp_path)
    with pytest.raises(NonFiniteError, match=r"at step 2;.*--ckpt_path=.*\.ckpt"):
        trainer.fit(model)
    assert torch.isfinite(model.w).all()            # the poisoned step changed nothing
    torch.testing.assert_close(model.w.detach(), torch.full((3,), 0.8 ** 2))
    assert all(all_finite(p) for p in tmp_path.glob("*.ckpt"))


def test_checkpoint_with_non_finite_weights_is_refused(tmp_path):
    model = _Poisoned()
    trainer = L.Trainer(max_steps=1, accelerator="cpu", logger=False, enable_progress_bar=False,
                        default_root_dir=tmp_path, enable_checkpointing=False)
    trainer.fit(model)
    with torch.no_grad():
        model.w[0] = float("inf")
    with pytest.raises(NonFiniteError, match="weight w is not finite"):
        trainer.save_checkpoint(tmp_path / "bad.ckpt")
    assert not (tmp_path / "bad.ckpt").exists()
