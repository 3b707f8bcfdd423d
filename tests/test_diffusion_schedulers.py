"""Sampling through diffusers schedulers.

The same samples as the zoo's own DDPM / DDIM, and every named sampler lands on x_0 when the noise
prediction is exact.
"""
import numpy as np
import pytest
import torch
from diffusers import DDIMScheduler
from reference_samplers import ddim_sample, ddpm_sample

import nca_zoo
from nca_zoo.diffusion import DDPMSchedule, denoise, inpaint, sample, superres_x2
from nca_zoo.diffusion.samplers import (
    SAMPLERS,
    StridedDDIMScheduler,
    check_sampler,
    make_sampler,
    timesteps_for,
)
from nca_zoo.tasks import DiffusionTask

PAPER = DDPMSchedule(300)        # the paper's linear 1e-4 ... 0.02 over T = 300, not rescaled


@pytest.fixture(scope="module")
def tiny_nca():
    torch.manual_seed(0)
    return nca_zoo.create_model("diff_nca", channels=10, hidden=16, steps=2).eval()


def _run(fn, *args, seed=2, **kw):
    torch.manual_seed(5)                   # the NCA's stochastic update masks use the global RNG
    return fn(*args, generator=torch.Generator().manual_seed(seed), **kw)


def test_schedulers_get_the_trained_betas_exactly():
    for name in SAMPLERS:
        sch = make_sampler(name, PAPER)
        assert sch.config.num_train_timesteps == 300
        assert torch.equal(sch.betas.float(), PAPER.betas), name
        torch.testing.assert_close(sch.alphas_cumprod.float(), PAPER.alphas_cumprod,
                                   rtol=2e-6, atol=0)


def test_ddpm_equals_the_zoos_ancestral_sampler(tiny_nca):
    x = torch.randn(2, 3, 8, 8, generator=torch.Generator().manual_seed(1))
    ref = _run(ddpm_sample, tiny_nca, PAPER, x)
    new = _run(denoise, tiny_nca, PAPER, x, "ddpm")
    assert new.abs().max() > 1                                # a real 300-step chain
    # same noise draws; only ᾱ's float32 cumprod differs (diffusers) from float64 (ours)
    torch.testing.assert_close(new, ref, rtol=0, atol=2e-4 * ref.abs().max().item())


@pytest.mark.parametrize("steps", [50, 25, 7])
@pytest.mark.parametrize("eta", [0.0, 1.0])
def test_ddim_equals_the_zoos_ddim(tiny_nca, steps, eta):
    x = torch.randn(2, 3, 8, 8, generator=torch.Generator().manual_seed(1))
    ref = _run(ddim_sample, tiny_nca, PAPER, x, steps=steps, eta=eta)
    new = _run(denoise, tiny_nca, PAPER, x, "ddim", steps=steps, eta=eta)
    torch.testing.assert_close(new, ref, rtol=1e-5, atol=1e-5)


def test_strided_ddim_is_diffusers_ddim_where_its_stride_is_exact():
    """With an exact integer stride (diffusers' "leading" spacing) both take the same steps."""
    plain = DDIMScheduler(num_train_timesteps=300, trained_betas=PAPER.betas.double().numpy(),
                          clip_sample=False, set_alpha_to_one=True, timestep_spacing="leading")
    plain.set_timesteps(30)
    ours = make_sampler("ddim", PAPER)
    assert isinstance(ours, StridedDDIMScheduler)
    ours.set_timesteps(timesteps=plain.timesteps.tolist())
    g = torch.Generator().manual_seed(0)
    x = torch.randn(1, 3, 4, 4, generator=g)
    a, b = x.clone(), x.clone()
    for t in plain.timesteps:
        eps = torch.randn(x.shape, generator=g)
        noise = torch.randn(x.shape, generator=g)
        a = plain.step(eps, t, a, eta=0.5, variance_noise=noise).prev_sample
        b = ours.step(eps, t, b, eta=0.5, variance_noise=noise).prev_sample
    torch.testing.assert_close(a, b, rtol=1e-6, atol=1e-6)
    with pytest.raises(ValueError, match="decrease strictly"):
        ours.set_timesteps(timesteps=[3, 5, 0])


class Oracle(torch.nn.Module):
    """Predicts the exact noise of a known x0, also at the fractional timesteps of Euler & co."""

    def __init__(self, x0, s):
        super().__init__()
        self.x0, self.T = x0, s.timesteps
        sigma = ((1 - s.alphas_cumprod) / s.alphas_cumprod).sqrt().double()
        self.sigma = sigma.numpy()
        self.w = torch.nn.Parameter(torch.zeros(()))

    def forward(self, x, t_frac, region=None):
        t = (t_frac.double() * self.T).numpy()
        sigma = torch.from_numpy(np.interp(t, np.arange(self.T), self.sigma)).float()
        a = (1 / (1 + sigma ** 2)).view(-1, 1, 1, 1)
        return (x - a.sqrt() * self.x0) / (1 - a).sqrt()


@pytest.mark.parametrize("sampler", SAMPLERS)
def test_every_sampler_recovers_x0_with_an_oracle(sampler):
    x0 = torch.rand(2, 3, 9, 7) * 2 - 1
    out = sample(Oracle(x0, PAPER), PAPER, 2, 9, 7, sampler=sampler, steps=10,
                 generator=torch.Generator().manual_seed(0))
    # DEIS stops at t = 0 (noise sqrt(1 - ᾱ_0) = 0.01), the others at σ = 0
    torch.testing.assert_close(out, (x0 + 1) / 2, atol=0.03 if sampler == "deis" else 2e-3,
                               rtol=0)


@pytest.mark.parametrize("sampler", SAMPLERS)
def test_every_sampler_inpaints_and_superresolves(tiny_nca, sampler):
    img = torch.rand(1, 3, 12, 10)
    mask = torch.zeros(1, 1, 12, 10)
    mask[..., 3:8, 2:6] = 1
    out = _run(inpaint, tiny_nca, PAPER, img, mask, sampler=sampler, steps=3, known="noised")
    keep = (mask == 0).expand_as(img)
    assert torch.equal(out[keep], img[keep]) and (out[~keep] - img[~keep]).abs().max() > 0.01
    sr = _run(superres_x2, tiny_nca, PAPER, img[..., :6, :5], sampler=sampler, steps=3)
    assert sr.shape == (1, 3, 12, 10) and torch.equal(sr[..., ::2, ::2], img[..., :6, :5])
    assert torch.isfinite(sr).all()


def test_no_sampler_repeats_a_timestep_even_with_steps_close_to_T():
    for T in (6, 10, 50):
        for name in SAMPLERS:
            sch = make_sampler(name, DDPMSchedule(T))
            ts = timesteps_for(sch, T, T - 1)
            assert len(ts) == len(torch.unique(ts)) * sch.order or name == "heun", (T, name)


def test_partial_chains_start_at_or_below_t_start():
    for name in SAMPLERS:
        ts = timesteps_for(make_sampler(name, PAPER), 10, 269)
        assert ts.max() <= 269 and len(ts) >= 5, name
    assert timesteps_for(make_sampler("ddpm", PAPER), 300, 269).tolist() == list(
        range(269, -1, -1))                                  # today's DDPM super-resolution
    assert len(timesteps_for(make_sampler("ddpm", PAPER), 300, 299)) == 300


def test_superres_ddpm_and_ddim_equal_the_zoos_chains(tiny_nca):
    """§4.8 starts part-way (t0 = 0.9 (T-1)): the same chain as the zoo's samplers."""
    img = torch.rand(1, 3, 6, 5)
    for sampler, steps in (("ddpm", None), ("ddim", 12)):
        new = _run(superres_x2, tiny_nca, PAPER, img, sampler=sampler, steps=steps)
        kw = {} if sampler == "ddpm" else {"steps": steps}
        ref_fn = ddpm_sample if sampler == "ddpm" else ddim_sample
        from nca_zoo.diffusion.sampling import superres_grid
        up01, new_px = superres_grid(img)
        up = up01 * 2 - 1
        t0 = round(0.9 * 299)
        torch.manual_seed(5)
        g = torch.Generator().manual_seed(2)
        x = torch.where(new_px > 0, PAPER.q_sample(up, torch.tensor([t0]),
                                                   torch.randn(up.shape, generator=g)), up)
        ref = ref_fn(tiny_nca, PAPER, x, t_start=t0, region=new_px, generator=g,
                     on_step=lambda x, t: torch.where(new_px > 0, 0.98 * x + 0.02 * up, up), **kw)
        ref = torch.where(new_px > 0, ((ref + 1) / 2).clamp(0, 1), up01)
        torch.testing.assert_close(new, ref, rtol=0, atol=1e-3)


def test_bad_sampler_names_and_eta():
    with pytest.raises(ValueError, match="unknown sampler 'plms'; choose one of ddpm, ddim, "):
        check_sampler("plms")
    x = torch.randn(1, 3, 4, 4)
    with pytest.raises(ValueError, match="eta applies to the ddim sampler only"):
        denoise(torch.nn.Identity(), PAPER, x, "euler", eta=0.5)
    with pytest.raises(ValueError, match="unknown sampler"):
        DiffusionTask("diff_nca", {"channels": 10, "hidden": 16, "steps": 2},
                      sampling={"sampler": "nope"})
