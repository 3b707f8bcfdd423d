"""LNCA (Menta et al. 2024, §3.1): an NCA that restores images inside an autoencoder's latent space.

* :class:`LNCAAutoencoder` -- §3.1.1 / Fig. 1: "adjusted convolution" blocks (3x3 conv without
  activation -> BatchNorm -> swish; sigmoid on the output layer), an encoder side channel and a skip
  connection; latent = 16 channels at H/4 x W/4 (the authors' ``AutoEncoderDown2``).
* :class:`LatentNCA` -- encoder -> NCA rollout on ``[latent | output | hidden]`` -> decoder(output
  channels, skip).  ``steps=0`` is the switch *S* of Fig. 1 that bypasses the NCA (phase 1).
  Variants LatentViTCA (ViTCA cell) and LatentNAFCA (NAFCA cell).  ``readout="residual"`` (an
  option of this library, not the paper) adds the decoded *change* of the latent to the input
  instead of decoding the image outright.
* :class:`PixelViTCA` -- the paper's pixel-space NCA baseline: state ``[image | output | hidden]``.

Registered: ``lnca_vitca``, ``lnca_nafca``, ``vitca``.
"""
from __future__ import annotations

from typing import Optional

import torch
from torch import Tensor, nn

from .._registry import register_model
from ..automaton import Automaton, Steps
from ..cells.nafca import NAFCACell
from ..cells.vitca import ViTCACell
from ..layers import RGB_CHANNELS, check_images

#: The LNCA latent is ``H / 4 x W / 4``: two stride-2 convolutions (§3.1.1); image sides must be
#: multiples of it.
LATENT_DOWNSCALE = 4
#: Channels of the LNCA latent (the NCA's fixed input and its decoded output): 16 in the paper.
#: Phase 1's equivalence step (Eq. 6) teaches the decoder to take the latent over the skip where
#: the two disagree, so what the latent holds bounds a denoised read-out: ``latent_channels=32``
#: lifts the oracle ``D(z_clean, skip_noisy)`` (``benchmarks/lnca/lnca_autoencoder_ceiling.py``).
LATENT_CHANNELS = 16
#: Width (channels at H/2) of the LNCA autoencoder: 8 in the authors' ``AutoEncoderDown2``.  The
#: encoder's H/2 skip has this many channels, so it bounds what reaches the decoder besides the
#: latent; ``ae_width=32`` lifts a clean photo's reconstruction (the ceiling of every LNCA
#: restorer, ``benchmarks/lnca/lnca_autoencoder_ceiling.py``).
AE_WIDTH = 8
#: AdjConv blocks at H/2 on each side of the LNCA autoencoder: 1 in the authors'
#: ``AutoEncoderDown2`` (the decoder's ``mix``; none in the encoder).  ``ae_depth=d`` adds
#: ``d - 1`` residual blocks to the encoder before the latent and to the decoder after ``mix``:
#: capacity to write and read the latent, at H/2 where the NCA does not run
#: (``benchmarks/lnca/lnca_autoencoder_ceiling.py``).
AE_DEPTH = 1
#: How the restored image is read out of the NCA's output latent (see :meth:`LatentNCA.read_out`)
READOUTS = ("decode", "residual")



class AdjConv(nn.Sequential):
    """Adjusted convolution (§3.1.1): 3x3 conv (no activation) -> BatchNorm -> swish (or sigmoid).

    ``transpose=True`` is the decoder's transposed version (stride 2 doubles the size exactly).
    """

    def __init__(self, cin: int, cout: int, stride: int = 1, transpose: bool = False,
                 activation: str = "swish") -> None:
        if transpose:
            conv = nn.ConvTranspose2d(cin, cout, 3, stride, padding=1, output_padding=stride - 1)
        else:
            conv = nn.Conv2d(cin, cout, 3, stride, padding=1)
        act = nn.SiLU() if activation == "swish" else nn.Sigmoid()
        super().__init__(conv, nn.BatchNorm2d(cout), act)


class ResidualBlocks(nn.Sequential):
    """``n`` 3x3 :class:`AdjConv` blocks of ``width`` channels, each added to its input."""

    def __init__(self, width: int, n: int) -> None:
        super().__init__(*(AdjConv(width, width, 1) for _ in range(n)))

    def forward(self, h: Tensor) -> Tensor:
        """``h + block(h)`` for each block in turn (``h`` unchanged when there are none)."""
        for block in self:
            h = h + block(h)
        return h


class LNCAAutoencoder(nn.Module):
    """The LNCA autoencoder (§3.1.1, Fig. 1); latent ``(latent_channels, H/4, W/4)``.

    Encoder: ``skip = A(x)`` (H/2), side channel ``s = A'(x)`` (H/2), ``z = A(skip + s)`` (H/4).
    Decoder: ``u = AT(z) + skip`` (H/2), ``m = A(u)``, ``out = AT_sigmoid(m)`` (H).
    ``depth > 1`` (:data:`AE_DEPTH`) inserts ``depth - 1`` :class:`ResidualBlocks` before ``z``'s
    convolution and after ``m``; ``depth=1`` is the paper's network, with its parameter names.
    """

    def __init__(self, in_channels: int = RGB_CHANNELS, width: int = 8,
                 latent_channels: int = LATENT_CHANNELS, depth: int = AE_DEPTH) -> None:
        super().__init__()
        if depth < 1:
            raise ValueError(f"ae_depth must be at least 1 (the paper's autoencoder), got {depth}")
        self.latent_channels = latent_channels
        self.down = LATENT_DOWNSCALE
        self.conv1 = AdjConv(in_channels, width, 2)
        self.side = AdjConv(in_channels, width, 2)
        self.encoder_blocks = ResidualBlocks(width, depth - 1)
        self.to_latent = AdjConv(width, latent_channels, 2)
        self.up = AdjConv(latent_channels, width, 2, transpose=True)
        self.mix = AdjConv(width, width, 1)
        self.decoder_blocks = ResidualBlocks(width, depth - 1)
        self.out = AdjConv(width, in_channels, 2, transpose=True, activation="sigmoid")

    def encoder_modules(self) -> nn.ModuleList:
        """The layers :meth:`encode` runs: the skip, the side channel and the latent."""
        return nn.ModuleList([self.conv1, self.side, self.encoder_blocks, self.to_latent])

    def decoder_modules(self) -> nn.ModuleList:
        """The layers :meth:`decode` runs: latent and skip back to the image."""
        return nn.ModuleList([self.up, self.mix, self.decoder_blocks, self.out])

    @classmethod
    def from_state_dict(cls, state: dict) -> "LNCAAutoencoder":
        """The autoencoder of a saved ``state_dict`` (phase 1's ``phase1_autoencoder.pt``).

        Its input channels, width, latent channels and depth are read from the weights' shapes.
        """
        if not isinstance(state, dict):
            raise ValueError(f"not an LNCA autoencoder state_dict: a {type(state).__name__}")
        try:
            out_channels, in_channels = state["conv1.0.weight"].shape[:2]
            latent_channels = state["to_latent.0.weight"].shape[0]
        except KeyError as err:
            raise ValueError(f"not an LNCA autoencoder state_dict: no {err.args[0]}") from None
        blocks = {k.split(".")[1] for k in state if k.startswith("encoder_blocks.")}
        ae = cls(in_channels, out_channels, latent_channels, depth=len(blocks) + 1)
        try:
            ae.load_state_dict(state)
        except RuntimeError as err:
            raise ValueError("not an LNCA autoencoder state_dict: "
                             f"{str(err).splitlines()[0]}") from None
        return ae

    def encode(self, x: Tensor) -> tuple[Tensor, Tensor]:
        """``x`` -> ``(skip, latent)``."""
        check_images(x, self.down)
        skip = self.conv1(x)
        return skip, self.to_latent(self.encoder_blocks(skip + self.side(x)))

    def decode(self, latent: Tensor, skip: Tensor) -> Tensor:
        """``(latent, skip)`` from :meth:`encode` -> image ``(B, 3, H, W)`` in (0, 1) (sigmoid)."""
        return self.out(self.decoder_blocks(self.mix(self.up(latent) + skip)))

    def forward(self, x: Tensor) -> Tensor:
        """``(B, 3, H, W)`` -> ``(B, 3, H, W)``: encode then decode (H, W multiples of 4)."""
        skip, z = self.encode(x)
        return self.decode(z, skip)


class InputOutputNCA(nn.Module):
    """An NCA whose state is ``[fixed input | output | hidden]``.

    ViTCA's layout, also used by LNCA.  The input channels are never written
    (``fixed_channels``); the seed is output 0.5 (gray) and hidden 0 (ViTCA's
    ``cell_init='constant'``).
    """

    def __init__(self, cell: nn.Module, steps: Steps, eval_steps: int, update_rate: float,
                 checkpoint_every: int) -> None:
        super().__init__()
        self.automaton = Automaton(cell, steps=list(steps) if not isinstance(steps, int) else steps,
                                   eval_steps=eval_steps, update_rate=update_rate,
                                   fixed_channels=cell.in_channels,
                                   checkpoint_every=checkpoint_every)

    @property
    def cell(self) -> nn.Module:
        """The NCA cell (registered once, inside the automaton)."""
        return self.automaton.cell

    def seed(self, fixed: Tensor) -> Tensor:
        """``[fixed | 0.5 | 0]``."""
        b, _, h, w = fixed.shape
        return torch.cat([fixed, fixed.new_full((b, self.cell.out_channels, h, w), 0.5),
                          fixed.new_zeros((b, self.cell.hidden_channels, h, w))], 1)

    def output(self, state: Tensor) -> Tensor:
        """The output channels of ``state``: ``(B, out_channels, H, W)``."""
        k = self.cell.in_channels
        return state[:, k : k + self.cell.out_channels]

    def hidden(self, state: Tensor) -> Tensor:
        """The hidden channels of ``state``: ``(B, hidden_channels, H, W)``."""
        return state[:, self.cell.in_channels + self.cell.out_channels :]


class LatentNCA(InputOutputNCA):
    """LNCA: autoencoder + NCA in its latent (§3.1, Fig. 1).

    Args:
        cell: ViTCA or NAFCA cell with ``in_channels == latent_channels``.
        autoencoder: the LNCA autoencoder (built with defaults if None).
        steps: training steps, int or ``[low, high]`` (paper: 8-32).
        eval_steps: steps in evaluation (paper: 64).
        update_rate: probability a latent cell updates per step (authors' phase 2: 1.0).
        checkpoint_every: checkpointed BPTT segment length (0 = plain BPTT).
        readout: ``"decode"`` (the paper, Fig. 1: the image is ``D(output, skip)``) or
            ``"residual"`` (``x + D(output, skip) - D(z, skip)``: the input plus the decoded change
            the NCA made to its latent, so the autoencoder's own reconstruction error cancels).
    """

    def __init__(self, cell: nn.Module, autoencoder: Optional[LNCAAutoencoder] = None,
                 steps: Steps = (8, 32), eval_steps: int = 64, update_rate: float = 1.0,
                 checkpoint_every: int = 0, readout: str = "decode") -> None:
        super().__init__(cell, steps, eval_steps, update_rate, checkpoint_every)
        if readout not in READOUTS:
            raise ValueError(f"readout must be one of {READOUTS}, got {readout!r}")
        self.readout = readout
        self.autoencoder = autoencoder or LNCAAutoencoder(latent_channels=cell.in_channels)
        if cell.in_channels != self.autoencoder.latent_channels:
            raise ValueError(f"cell in_channels {cell.in_channels} != latent channels "
                             f"{self.autoencoder.latent_channels}")
        if cell.out_channels != cell.in_channels:
            raise ValueError("the NCA's output channels are decoded: "
                             "out_channels must equal in_channels")

    def forward(self, x: Tensor, steps: Optional[Steps] = None) -> Tensor:
        """Restore ``x``: ``(B, 3, H, W)`` in [0, 1] -> ``(B, 3, H, W)``.

        ``steps=0`` bypasses the NCA (plain autoencoder).
        """
        skip, z = self.autoencoder.encode(x)
        if steps == 0:
            return self.autoencoder.decode(z, skip)
        state = self.automaton(self.seed(z), steps)
        return self.read_out(x, state, skip)

    def seed(self, fixed: Tensor) -> Tensor:
        """``[z | 0.5 | 0]`` (Fig. 1); with the residual read-out ``[z | z | 0]``.

        Starting the output from the input latent makes "change nothing" the identity, so the NCA
        learns a correction instead of writing the whole latent from gray.
        """
        state = super().seed(fixed)
        if self.readout == "residual":
            k = self.cell.in_channels
            state = torch.cat([fixed, fixed, state[:, 2 * k:]], 1)
        return state

    def read_out(self, x: Tensor, state: Tensor, skip: Tensor) -> Tensor:
        """The restored image of a rolled-out ``state`` for input ``x`` (its encoder ``skip``).

        ``"decode"``: ``D(output, skip)`` (Fig. 1).  ``"residual"``: ``x + D(output, skip) -
        D(z, skip)``, with ``z`` the input latent held in the state's fixed channels; an NCA that
        leaves the latent unchanged returns ``x`` exactly.
        """
        restored = self.autoencoder.decode(self.output(state), skip)
        if self.readout == "residual":
            z = state[:, : self.cell.in_channels]
            restored = x + restored - self.autoencoder.decode(z, skip)
        return restored


class PixelViTCA(InputOutputNCA):
    """Pixel-space ViTCA (the paper's NCA baseline): state ``[image | output | hidden]``.

    Seed: output 0.5 (gray), hidden 0 (``cell_init='constant'``); the image channels are fixed.
    """

    def __init__(self, cell: ViTCACell, steps: Steps = (8, 32), eval_steps: int = 64,
                 update_rate: float = 0.5, checkpoint_every: int = 0) -> None:
        super().__init__(cell, steps, eval_steps, update_rate, checkpoint_every)

    def seed(self, x: Tensor) -> Tensor:
        """``[x | 0.5 | 0]`` for an image batch ``x`` ``(B, 3, H, W)`` (checked first)."""
        check_images(x)
        return super().seed(x)

    def forward(self, x: Tensor, steps: Optional[Steps] = None) -> Tensor:
        """Restore ``x``: the output channels after the rollout (not clamped)."""
        return self.output(self.automaton(self.seed(x), steps))


_NCA_KEYS = ("steps", "eval_steps", "update_rate", "checkpoint_every", "readout")


def _split(kwargs: dict) -> tuple[dict, dict]:
    nca = {k: kwargs.pop(k) for k in _NCA_KEYS if k in kwargs}
    return nca, kwargs


def _latent_cell(cell_cls: type, latent_channels: int, cell_kw: dict) -> nn.Module:
    """``cell_cls`` reading and writing a latent of ``latent_channels``, 32 hidden channels."""
    return cell_cls(**{"in_channels": latent_channels, "out_channels": latent_channels,
                       "hidden_channels": 32, **cell_kw})


def _latent_nca(cell: nn.Module, nca: dict, ae_width: int, ae_depth: int) -> LatentNCA:
    """A :class:`LatentNCA` on ``cell``; its autoencoder is ``ae_width`` wide, ``ae_depth`` deep."""
    return LatentNCA(cell, LNCAAutoencoder(width=ae_width, latent_channels=cell.in_channels,
                                           depth=ae_depth), **nca)


@register_model(num_params=92_515, family="restoration",
                tiny=dict(embed_dim=16, mlp_dim=8, steps=[2, 2], eval_steps=2))
def vitca(**kwargs) -> PixelViTCA:
    """Pixel ViTCA: depth 1, 4 heads, embed 128, MLP 64, 32 hidden.

    update_rate 0.5; 8-32 / 64 steps.
    """
    nca, cell_kw = _split(kwargs)
    if nca.pop("readout", "decode") != "decode":
        raise ValueError("readout is an LNCA option: pixel ViTCA reads its output channels")
    return PixelViTCA(ViTCACell(**{"in_channels": RGB_CHANNELS, "out_channels": RGB_CHANNELS,
                                   "hidden_channels": 32,
                                   **cell_kw}), **nca)


@register_model(num_params=101_201, family="restoration",
                tiny=dict(embed_dim=16, mlp_dim=8, steps=[2, 2], eval_steps=2))
def lnca_vitca(ae_width: int = AE_WIDTH, latent_channels: int = LATENT_CHANNELS,
               ae_depth: int = AE_DEPTH, **kwargs) -> LatentNCA:
    """LatentViTCA: ViTCA (depth 1, 4 heads, embed 128, MLP 64) on the 16-channel latent.

    32 hidden channels; ``ae_width`` / ``latent_channels`` / ``ae_depth``: the autoencoder's width,
    latent channels and depth (see :data:`AE_WIDTH`, :data:`LATENT_CHANNELS`, :data:`AE_DEPTH`).
    """
    nca, cell_kw = _split(kwargs)
    return _latent_nca(_latent_cell(ViTCACell, latent_channels, cell_kw), nca, ae_width, ae_depth)


@register_model(num_params=50_450, family="restoration",
                tiny=dict(embed_dim=16, steps=[2, 2], eval_steps=2))
def lnca_nafca(ae_width: int = AE_WIDTH, latent_channels: int = LATENT_CHANNELS,
               ae_depth: int = AE_DEPTH, **kwargs) -> LatentNCA:
    """LatentNAFCA: NAFCA (embed 128, FFN x4, dropout 0.1) on the 16-channel latent, 32 hidden.

    ``ae_width`` / ``latent_channels`` / ``ae_depth``: the autoencoder's width, latent channels and
    depth (see :data:`AE_WIDTH`, :data:`LATENT_CHANNELS`, :data:`AE_DEPTH`).
    """
    nca, cell_kw = _split(kwargs)
    return _latent_nca(_latent_cell(NAFCACell, latent_channels, cell_kw), nca, ae_width, ae_depth)
