"""Under DDP, data-parallel tasks draw different random numbers per rank; GNCA draws the same."""
from types import SimpleNamespace

import torch

from nca_zoo.tasks import DiffusionTask, GNCACompression


def draws_on_rank(task, rank: int, world: int = 2) -> torch.Tensor:
    torch.manual_seed(0)  # what seed_everything does on every rank
    task._trainer = SimpleNamespace(world_size=world, global_rank=rank, datamodule=None)
    task.on_fit_start()
    return torch.rand(4)


def test_data_parallel_ranks_get_their_own_stream():
    task = DiffusionTask("diff_nca", {"channels": 10, "hidden": 16, "steps": 2},
                         schedule={"timesteps": 4}, sampling={"sample_size": [8, 8]})
    assert not torch.equal(draws_on_rank(task, 0), draws_on_rank(task, 1))
    assert torch.equal(draws_on_rank(task, 1), draws_on_rank(task, 1))  # reproducible
    torch.manual_seed(0)
    one_process = torch.rand(4)
    assert torch.equal(draws_on_rank(task, 0), one_process)  # rank 0 draws what one process does


def test_gnca_ranks_share_one_stream():
    task = GNCACompression("gnca_small", num_patches=4, patch_size=8)
    assert torch.equal(draws_on_rank(task, 0), draws_on_rank(task, 1))
