"""FID/KID through torchmetrics with a local feature network; the UNet baseline of Table 3."""
import pytest
import torch

import nca_zoo
from nca_zoo.diffusion.fid import feature_extractor, fid_kid

TABLE3 = {"unet_s": 652_195, "unet_m": 3_940_547, "unet_b": 17_217_923, "unet_l": 111_051_779}


def test_fid_kid_orders_distributions_and_names_extractor():
    g = torch.Generator().manual_seed(0)
    real = (torch.rand(64, 3, 16, 16, generator=g) * 255).to(torch.uint8)
    same = (torch.rand(64, 3, 16, 16, generator=g) * 255).to(torch.uint8)
    dark = (torch.rand(64, 3, 16, 16, generator=g) * 100).to(torch.uint8)
    near, far = fid_kid(real, same), fid_kid(real, dark)
    assert near["fid"] < far["fid"] and near["kid_mean"] < far["kid_mean"]
    assert ("TinyFeatureNet" in near["features"] and near["n_real"] == 64
            and near["kid_subset_size"] == 32)


def test_fid_inputs_and_offline_weights_errors(tmp_path):
    x = torch.zeros(4, 3, 8, 8, dtype=torch.uint8)
    with pytest.raises(ValueError, match="uint8"):
        fid_kid(x.float(), x)
    with pytest.raises(ValueError, match="not found"):
        feature_extractor(f"inception:{tmp_path / 'missing.pth'}")
    with pytest.raises(ValueError, match="must be"):
        feature_extractor("vgg")


@pytest.mark.parametrize("name", ["unet_s", "unet_m"])
def test_unet_table3_param_counts(name):
    assert sum(p.numel() for p in nca_zoo.create_model(name).parameters()) == TABLE3[name]


@pytest.mark.slow
@pytest.mark.parametrize("name", ["unet_b", "unet_l"])
def test_unet_large_param_counts(name):
    assert sum(p.numel() for p in nca_zoo.create_model(name).parameters()) == TABLE3[name]


def test_unet_forward_and_size_check():
    m = nca_zoo.create_model("unet_m").eval()
    with torch.no_grad():
        assert m(torch.randn(2, 3, 32, 24), torch.tensor([0.1, 0.9])).shape == (2, 3, 32, 24)
    with pytest.raises(ValueError, match="divisible"):
        m(torch.randn(1, 3, 30, 30), torch.tensor(0.5))


def test_inception_features_load_from_a_local_file_only(tmp_path, monkeypatch):
    """The real-Inception route: weights come from the file the user names, never a download."""
    tfi = pytest.importorskip("torch_fidelity.feature_extractor_inceptionv3")
    import torch_fidelity.feature_extractor_inceptionv3 as fe

    # Build an Inception-v3 with random weights (no download: loading is stubbed) and save it in
    # the format of the official weights file.
    monkeypatch.setattr(fe.FeatureExtractorInceptionV3, "load_state_dict", lambda self, sd: None)
    monkeypatch.setattr(fe.torch.hub, "load_state_dict_from_url",
                        lambda *a, **k: (_ for _ in ()).throw(AssertionError("download attempted")))
    monkeypatch.setattr(fe.torch, "load", lambda *a, **k: {})
    random_net = tfi.FeatureExtractorInceptionV3("inception-v3-compat", ["2048"],
                                                 feature_extractor_weights_path=str(tmp_path / "x"))
    monkeypatch.undo()
    weights = tmp_path / "pt_inception-2015-12-05.pth"
    torch.save(random_net.state_dict(), weights)

    monkeypatch.setattr(fe.torch.hub, "load_state_dict_from_url",
                        lambda *a, **k: (_ for _ in ()).throw(AssertionError("download attempted")))
    real = torch.randint(0, 256, (4, 3, 32, 32), dtype=torch.uint8)
    fake = torch.randint(0, 256, (4, 3, 32, 32), dtype=torch.uint8)
    out = fid_kid(real, fake, feature=f"inception:{weights}", kid_subset_size=2)
    assert out["features"].startswith("Inception-v3") and str(weights) in out["features"]
    assert out["fid"] >= 0 and out["n_real"] == 4
    with pytest.raises(ValueError, match="not found"):
        feature_extractor(f"inception:{tmp_path / 'missing.pth'}")
