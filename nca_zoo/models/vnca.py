"""VNCA: the variational NCA of Palm et al. (2022), the Diff-NCA paper's third baseline (Table 2).

A VAE whose decoder is an NCA (Palm et al. §3, "Doubling CelebA": official code
``rasmusbergpalm/vnca`` at revision 641588a, the CelebA-specific implementation the Diff-NCA paper
uses, App. E.2):

* **encoder** q(z|x), a diagonal Gaussian: 5x5 convs with ELU, widths ``e, 2e, 4e, 8e, 16e``
  (the last four with stride 2, so 64 px -> 4 px), flatten, linear to ``2 z`` (location and log
  standard deviation).  Images enter on [-1, 1], as in the official code;
* **prior** p(z) = N(0, I);
* **decoder**: z is broadcast to every cell of a 2x2 grid and the NCA rule
  (:class:`~nca_zoo.cells.vnca.VNCACell`, every channel is latent) runs ``steps`` steps; then
  ``doublings`` times each cell divides into 2x2 copies (``repeat_interleave`` x2 along H and W)
  and ``steps`` more steps run: 2 * 2**doublings pixels a side (8 steps, 5 doublings: 64x64 after
  48 steps).  Every cell updates at every step (``p_update = 1.0``) and BPTT is checkpointed every
  step, both as in the official code; the rollouts are the shared :class:`~nca_zoo.Automaton`'s;
* **likelihood** p(x|z): the first ``10 * n_mix`` channels of the final state parameterise a
  discretised mixture of logistics (:mod:`nca_zoo.layers.dml`, one component in the official
  code).

**Parameter count.** The official CelebA configuration -- ``z = 256``, update width 256, 4
residual blocks, encoder width ``e = 32``, 64x64 images -- has 8,550,208 encoder and 1,182,208
update-network parameters: 9,732,416, the Diff-NCA paper's Table 2 figure exactly (the number of
mixture components adds none: they are read from the latent channels).  The repository's later
non-doubling CelebA code (z = 128, width 128, no residual blocks) has 6.6M and is not it.
"""
from __future__ import annotations

import math
from typing import NamedTuple, Optional

import torch
from torch import Tensor, nn
from torch.distributions import Normal

from .._registry import register_model
from ..automaton import Automaton
from ..cells.vnca import VNCACell
from ..layers import RGB_CHANNELS, check_images
from ..layers.dml import DiscretizedLogisticMixture, dml_channels

#: Diff-NCA paper, Table 2: VNCA's parameter count
PAPER_PARAMS = 9_732_416
#: side of the NCA grid the latent is broadcast to, before any doubling
SEED_SIDE = 2
#: stride-2 convolutions of the encoder (image side / 16 at its output)
ENCODER_DOWNSCALE = 16


class ELBO(NamedTuple):
    """Batch means in nats per image: ``loss = recon + beta * kl``."""

    loss: Tensor
    recon: Tensor
    kl: Tensor


def encoder(image_size: int, width: int, z_size: int) -> nn.Sequential:
    """The official 5-conv ELU encoder to ``2 * z_size`` numbers (location, log std)."""
    widths = [RGB_CHANNELS] + [width * 2**i for i in range(5)]
    layers: list[nn.Module] = []
    for i, (a, b) in enumerate(zip(widths, widths[1:])):
        layers += [nn.Conv2d(a, b, 5, stride=1 if i == 0 else 2, padding=2), nn.ELU()]
    side = image_size // ENCODER_DOWNSCALE
    return nn.Sequential(*layers, nn.Flatten(), nn.Linear(widths[-1] * side * side, 2 * z_size))


class VNCA(nn.Module):
    """Variational NCA with a doubling NCA decoder; see the module docstring.

    Args:
        z_size: latent size = NCA state channels (256).
        hidden: width of the NCA update network (256).
        n_blocks: residual blocks of the update network (4).
        encoder_width: channels of the encoder's first conv (32; doubled at each of the 4 others).
        doublings: cell divisions; the image side is ``2 * 2**doublings`` (5: 64 px).
        steps: NCA steps before the first and after each doubling (8).
        n_mix: discretised-logistic mixture components (1).
        update_rate: probability that a cell updates at a step (1.0, the code's ``p_update``).
        checkpoint_every: checkpointed BPTT segment length (1: every step, as the official code;
            0 = plain BPTT).  Changes memory, never gradients.
    """

    def __init__(self, z_size: int = 256, hidden: int = 256, n_blocks: int = 4,
                 encoder_width: int = 32, doublings: int = 5, steps: int = 8, n_mix: int = 1,
                 update_rate: float = 1.0, checkpoint_every: int = 1) -> None:
        super().__init__()
        side = SEED_SIDE * 2**doublings
        if doublings < 0 or side % ENCODER_DOWNSCALE:
            raise ValueError(f"doublings must be >= 3 (the encoder halves the image 4 times), "
                             f"got {doublings}")
        if z_size < dml_channels(n_mix) or n_mix < 1:
            raise ValueError(f"z_size must be >= {dml_channels(n_mix)} (10 likelihood maps per "
                             f"mixture component), got z_size={z_size}, n_mix={n_mix}")
        if steps < 1 or encoder_width < 1:
            raise ValueError(f"steps and encoder_width must be >= 1, got {steps}, {encoder_width}")
        self.z_size, self.doublings, self.steps, self.n_mix = z_size, doublings, steps, n_mix
        self.image_size = side
        self.encoder = encoder(side, encoder_width, z_size)
        self.automaton = Automaton(VNCACell(z_size, hidden, n_blocks), steps=steps,
                                   update_rate=update_rate, checkpoint_every=checkpoint_every)

    @property
    def cell(self) -> VNCACell:
        """The NCA update rule."""
        return self.automaton.cell

    # ------------------------------------------------------------------ the three distributions
    def check_input(self, x: Tensor) -> None:
        """One-line ValueError unless ``x`` is a float RGB batch of the model's image size."""
        check_images(x)
        if tuple(x.shape[-2:]) != (self.image_size, self.image_size):
            raise ValueError(f"VNCA with {self.doublings} doublings takes "
                             f"{self.image_size}x{self.image_size} images, got "
                             f"{x.shape[-2]}x{x.shape[-1]}")

    def encode(self, x: Tensor) -> Normal:
        """q(z|x) for images ``x`` (B, 3, S, S) in [0, 1] (fed to the encoder on [-1, 1])."""
        self.check_input(x)
        loc, log_std = self.encoder(x * 2 - 1).float().chunk(2, dim=1)
        return Normal(loc, log_std.exp(), validate_args=False)  # no value check: no host sync

    def prior(self, like: Tensor) -> Normal:
        """p(z) = N(0, I), shaped like the latents ``like``."""
        return Normal(torch.zeros_like(like), torch.ones_like(like), validate_args=False)

    def decode(self, z: Tensor) -> Tensor:
        """The NCA's final state ``(B, z_size, S, S)`` grown from latents ``z`` (B, z_size)."""
        if z.dim() != 2 or z.shape[1] != self.z_size:
            raise ValueError(f"z must be (B, {self.z_size}), got {tuple(z.shape)}")
        state = z[:, :, None, None].expand(-1, -1, SEED_SIDE, SEED_SIDE)
        state, _ = self.automaton.rollout(state, self.steps)
        for i in range(self.doublings):
            state = state.repeat_interleave(2, dim=2).repeat_interleave(2, dim=3)  # cell division
            state, _ = self.automaton.rollout(state, self.steps, start_step=(i + 1) * self.steps)
        return state

    def likelihood(self, state: Tensor) -> DiscretizedLogisticMixture:
        """p(x|z) from a final state: its first ``10 * n_mix`` channels."""
        return DiscretizedLogisticMixture(state[:, :dml_channels(self.n_mix)], self.n_mix)

    # ------------------------------------------------------------------ objectives
    def _rsample(self, q: Normal, k: int, generator: Optional[torch.Generator]) -> Tensor:
        """``k`` reparameterised draws of q, ``(k, B, z)``; seeded when ``generator`` is given."""
        if generator is None:
            return q.rsample((k,))
        eps = torch.randn((k, *q.loc.shape), generator=generator, device=generator.device)
        return q.loc + q.scale * eps.to(q.loc.device)

    def elbo(self, x: Tensor, beta: float = 1.0,
             generator: Optional[torch.Generator] = None) -> ELBO:
        """Negative ELBO ``-E_q[log p(x|z)] + beta KL(q(z|x) || p(z))`` with one draw of z.

        ``beta = 1`` is the official objective (Palm et al. Eq. 1; their β = 100 runs use 100);
        the KL is analytic, the reconstruction term sums over pixels and colours.
        """
        q = self.encode(x)
        z = self._rsample(q, 1, generator)[0]
        recon = -self.likelihood(self.decode(z)).log_prob(x).sum((1, 2))
        kl = torch.distributions.kl_divergence(q, self.prior(q.loc)).sum(1)
        return ELBO((recon + beta * kl).mean(), recon.mean(), kl.mean())

    def iwae(self, x: Tensor, k: int = 1, generator: Optional[torch.Generator] = None) -> Tensor:
        """Importance-weighted bound on ``-log p(x)`` per image ``(B,)`` with ``k`` samples.

        ``k = 1`` is the ELBO; the official code evaluates with this bound.
        """
        if k < 1:
            raise ValueError(f"k must be >= 1, got {k}")
        q = self.encode(x)
        z = self._rsample(q, k, generator)                              # (k, B, z)
        b = x.shape[0]
        state = self.decode(z.reshape(k * b, -1))
        log_px = self.likelihood(state).log_prob(x.repeat(k, 1, 1, 1)).sum((1, 2)).view(k, b)
        log_w = log_px + self.prior(z).log_prob(z).sum(-1) - q.log_prob(z).sum(-1)
        return -(torch.logsumexp(log_w, 0) - math.log(k))

    def bits_per_dim(self, nats_per_image: Tensor) -> Tensor:
        """Nats per image -> bits per sub-pixel (the VNCA paper's unit)."""
        return nats_per_image / (math.log(2) * RGB_CHANNELS * self.image_size**2)

    # ------------------------------------------------------------------ images
    def forward(self, x: Tensor) -> Tensor:
        """Reconstruction of ``x`` (B, 3, S, S) in [0, 1]: the location of p(x|z), unclipped.

        z is drawn from q(z|x) in training mode and is its mean in eval mode.  Unclipped so that
        gradients reach every weight; :meth:`reconstruct` gives displayable images.
        """
        q = self.encode(x)
        z = q.rsample() if self.training else q.loc
        return self.likelihood(self.decode(z)).location(clip=False)

    @torch.no_grad()
    def reconstruct(self, x: Tensor) -> Tensor:
        """Images decoded from the mean of q(z|x), in [0, 1] (location of p(x|z))."""
        return self.likelihood(self.decode(self.encode(x).loc)).location()

    @torch.no_grad()
    def sample(self, n: int, generator: Optional[torch.Generator] = None,
               pixels: str = "sample") -> Tensor:
        """``n`` images ``(n, 3, S, S)`` in [0, 1] from the prior: z ~ N(0, I), then p(x|z).

        ``pixels="sample"`` draws every pixel from p(x|z), as the official code's samples do;
        ``"location"`` takes its location (no pixel noise).  ``generator`` (on any device) makes
        the draw reproducible; the decoder itself is deterministic at ``update_rate = 1``.
        """
        if n < 1:
            raise ValueError(f"n must be >= 1, got {n}")
        if pixels not in ("sample", "location"):
            raise ValueError(f"pixels must be 'sample' or 'location', got {pixels!r}")
        dev = next(self.parameters()).device
        z = torch.randn((n, self.z_size), generator=generator,
                        device=generator.device if generator is not None else dev).to(dev)
        p = self.likelihood(self.decode(z))
        return p.sample(generator) if pixels == "sample" else p.location()


@register_model(num_params=PAPER_PARAMS, family="vae",
                tiny=dict(z_size=12, hidden=16, n_blocks=1, encoder_width=4, doublings=3,
                          steps=2))
def vnca(**kwargs) -> VNCA:
    """VNCA, doubling CelebA 64x64 (Palm et al. 2022; Diff-NCA Table 2, 9,732,416 params)."""
    return VNCA(**kwargs)
