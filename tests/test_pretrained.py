"""Pretrained folders: save -> load round trips, strict loading, clear errors, offline."""
import json

import numpy as np
import pytest
import torch

import nca_zoo
import nca_zoo._pretrained  # the lazy package exposes a submodule once it is imported


@pytest.mark.parametrize("arch,args", [("gnca_medium", {"num_models": 4, "patch_size": 8}),
                                       ("nafnet_small", {}),
                                       ("diff_nca", {"channels": 10, "hidden": 16})])
def test_round_trip_gives_identical_weights(tmp_path, arch, args):
    model = nca_zoo.create_model(arch, **args)
    with torch.no_grad():
        for p in model.parameters():
            p.add_(torch.randn_like(p) * 0.01)
    folder = nca_zoo.save_pretrained(model, tmp_path / arch, arch, args, card={"data": "test"})
    loaded = nca_zoo.load_pretrained(str(folder))
    assert not loaded.training and loaded.card["data"] == "test"
    assert loaded.card["num_params"] == sum(p.numel() for p in model.parameters())
    assert loaded.card["file_size_bytes"] == (folder / "model.safetensors").stat().st_size
    for (k, a), (k2, b) in zip(model.state_dict().items(), loaded.state_dict().items()):
        assert k == k2 and torch.equal(a, b)


def test_loading_is_strict_and_errors_are_clear(tmp_path):
    model = nca_zoo.create_model("gnca_small")
    folder = nca_zoo.save_pretrained(model, tmp_path / "m", "gnca_small")
    cfg = json.loads((folder / "config.json").read_text())
    cfg["model_args"] = {"num_models": 2}  # shape mismatch with the saved weights
    (folder / "config.json").write_text(json.dumps(cfg))
    with pytest.raises(nca_zoo.PretrainedError, match="does not match config.json"):
        nca_zoo.load_pretrained(str(folder))
    (folder / "model.safetensors").write_bytes(b"garbage")
    cfg["model_args"] = {}
    (folder / "config.json").write_text(json.dumps(cfg))
    with pytest.raises(ValueError, match="cannot be read"):
        nca_zoo.load_pretrained(str(folder))
    (folder / "card.json").unlink()
    with pytest.raises(nca_zoo.PretrainedError, match="missing card.json"):
        nca_zoo.load_pretrained(str(folder))
    with pytest.raises(FileNotFoundError, match="no pretrained module"):
        nca_zoo.load_pretrained("no-such-model")


def _is_diffusion(name: str) -> bool:
    folder = nca_zoo._pretrained.SHIPPED / name
    return "diffusion" in json.loads((folder / "config.json").read_text())


def _is_gnca_prior(name: str) -> bool:
    folder = nca_zoo._pretrained.SHIPPED / name
    return json.loads((folder / "config.json").read_text())["architecture"].startswith("gnca_")


def _is_latent_rule(name: str) -> bool:
    folder = nca_zoo._pretrained.SHIPPED / name
    return json.loads((folder / "config.json").read_text())["architecture"] == "latent_nca"


PRIORS = [n for n in nca_zoo.list_pretrained() if _is_gnca_prior(n)]
LATENT_RULES = [n for n in nca_zoo.list_pretrained() if _is_latent_rule(n)]
RESTORERS = [n for n in nca_zoo.list_pretrained()
             if not _is_diffusion(n) and n not in PRIORS and n not in LATENT_RULES]
GENERATORS = [n for n in nca_zoo.list_pretrained() if _is_diffusion(n)]


def test_every_gnca_size_ships_a_prior():
    from nca_zoo.compression.prior import PRIOR_NAMES

    assert sorted(PRIOR_NAMES.values()) == PRIORS


def test_the_latent_codec_ships_its_default_rule():
    from nca_zoo.compression.latent_prior import DEFAULT_RULE

    assert LATENT_RULES == [DEFAULT_RULE]


@pytest.mark.parametrize("name", LATENT_RULES)
def test_shipped_latent_rule_reproduces_its_card(name):
    """The card's quick check (a short fit of a small held-out photo) and its rule id."""
    from nca_zoo.compression.latent_prior import load_rule, rule_id
    from nca_zoo.drivers.latent_compress import quick_check

    rule = load_rule(name)
    card = rule.card
    assert card["rule_id"] == rule_id(rule).hex()
    assert card["macs_per_pixel"] == rule.macs_per_pixel()
    got, want = quick_check(name), card["quick_check"]
    assert got["bytes"] == pytest.approx(want["bytes"], rel=0.03)
    assert got["psnr"] == pytest.approx(want["psnr"], abs=0.1)


@pytest.mark.parametrize("name", PRIORS)
def test_shipped_prior_reproduces_its_card(name):
    """The card's quick check (2 held-out patches, 1 and 10 iterations) is recomputed.

    The prior fits at the lr the card records (its fit_lr): at 1e-2 a 10-iteration fit from
    GNCA-large's prior depends on the thread count by over 1 dB.
    """
    from nca_zoo.compression.prior import psnr_curve
    from nca_zoo.data.held_out import held_out_patches

    prior = nca_zoo.load_pretrained(name)
    card, q = prior.card, prior.card["quick_check"]
    assert card["num_params"] == sum(p.numel() for p in prior.parameters())
    size = prior.pretrained_config["architecture"].removeprefix("gnca_")
    targets = held_out_patches(q["n"], q["patch"])
    for init in ("random", "prior"):
        got = psnr_curve(targets, size, init, q["at"], prior=prior, seed=q["seed"],
                         lr=q["lr"][init])["psnr"]
        for i in q["at"]:
            assert got[i] == pytest.approx(q[f"psnr_{init}"][str(i)], abs=0.2), (init, i)
    # the full held-out measurement (benchmarks/gnca/gnca_prior.py --update-cards) is on the card
    assert q["lr"]["prior"] == card["fit_lr"]
    gain = card["held_out_gain"]
    # cards measured before the benchmarks moved into folders name the script's old path
    assert gain["measured_by"] in ("benchmarks/gnca/gnca_prior.py", "benchmarks/gnca_prior.py")
    assert gain["n_patches"] >= 2


def test_restorers_are_found_by_their_card_task():
    """RESTORERS is every shipped module whose card has a restoration task."""
    from nca_zoo.restoration.classical import shipped_restorers

    assert RESTORERS == shipped_restorers()


@pytest.mark.parametrize("name", RESTORERS)
def test_shipped_restorer_reproduces_its_card(name):
    from nca_zoo.restoration import restoration_metrics

    model = nca_zoo.load_pretrained(name)  # offline, strict
    card = model.card
    assert card["num_params"] == sum(p.numel() for p in model.parameters())
    q = card["quick_check"]     # the first test pairs; the full metrics are the same function
    got = restoration_metrics(model, task=q["task"], image_size=q["image_size"], n=q["n_test"],
                              split=q.get("split", "photo"))
    assert got["n_test"] == q["n_test"] and got["psnr_input"] == pytest.approx(q["psnr_input"])
    assert abs(got["ssim_model"] - q["ssim_model"]) < 0.01
    assert abs(got["psnr_model"] - q["psnr_model"]) < 0.2
    full = card["metrics"]
    # it restores
    assert full["n_test"] > q["n_test"] and full["psnr_model"] > full["psnr_input"] + 1.0


@pytest.mark.parametrize("name", GENERATORS)
def test_shipped_generator_reproduces_its_card(name):
    """The card's quick subset (few samples, few DDIM steps) is recomputed.

    The full metrics are the same function on the whole test split.
    """
    from nca_zoo.diffusion import load_denoiser
    from nca_zoo.diffusion.evaluate import diffusion_metrics

    den = load_denoiser(name)
    card = den.model.card
    assert card["num_params"] == sum(p.numel() for p in den.model.parameters())
    q = card["quick_check"]
    got = diffusion_metrics(den.model, den.schedule, card["data_args"], n=q["n"],
                            sampler=q["sampler"], steps=q["sampler_steps"], seed=q["seed"])
    assert got["n"] == q["n"] and got["features"] == q["features"]
    for key in ("fid_model", "fid_train", "fid_noise"):
        assert got[key] == pytest.approx(q[key], rel=0.05, abs=0.02), key
    assert card["metrics"]["n"] >= q["n"] and card["metrics"]["features"] == q["features"]


@pytest.mark.parametrize("source", ["median3", "saved folder"])
def test_restore_cli(tmp_path, capsys, source):
    """A classical filter by name and a freshly saved restorer folder restore through the CLI."""
    from PIL import Image

    from nca_zoo import restore
    from nca_zoo.cli import run_cli

    name = source
    if source == "saved folder":
        args = {"embed_dim": 16, "steps": [2, 2], "eval_steps": 2}
        name = str(nca_zoo.save_pretrained(nca_zoo.create_model("lnca_nafca", **args),
                                           tmp_path / "restorer", "lnca_nafca", args,
                                           card={"task": "noise"}))
    out, img = tmp_path / "out.png", tmp_path / "in.png"
    Image.fromarray((np.random.default_rng(0).random((37, 45, 3)) * 255).astype(np.uint8)).save(img)
    assert run_cli(restore.main, [str(img), "-o", str(out), "--model", name]) == 0
    assert Image.open(out).size == (45, 37)
    assert run_cli(restore.main, [str(img), "-o", str(tmp_path / "x.png"), "--model", "nope"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("error: no restorer 'nope'") and "median3" in err and "\n" not in err
    assert not (tmp_path / "x.png").exists()


def test_tiled_restore_covers_the_image_and_matches_inside_one_tile():
    from nca_zoo.restoration import default_tile, is_size_dependent, restore

    vitca = nca_zoo.create_model("vitca", embed_dim=16, mlp_dim=8, hidden_channels=4, eval_steps=2,
                                 update_rate=1.0)
    assert is_size_dependent(vitca)
    assert not is_size_dependent(nca_zoo.create_model("nafnet_small", width=4))
    vitca.card = {"metrics": {"image_size": 16}}
    assert default_tile(vitca) == 16
    img = torch.rand(3, 37, 45)
    out = restore(vitca.eval(), img, tile=16)
    assert out.shape == img.shape and torch.isfinite(out).all()
    small = torch.rand(3, 16, 16)
    torch.testing.assert_close(restore(vitca, small, tile=16), restore(vitca, small))
    with pytest.raises(ValueError, match="multiple of 4"):
        restore(vitca, img, tile=10)
