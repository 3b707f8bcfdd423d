"""Every registered model, tested from its registry metadata alone (no per-model test needed).

For each name in ``nca_zoo.list_models()``: the metadata is complete, ``num_params`` is the exact
count of the default-size model, the ``tiny`` version runs forward with the output shape of its
``family`` and backward gives every parameter a finite gradient, and it survives a
``save_pretrained`` / ``load_pretrained`` round trip bit for bit.
"""
import json

import pytest
import torch
from torch import nn

import nca_zoo
from nca_zoo import _registry
from nca_zoo._registry import FAMILIES, ModelInfo, model_info
from nca_zoo.models.latent_nca import latent_shapes

MODELS = nca_zoo.list_models()
BATCH = 2
#: Restoration input side: a multiple of 4 (the LNCA latent is H / 4).
RESTORATION_SIZE = 16
#: Denoiser input side: divisible by 2 ** 5 (unet_l's six levels) and large enough that unet_l's
#: lowest level is 2x2, not 1x1 (see test_tiny_model_gradients_reach_every_parameter).
DENOISER_SIZE = 64
#: VAE input side: the tiny VNCA's image (its 2x2 grid doubled 3 times).
VAE_SIZE = 16
#: latent codec rule: image side and levels of its tiny variant
LATENT_SIZE, LATENT_LEVELS = 12, 3


def tiny_model(name: str) -> nn.Module:
    torch.manual_seed(0)
    return nca_zoo.create_model(name, **model_info(name).tiny)


def inputs(family: str) -> tuple:
    """Deterministic inputs for one call of a model of ``family`` (empty for a GNCA)."""
    g = torch.Generator().manual_seed(1)
    if family == "restoration":
        return (torch.rand(BATCH, 3, RESTORATION_SIZE, RESTORATION_SIZE, generator=g),)
    if family == "vae":
        return (torch.rand(BATCH, 3, VAE_SIZE, VAE_SIZE, generator=g),)
    if family == "denoiser":
        x_t = torch.rand(BATCH, 3, DENOISER_SIZE, DENOISER_SIZE, generator=g) * 2 - 1
        return x_t, torch.rand(BATCH, generator=g)
    if family == "latent_codec":  # integer latent grids, the image's height and width
        grids = [torch.randint(-3, 4, (BATCH, 1, h, w), generator=g).float()
                 for h, w in latent_shapes(LATENT_SIZE, LATENT_SIZE, LATENT_LEVELS)]
        return grids, LATENT_SIZE, LATENT_SIZE
    return ()


def expected_shape(model: nn.Module, family: str) -> tuple:
    if family == "gnca":  # model() decodes every patch
        return (model.num_models, 3, model.patch_size, model.patch_size)
    if family == "latent_codec":
        return (BATCH, 3, LATENT_SIZE, LATENT_SIZE)
    return inputs(family)[0].shape


def training_loss(model: nn.Module, family: str) -> torch.Tensor:
    """A scalar loss through the whole model, in train mode (the NCAs' training step counts)."""
    model.train()
    if family == "gnca":
        # model() runs under no_grad; grow() with a per-step loss reaches every weight
        _, loss = model.grow(step_loss=lambda s, t: model.rgb(s).square().mean())
        return loss
    out = model(*inputs(family))
    assert out.shape == expected_shape(model, family)
    return out.square().mean()


def eval_output(model: nn.Module, family: str) -> torch.Tensor:
    model.eval()
    torch.manual_seed(2)  # stochastic update masks (vitca, diff_nca) draw from the global RNG
    with torch.no_grad():
        return model(*inputs(family))


@torch.no_grad()
def perturb(model: nn.Module) -> None:
    """Move every float tensor of the state away from its init (zero-init heads included).

    The noise is positive, so BatchNorm running variances stay positive.
    """
    g = torch.Generator().manual_seed(3)
    for t in model.state_dict().values():
        if t.is_floating_point():
            t.add_(0.05 * torch.rand(t.shape, generator=g).to(t))


# ------------------------------------------------------------------------------ metadata
@pytest.mark.parametrize("name", MODELS)
def test_metadata_recorded(name):
    info = model_info(name)
    assert isinstance(info, ModelInfo) and info.name == name and info.complete, info
    assert info.family in FAMILIES
    assert isinstance(info.num_params, int) and info.num_params > 0
    assert isinstance(info.tiny, dict) and info.tiny
    assert json.loads(json.dumps(info.tiny)) == info.tiny  # it goes into config.json
    assert info.summary and info.summary == info.fn.__doc__.strip().splitlines()[0].strip()
    assert info.fn.__name__ == name


@pytest.mark.parametrize("name", MODELS)
def test_num_params_is_default_model_count(name):
    with torch.device("meta"):  # no allocation: unet_l has 111M parameters
        model = nca_zoo.create_model(name)
    count, recorded = sum(p.numel() for p in model.parameters()), model_info(name).num_params
    assert count == recorded, f"{name}: create_model({name!r}) has {count:,} parameters, " \
                              f"the registry records {recorded:,}"


def test_tiny_is_a_copy():
    name = MODELS[0]
    model_info(name).tiny["surprise"] = 1
    assert "surprise" not in model_info(name).tiny


# ------------------------------------------------------------------------------ tiny models
@pytest.mark.parametrize("name", MODELS)
def test_tiny_model_forward_shape(name):
    family = model_info(name).family
    model = tiny_model(name)
    out = eval_output(model, family) if family != "gnca" else model()
    assert out.shape == expected_shape(model, family)
    assert torch.isfinite(out).all()
    if family == "gnca":
        state, loss = model.grow()
        assert state.shape == (1, model.num_models * model.channels, *out.shape[-2:])
        assert loss.shape == ()


@pytest.mark.parametrize("name", MODELS)
def test_tiny_model_backward_reaches_every_parameter(name):
    """Fresh init: every parameter gets a gradient (not None) and it is finite.

    Zero-initialised weights (GNCA ``w2``, the ViTCA / NAFCA heads, NAFNet's ``beta``/``gamma``)
    make many of these gradients exactly zero at init; that is fine here (the next test checks
    that they become non-zero once the weights move).  A None gradient means the parameter
    is not used in the forward at all.
    """
    model = tiny_model(name)
    torch.manual_seed(0)
    training_loss(model, model_info(name).family).backward()
    for pname, p in model.named_parameters():
        assert p.grad is not None, f"{name}: parameter {pname} got no gradient"
        assert torch.isfinite(p.grad).all(), f"{name}: parameter {pname} has a non-finite gradient"


@pytest.mark.parametrize("name", MODELS)
def test_tiny_model_gradients_reach_every_parameter(name):
    """Weights moved off their init: every parameter's gradient is non-zero.

    Catches a parameter that is used but cannot influence the output, e.g. an encoder whose
    latent the NCA never passes on.  At init this cannot be checked: with a zero-initialised
    ViTCA head the LNCA's NCA leaves the latent's read-out at its 0.5 seed, so the encoder's
    ``to_latent`` and ``side`` layers get exactly zero gradients.  No model needs an exception;
    the input sizes are chosen so that none is needed: a 1x1 map would make the UNet's middle
    self-attention a single token, whose softmax is 1 whatever ``q`` and ``k`` are.
    """
    model = tiny_model(name)
    perturb(model)
    torch.manual_seed(0)
    training_loss(model, model_info(name).family).backward()
    for pname, p in model.named_parameters():
        assert p.grad is not None, f"{name}: parameter {pname} got no gradient"
        assert torch.isfinite(p.grad).all(), f"{name}: parameter {pname} has a non-finite gradient"
        assert p.grad.abs().sum() > 0, f"{name}: parameter {pname} has an all-zero gradient"


@pytest.mark.parametrize("name", MODELS)
def test_save_load_round_trip(name, tmp_path):
    info = model_info(name)
    model = tiny_model(name)
    perturb(model)  # weights no fresh model has: a load that did nothing would show
    folder = nca_zoo.save_pretrained(model, tmp_path / name, name, info.tiny)
    loaded = nca_zoo.load_pretrained(str(folder))
    assert not loaded.training
    assert loaded.pretrained_config["model_args"] == info.tiny  # list-valued kwargs survive JSON

    ref, got = model.state_dict(), loaded.state_dict()
    assert list(got) == list(ref)
    for key, t in ref.items():
        assert got[key].dtype == t.dtype and torch.equal(got[key], t), f"{name}: {key} differs"

    if info.family == "gnca":
        model.eval()
        outs = [m() for m in (model, loaded, tiny_model(name).eval())]
    else:
        outs = [eval_output(m, info.family) for m in (model, loaded, tiny_model(name))]
    assert torch.equal(outs[1], outs[0]), f"{name}: loaded model computes something else"
    assert not torch.equal(outs[2], outs[0]), f"{name}: output does not depend on the weights"


# ------------------------------------------------------------------------------ registry
def test_unknown_model_raises_key_error():
    with pytest.raises(KeyError, match="list_models"):
        nca_zoo.create_model("no_such_model")
    with pytest.raises(KeyError, match="list_models"):
        model_info("no_such_model")


@pytest.fixture
def scratch_registry(monkeypatch):
    """A copy of the registry, so test registrations do not leak into other tests."""
    monkeypatch.setattr(_registry, "_MODELS", dict(_registry._MODELS))


def test_register_model_forms(scratch_registry):
    @_registry.register_model
    def bare_model(**kwargs):
        """Bare registration."""
        return nn.Linear(2, 2, **kwargs)

    @_registry.register_model(num_params=6, tiny=dict(bias=False), family="restoration")
    def meta_model(**kwargs):
        """With metadata.

        More text.
        """
        return nn.Linear(2, 2, **kwargs)

    assert bare_model.__name__ == "bare_model" and meta_model.__name__ == "meta_model"
    assert {"bare_model", "meta_model"} <= set(nca_zoo.list_models())
    bare = model_info("bare_model")
    assert (bare.num_params, bare.tiny, bare.family, bare.complete) == (None, None, None, False)
    assert bare.summary == "Bare registration."
    info = model_info("meta_model")
    assert (info.num_params, info.tiny, info.family) == (6, {"bias": False}, "restoration")
    assert info.complete and info.summary == "With metadata."
    assert isinstance(nca_zoo.create_model("meta_model", **info.tiny), nn.Linear)
    with pytest.raises(ValueError, match="registered twice"):
        _registry.register_model(meta_model)


@pytest.mark.parametrize("kwargs, match", [
    (dict(family="classifier"), "family must be one of"),
    (dict(num_params=-1), "num_params"),
    (dict(num_params=1.5), "num_params"),
    (dict(tiny=dict(channels=(8, 16))), "JSON"),
    (dict(tiny=[1]), "tiny must be a dict"),
])
def test_register_model_rejects_bad_metadata(scratch_registry, kwargs, match):
    with pytest.raises(ValueError, match=match):
        @_registry.register_model(**kwargs)
        def bad_model():
            return nn.Identity()
    assert "bad_model" not in nca_zoo.list_models()
