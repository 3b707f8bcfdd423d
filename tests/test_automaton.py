"""The shared Automaton: steps, update masks, alive mask, regions, checkpointed BPTT, pool."""
import pytest
import torch
from torch import nn

from nca_zoo.automaton import Automaton, normalize_gradients, sample_steps, validate_steps
from nca_zoo.cells.sobel_mlp import SobelMLPCell
from nca_zoo.tasks.pool import SamplePool


def random_cell(channels=6, hidden=8, models=1):
    cell = SobelMLPCell(channels, hidden, models)
    with torch.no_grad():
        cell.w2.normal_(0, 0.1)  # the zero init would make every rollout trivial
    return cell


def grads(automaton, state, steps, seed):
    automaton.zero_grad()
    torch.manual_seed(seed)
    out, step_loss = automaton.rollout(state, steps, step_loss=lambda s, t: s.square().mean())
    (out.square().mean() + step_loss).backward()
    return out.detach(), [p.grad.clone() for p in automaton.parameters()]


@pytest.mark.parametrize("update_rate", [1.0, 0.5])
@pytest.mark.parametrize("every", [1, 4, 7])
def test_checkpointed_bptt_gives_equal_gradients(update_rate, every):
    torch.manual_seed(0)
    plain = Automaton(random_cell(), steps=16, update_rate=update_rate)
    state = torch.rand(2, 6, 12, 12)
    out_plain, g_plain = grads(plain, state, 16, seed=123)
    plain.checkpoint_every = every
    out_ckpt, g_ckpt = grads(plain, state, 16, seed=123)
    assert torch.equal(out_plain, out_ckpt)
    for a, b in zip(g_plain, g_ckpt):
        assert a.abs().sum() > 0
        torch.testing.assert_close(a, b, rtol=1e-5, atol=1e-7)


def test_step_specification_and_sampling():
    assert validate_steps(5) == 5
    assert validate_steps((3, 9)) == [3, 9]
    for bad in (0, [5, 3], [1, 2, 3], [0, 4]):
        with pytest.raises(ValueError):
            validate_steps(bad)
    draws = {sample_steps([8, 10]) for _ in range(200)}
    assert draws == {8, 9, 10}


def test_eval_uses_eval_steps_and_counts_steps():
    calls = []

    class Counting(nn.Module):
        def forward(self, state, cond=None):
            calls.append(1)
            return torch.zeros_like(state)

    a = Automaton(Counting(), steps=[8, 32], eval_steps=64)
    a.eval()
    a(torch.zeros(1, 4, 5, 5))
    assert len(calls) == 64
    calls.clear()
    a.train()
    a(torch.zeros(1, 4, 5, 5))
    assert 8 <= len(calls) <= 32


def test_update_rate_fraction_and_fixed_channels():
    class Ones(nn.Module):
        def forward(self, state, cond=None):
            return torch.ones_like(state[:, 2:])

    a = Automaton(Ones(), steps=1, update_rate=0.3, fixed_channels=2)
    state = torch.zeros(4, 5, 64, 64)
    out = a(state)
    assert torch.equal(out[:, :2], state[:, :2])  # fixed channels never written
    changed = out[:, 2]
    assert 0.25 < changed.mean().item() < 0.35
    # the mask is per cell, shared across channels
    assert torch.equal(out[:, 2], out[:, 3]) and torch.equal(out[:, 3], out[:, 4])


def test_region_restricts_updates():
    class Ones(nn.Module):
        def forward(self, state, cond=None):
            return torch.ones_like(state)

    region = torch.zeros(1, 1, 8, 8)
    region[..., 2:5, 2:5] = 1
    out = Automaton(Ones(), steps=3)(torch.zeros(1, 2, 8, 8), region=region)
    assert torch.equal(out[0, 0], 3 * region[0, 0])


def test_alive_mask_keeps_far_cells_dead():
    torch.manual_seed(0)
    a = Automaton(random_cell(channels=6), steps=3, alive_channel=3)
    state = torch.zeros(1, 6, 16, 16)
    state[:, 3:, 8, 8] = 1.0
    out = a(state)
    # after 3 steps nothing can live further than 3 cells from the seed (plus the 3x3 pool)
    far = torch.ones(16, 16, dtype=torch.bool)
    far[8 - 4 : 8 + 5, 8 - 4 : 8 + 5] = False
    assert out[0][:, far].abs().max() == 0


def test_bad_arguments_are_clear():
    with pytest.raises(ValueError, match="update_rate"):
        Automaton(random_cell(), update_rate=0.0)
    with pytest.raises(ValueError, match="checkpoint_every"):
        Automaton(random_cell(), checkpoint_every=-1)


def test_normalize_gradients_per_model():
    cell = random_cell(models=3)
    for p in cell.parameters():
        p.grad = (torch.randn_like(p)
                  * torch.tensor([1.0, 10.0, 100.0]).reshape(3, *[1] * (p.dim() - 1)))
    normalize_gradients(cell, leading_dims=1)
    for p in cell.parameters():
        norms = p.grad.flatten(1).norm(dim=1)
        torch.testing.assert_close(norms, torch.ones(3), rtol=1e-5, atol=1e-5)
    normalize_gradients(cell)
    for p in cell.parameters():
        assert abs(p.grad.norm().item() - 1.0) < 1e-5


def test_pool_appends_until_full_then_replaces_and_is_saved():
    pool = SamplePool(8, {"state": (3, 4, 4), "target": (1,)})
    assert pool.sample(3) is None                       # nothing filled yet
    pool.write([torch.ones(6, 3, 4, 4), torch.zeros(6, 1)])
    assert len(pool) == 6 and pool.sample(7) is None
    idx = pool.sample(3)
    assert len(set(idx.tolist())) == 3 and int(idx.max()) < 6   # only filled slots
    state, target = pool.read(idx)
    pool.write([state + 6, target + 1], idx)            # written back in place
    assert len(pool) == 6 and float(pool.state.sum()) == 6 * 48 + 3 * 48 * 6
    pool.write([torch.full((4, 3, 4, 4), 2.0), torch.zeros(4, 1)])   # 6 + 4 > 8: random slots
    assert len(pool) == 6
    other = SamplePool(8, {"state": (3, 4, 4), "target": (1,)})
    other.load_state_dict(pool.state_dict())
    assert torch.equal(other.state, pool.state) and len(other) == 6
    with pytest.raises(ValueError):
        pool.sample(9)
    with pytest.raises(ValueError, match="holds"):
        pool.write([state])


def test_snapshots_match_one_rollout():
    torch.manual_seed(0)
    ca = Automaton(random_cell(), steps=10, update_rate=0.5)
    state = torch.rand(1, 6, 9, 9)
    torch.manual_seed(7)
    frames = ca.snapshots(state, [0, 3, 3, 10])
    torch.manual_seed(7)
    final = ca(state, 10)
    assert len(frames) == 4 and torch.equal(frames[0], state) and torch.equal(frames[1], frames[2])
    assert torch.equal(frames[-1], final) and not torch.equal(frames[1], final)
    with pytest.raises(ValueError, match="ascending"):
        ca.snapshots(state, [4, 2])
