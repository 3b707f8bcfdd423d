"""DDPM schedule closed forms and the samplers (DDPM, DDIM, inpainting, super-resolution)."""
import math

import pytest
import torch

import nca_zoo
from nca_zoo.diffusion import DDPMSchedule, denoise, inpaint, sample, superres_x2
from nca_zoo.diffusion.samplers import strided_timesteps
from nca_zoo.diffusion.sampling import superres_grid


def test_linear_schedule_closed_forms():
    s = DDPMSchedule(300)
    betas = torch.linspace(1e-4, 0.02, 300, dtype=torch.float64)
    assert torch.allclose(s.betas.double(), betas, atol=1e-9)
    abar_T = math.prod(1 - b for b in betas.tolist())
    assert s.alphas_cumprod[-1].item() == pytest.approx(abar_T, rel=1e-5)
    # authors' T=300 linear schedule
    assert s.alphas_cumprod[-1].item() == pytest.approx(0.048, abs=0.002)
    t = 37
    abar, abar_prev = s.alphas_cumprod[t].item(), s.alphas_cumprod[t - 1].item()
    assert s.posterior_variance[t].item() == pytest.approx(
        betas[t].item() * (1 - abar_prev) / (1 - abar), rel=1e-5)
    assert s.posterior_variance[0].item() == 0.0
    scaled = DDPMSchedule(100, scale_to_T=True)
    assert (scaled.betas[0].item() == pytest.approx(1e-3)
            and scaled.betas[-1].item() == pytest.approx(0.2))
    cos = DDPMSchedule(50, kind="cosine")
    assert (cos.betas > 0).all() and (cos.betas <= 0.9999).all()
    with pytest.raises(ValueError):
        DDPMSchedule(10, kind="quartic")


def test_q_sample_and_x0_inverse():
    s = DDPMSchedule(100)
    x0, eps = torch.randn(4, 3, 5, 5), torch.randn(4, 3, 5, 5)
    t = torch.tensor([0, 10, 50, 99])
    xt = s.q_sample(x0, t, eps)
    a = s.alphas_cumprod[t].view(-1, 1, 1, 1)
    torch.testing.assert_close(xt, a.sqrt() * x0 + (1 - a).sqrt() * eps)
    torch.testing.assert_close(s.predict_x0(xt, t, eps), x0, atol=1e-4, rtol=1e-4)


class Oracle(torch.nn.Module):
    """Predicts the exact noise of a known x0: every sampler must then land on x0."""

    def __init__(self, x0, s):
        super().__init__()
        self.x0, self.s, self.w = x0, s, torch.nn.Parameter(torch.zeros(()))

    def forward(self, x, t_frac, region=None):
        a = self.s.alphas_cumprod[(t_frac * self.s.timesteps).round().long()].view(-1, 1, 1, 1)
        return (x - a.sqrt() * self.x0) / (1 - a).sqrt()


@pytest.mark.parametrize("sampler", ["ddpm", "ddim"])
def test_samplers_recover_x0_with_oracle(sampler):
    s = DDPMSchedule(50)
    x0 = torch.rand(2, 3, 9, 7) * 2 - 1
    out = sample(Oracle(x0, s), s, 2, 9, 7, sampler=sampler, steps=10)
    torch.testing.assert_close(out, (x0 + 1) / 2, atol=1e-3, rtol=0)


def test_strided_timesteps():
    assert strided_timesteps(299, 4) == [299, 199, 100, 0]
    assert strided_timesteps(3, 50) == [3, 2, 1, 0]


@pytest.mark.parametrize("sampler", ["ddpm", "ddim"])
def test_sampler_shapes_at_odd_sizes(sampler):
    m = nca_zoo.create_model("fourierdiff_nca", channels=10, hidden=16, steps=2,
                             fourier_steps=2).eval()
    out = sample(m, DDPMSchedule(4), 2, 78, 64, sampler=sampler, steps=2,
                 generator=torch.Generator().manual_seed(0))
    assert out.shape == (2, 3, 78, 64) and 0 <= out.min() and out.max() <= 1


@pytest.mark.parametrize("known", ["clean", "noised"])
def test_inpainting_never_changes_known_pixels(known):
    m = nca_zoo.create_model("diff_nca", channels=10, hidden=16, steps=3).eval()
    img = torch.rand(2, 3, 20, 18)
    mask = torch.zeros(2, 1, 20, 18)
    mask[..., 5:12, 4:9] = 1
    out = inpaint(m, DDPMSchedule(6), img, mask, known=known)
    keep = (mask == 0).expand_as(img)
    assert torch.equal(out[keep], img[keep])
    assert (out[~keep] - img[~keep]).abs().max() > 0.01


def test_inpainting_updates_only_masked_cells():
    """The mask is the NCA's update region: hidden state outside it never changes."""
    m = nca_zoo.create_model("diff_nca", channels=10, hidden=16, steps=3).eval()
    x = torch.randn(1, 3, 12, 12)
    region = torch.zeros(1, 1, 12, 12)
    region[..., 3:6, 3:6] = 1
    state, _ = m.automaton.rollout(m.seed(x), 3, torch.tensor([0.5]), region=region)
    outside = (region == 0).expand_as(state)
    assert torch.equal(state[outside], m.seed(x)[outside])


def test_superres_grid_and_original_pixels_kept():
    img = torch.rand(1, 3, 8, 6)
    up, new = superres_grid(img)
    assert up.shape == (1, 3, 16, 12)
    assert new[0, 0, :2, :2].tolist() == [[0, 1], [1, 1]]           # [[1,0],[0,0]] grid
    m = nca_zoo.create_model("diff_nca", channels=10, hidden=16, steps=2).eval()
    out = superres_x2(m, DDPMSchedule(10), img, sampler="ddim", steps=3)
    assert out.shape == (1, 3, 16, 12)
    assert torch.equal(out[..., ::2, ::2], img)


def test_ddim_eta_and_generator_reproducible():
    m = nca_zoo.create_model("diff_nca", channels=10, hidden=16, steps=2).eval()
    s = DDPMSchedule(8)
    x = torch.randn(1, 3, 8, 8)
    runs = []
    for _ in range(2):   # NCA update masks use the global RNG, the sampler noise the generator
        torch.manual_seed(0)
        runs.append(denoise(m, s, x, "ddim", steps=4, eta=1.0,
                            generator=torch.Generator().manual_seed(3)))
    assert torch.isfinite(runs[0]).all() and torch.equal(runs[0], runs[1])
    torch.manual_seed(0)
    other = denoise(m, s, x, "ddim", steps=4, eta=1.0, generator=torch.Generator().manual_seed(4))
    assert not torch.equal(runs[0], other)
