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
    assert "TinyFeatureNet" in near["features"] and near["n_real"] == 64 and near["kid_subset_size"] == 32


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
