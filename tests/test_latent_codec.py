"""The latent-seeded NCA codec: entropy model, exact coding, ``.nca`` version 5, fitting."""
import struct
import subprocess
import sys
import zlib

import numpy as np
import pytest
import torch

from nca_zoo.compression import latent_prior
from nca_zoo.compression.latent_entropy import (
    MAX_MAGNITUDE,
    decode_grids,
    encode_grids,
    fit_ratio,
    frequencies,
    laplace_bits,
    table_bits,
)
from nca_zoo.compression.nca_file import DecodeLimits, NCAFormatError, decode, decode_image
from nca_zoo.compression.nca_file_latent import decode_latent, encode_latent, fixed_bytes
from nca_zoo.models.latent_nca import LatentNCA, latent_shapes


def trained_like_rule(seed: int = 0, **kwargs) -> LatentNCA:
    """A rule with every weight off its init (w2 is zero-initialised)."""
    torch.manual_seed(seed)
    rule = LatentNCA(**kwargs)
    with torch.no_grad():
        rule.cell.w2.normal_(0, 0.05)
    return rule.eval()


def saved_rule(rule: LatentNCA, folder) -> str:
    import nca_zoo

    nca_zoo.save_pretrained(rule, folder, "latent_nca", {k: getattr(rule, k) for k in
                                                         ("levels", "channels", "hidden", "steps")})
    return str(folder)


def sparse_latents(rule: LatentNCA, h: int, w: int, seed: int = 0) -> list:
    g = torch.Generator().manual_seed(seed)
    return [(torch.randint(-6, 7, (hh, ww), generator=g) * (torch.rand(hh, ww, generator=g) < 0.3))
            for hh, ww in rule.latent_shapes(h, w)]


# ------------------------------------------------------------------ entropy model
@pytest.mark.parametrize("scale", [0.3, 1.0, 4.0])
def test_laplace_bits_is_the_bin_probability(scale):
    y = torch.tensor([-4.0, -2.3, -0.5, -0.2, 0.0, 0.4, 0.5, 1.0, 3.7, 5.0], dtype=torch.float64)
    dist = torch.distributions.Laplace(0.0, scale)  # p >= 1e-7 here: above the 1e-9 floor
    expected = -torch.log2(dist.cdf(y + 0.5) - dist.cdf(y - 0.5)).sum()
    got = laplace_bits(y, torch.tensor(scale, dtype=torch.float64).log())
    assert torch.allclose(got, expected, rtol=1e-4)


def test_laplace_bits_has_finite_gradients_in_the_tails():
    y = torch.tensor([0.0, 0.49, 0.51, 40.0, -300.0], requires_grad=True)
    s = torch.tensor(-2.0, requires_grad=True)
    laplace_bits(y, s).backward()
    assert torch.isfinite(y.grad).all() and torch.isfinite(s.grad)


def test_frequencies_are_integers_symmetric_and_decreasing():
    f = frequencies(40000, 20)
    assert f.dtype == np.int64 and f.size == 41 and (f >= 1).all()
    assert (f == f[::-1]).all() and (np.diff(f[20:]) <= 0).all()
    assert frequencies(1, 3).tolist() == [1, 1, 1 << 14, 1 << 30, 1 << 14, 1, 1]
    with pytest.raises(ValueError):
        frequencies(0, 3)
    with pytest.raises(ValueError):
        frequencies(100, MAX_MAGNITUDE + 1)


def test_fit_ratio_is_no_worse_than_its_neighbours():
    rng = np.random.default_rng(0)
    y = np.round(rng.laplace(0, 2.0, 5000)).astype(np.int64)
    k = int(np.abs(y).max())
    code = fit_ratio(y)
    best = table_bits(y, code, k)
    for other in (int(code * 0.9), int(code * 1.05)):
        assert best <= table_bits(y, other, k)
    entropy = -sum(c * np.log2(c / y.size) for c in np.unique(y, return_counts=True)[1])
    assert best < 1.03 * entropy  # a Laplace fits Laplace data within 3 % of the empirical entropy


def test_grids_round_trip_and_cost_about_their_ideal_length():
    rng = np.random.default_rng(1)
    grids = [np.round(rng.laplace(0, b, s)).astype(np.int64)
             for b, s in ((0.2, (32, 40)), (1.5, (16, 20)), (6.0, (8, 10)), (0.0, (4, 5)))]
    params, stream = encode_grids(grids)
    assert params[-1][0] == 0  # an all-zero grid: K = 0, one symbol, no bits
    back = decode_grids(stream, [g.shape for g in grids], params)
    assert all((a == b).all() for a, b in zip(grids, back))
    ideal = sum(table_bits(g, r, k) for g, (k, r) in zip(grids, params))
    assert len(stream) * 8 <= ideal + 64


def test_corrupted_grid_stream_is_an_error_not_garbage():
    grids = [np.arange(-5, 5).reshape(2, 5)]
    params, stream = encode_grids(grids)
    with pytest.raises(ValueError):
        decode_grids(stream + b"\x01\x02\x03\x04", [(2, 5)], params)
    with pytest.raises(ValueError):
        decode_grids(stream[:-1], [(2, 5)], params)


# ------------------------------------------------------------------ .nca version 5
@pytest.mark.parametrize("h,w", [(33, 50), (64, 64), (1, 7)])
def test_file_with_rule_round_trips(h, w):
    rule = trained_like_rule()
    latents = sparse_latents(rule, h, w)
    data = encode_latent(latents, h, w, rule, rule_in_file=True)
    f = decode(data)
    assert (f.height, f.width, f.version, f.rule_in_file) == (h, w, 5, True)
    assert all((a == b.numpy()).all() for a, b in zip(f.latents, latents))
    ys = [y.float()[None, None] for y in latents]
    with torch.no_grad():
        direct = rule(ys, h, w)[0].clamp(0, 1).mul(255).round().byte().permute(1, 2, 0).numpy()
    # the file's rule is the 8-bit round trip of this one: the images agree closely
    assert np.abs(decode_image(f).astype(int) - direct).mean() < 2.0
    assert len(data) < fixed_bytes(rule, True) + sum(y.numel() for y in latents)


def test_file_naming_a_shipped_rule(monkeypatch):
    rule = trained_like_rule(seed=3)
    monkeypatch.setattr(latent_prior, "_shipped_ids", lambda: {latent_prior.rule_id(rule): "x"})
    monkeypatch.setattr(latent_prior, "load_rule", lambda name: rule)
    latents = sparse_latents(rule, 20, 24)
    data = encode_latent(latents, 20, 24, rule)
    assert len(data) == fixed_bytes(rule, False) + len(encode_grids(
        [y.numpy() for y in latents])[1])
    f = decode(data)
    assert not f.rule_in_file
    assert latent_prior.rule_id(f.rule) == latent_prior.rule_id(rule)
    with torch.no_grad():
        direct = rule([y.float()[None, None] for y in latents], 20, 24)[0]
    assert (decode_image(f) == direct.clamp(0, 1).mul(255).round().byte().permute(1, 2, 0)
            .numpy()).all()


def test_file_naming_an_unknown_rule_says_so(monkeypatch):
    rule = trained_like_rule(seed=4)
    data = encode_latent(sparse_latents(rule, 8, 8), 8, 8, rule)
    monkeypatch.setattr(latent_prior, "_LOADED", {})  # as in a process that never saw the rule
    with pytest.raises(NCAFormatError, match="does not ship.*--shipped-rule"):
        decode(data)


def test_rule_ids_differ_when_weights_differ():
    a, b = trained_like_rule(seed=0), trained_like_rule(seed=0)
    assert latent_prior.rule_id(a) == latent_prior.rule_id(b)
    with torch.no_grad():
        b.gain[0] += 1e-6
    assert latent_prior.rule_id(a) != latent_prior.rule_id(b)


def _with_crc(body: bytes) -> bytes:
    return body + struct.pack("<I", zlib.crc32(body))


def test_every_corruption_is_a_one_line_error():
    rule = trained_like_rule()
    data = encode_latent(sparse_latents(rule, 24, 24), 24, 24, rule, rule_in_file=True)
    cases = [data[:10], data[:-1], data[:20] + bytes([data[20] ^ 0xFF]) + data[21:],
             _with_crc(data[:-4] + b"\x00\x00\x00\x00"),  # a word after the stream
             _with_crc(data[:13] + b"\x03" + data[14:-4]),  # unknown flag
             _with_crc(data[:14] + struct.pack("<I", 10**6) + data[18:-4]),  # rule past the end
             _with_crc(data[:-8])]  # stream cut short
    for bad in cases:
        with pytest.raises(NCAFormatError) as err:
            decode_image(decode(bad))
        assert "\n" not in str(err.value)


def test_limits_are_checked_before_anything_is_allocated():
    rule = trained_like_rule()
    header = struct.pack("<4sBHHBBBBB", b"GNCA", 5, 65535, 65535, 6, 8, 16, 255, 1)
    bad = _with_crc(header + b"\x00" * 12)
    with pytest.raises(NCAFormatError, match="limit on pixels to grow: 4,294,836,225"):
        decode(bad)
    small = encode_latent(sparse_latents(rule, 40, 40), 40, 40, rule, rule_in_file=True)
    with pytest.raises(NCAFormatError, match="limit on pixels to grow: 1,600 > 1,000"):
        decode(small, DecodeLimits(max_pixels=1000))
    assert decode(small, None).height == 40


DECODE = """
import hashlib, sys, torch
torch.set_num_threads(int(sys.argv[2]))
from nca_zoo.compression.nca_file import decode, decode_image
data = open(sys.argv[1], "rb").read()
print(hashlib.sha256(decode_image(decode(data)).tobytes()).hexdigest())
"""


@pytest.mark.parametrize("rule_in_file", [True, False])
def test_decoding_is_bit_exact_across_processes_and_thread_counts(tmp_path, rule_in_file):
    """A fresh process finds the shipped rule a file names, and every decode is identical."""
    rule = trained_like_rule(seed=5) if rule_in_file else latent_prior.load_rule()
    path = tmp_path / "x.nca"
    path.write_bytes(encode_latent(sparse_latents(rule, 96, 80, seed=2), 96, 80, rule,
                                   rule_in_file=rule_in_file))
    digests = {subprocess.run([sys.executable, "-c", DECODE, str(path), str(n)], check=True,
                              capture_output=True, text=True).stdout.strip() for n in (1, 2, 1)}
    assert len(digests) == 1


# ------------------------------------------------------------------ fitting
def test_fit_with_the_rule_learns():
    from nca_zoo.data.image_batch import ImageBatchDataModule
    from nca_zoo.drivers.latent_compress import fit_latents

    dm = ImageBatchDataModule("embedded:astronaut", size=32)
    task = fit_latents(dm, lam=1e-3, iterations=150, rule=trained_like_rule(seed=1),
                       fit_rule=True)
    latents = [y[0, 0] for y in task.integer_latents()]
    f = decode_latent(encode_latent(latents, 32, 32, task.rule, rule_in_file=True))
    image = dm.originals[0].astype(float)
    flat = ((image - image.mean((0, 1))) ** 2).mean()  # the best single-colour image
    mse = ((decode_image(f).astype(float) - image) ** 2).mean()
    assert 10 * np.log10(flat / mse) > 4.0


@pytest.mark.parametrize("bpp", [0.5, 1.2])
def test_rate_control_meets_its_target_with_the_shipped_rule(tmp_path, bpp):
    from PIL import Image

    from nca_zoo.data.images import skimage_photo
    from nca_zoo.drivers.latent_compress import compress_latent

    photo = tmp_path / "astronaut.png"
    Image.fromarray(skimage_photo("astronaut")[100:164, 180:244]).save(photo)
    data, task, dm = compress_latent(str(photo), bpp=bpp, iterations=500, fit_rule=False)
    assert bpp * 0.85 <= len(data) * 8 / 64**2 <= bpp * 1.15
    image = dm.originals[0].astype(float)
    flat = ((image - image.mean((0, 1))) ** 2).mean()
    mse = ((decode_image(decode(data)).astype(float) - image) ** 2).mean()
    assert 10 * np.log10(flat / mse) > 6.0


def test_dead_zone_trims_the_rate_and_never_flips_signs():
    from nca_zoo.drivers.latent_compress import deadzone_round

    y = torch.tensor([-2.7, -1.2, -0.6, -0.4, 0.0, 0.3, 0.5, 0.99, 1.5, 3.49])
    assert deadzone_round(y, 0.5).tolist() == [-3, -1, -1, -0, 0, 0, 1, 1, 2, 3]
    assert deadzone_round(y, 1.0).tolist() == [-2, -1, -0, -0, 0, 0, 0, 0, 1, 3]
    assert (deadzone_round(y, 2.0) * y >= 0).all()
    assert deadzone_round(y, 2.0).abs().sum() < deadzone_round(y, 1.0).abs().sum()


def test_latent_shapes_cover_the_image():
    assert latent_shapes(100, 130, 3) == [(100, 130), (50, 65), (25, 33)]
    with pytest.raises(ValueError):
        latent_shapes(0, 4, 2)


# ------------------------------------------------------------------ command line
def test_compress_latent_then_decompress(tmp_path, capsys):
    from PIL import Image

    from nca_zoo import compress, decompress
    from nca_zoo.cli import run_cli

    photo = tmp_path / "photo.png"
    Image.fromarray(np.random.default_rng(0).integers(0, 256, (24, 20, 3), np.uint8)).save(photo)
    rule = saved_rule(trained_like_rule(seed=6), tmp_path / "rule")
    nca, png = tmp_path / "x.nca", tmp_path / "x.png"
    argv = [str(photo), "-o", str(nca), "--codec", "latent", "--rule", str(rule),
            "--lambda", "0.01", "--iterations", "20", "--quiet"]
    assert run_cli(compress.main, argv) == 0
    first = nca.read_bytes()
    assert first[4] == 5 and first[13] == 1  # version 5, rule in the file
    assert run_cli(compress.main, argv) == 0
    assert nca.read_bytes() == first  # same image + seed -> byte-identical file
    assert run_cli(decompress.main, [str(nca), "-o", str(png)]) == 0
    assert Image.open(png).size == (20, 24)
    capsys.readouterr()
    assert run_cli(compress.main, [str(photo), "-o", str(nca), "--codec", "gnca", "--bpp",
                                   "1"]) == 2
    assert "--bpp needs --codec latent" in capsys.readouterr().err
