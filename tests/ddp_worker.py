"""One rank of the DDP test sweep: run a list of ``nca_zoo.fit`` jobs, in order, in this process.

    python tests/ddp_worker.py JOBS.json RANK WORLD_SIZE

``tests/test_ddp.py`` starts one worker per rank.  Each worker joins one gloo process group and
runs every job of ``JOBS.json`` (a list of ``{"name", "args", "root"}``) through the fit CLI, with
the ranks set in the environment (``LOCAL_RANK`` and friends: Lightning then uses this process as
its rank instead of launching new ones).  Before each job the ranks join a fresh gloo process
group (a file rendezvous in the job's folder; the fit CLI leaves the group when a run ends), which
Lightning then uses.  So the sweep pays for Python, torch and Lightning imports once instead of
once per config and rank, and still trains every config under real two-process DDP.

Each job's outcome goes to ``<root>/rank<RANK>.json`` (``ok`` and the trainer's world size, or
the traceback); after a failed
job the worker stops, since the other rank may be waiting in a collective of the failed run.
"""
from __future__ import annotations

import datetime
import json
import os
import sys
import traceback
from pathlib import Path


def main(jobs_file: str, rank: int, world_size: int) -> int:
    """Run the jobs as ``rank``; 0 if all of them succeeded."""
    os.environ.update({"MASTER_ADDR": "127.0.0.1", "WORLD_SIZE": str(world_size),
                       "NODE_RANK": "0", "LOCAL_RANK": str(rank), "RANK": str(rank),
                       "WANDB_MODE": "disabled"})
    import torch.distributed as dist

    from nca_zoo.cli.fit import main as fit

    jobs = json.loads(Path(jobs_file).read_text())
    for job in jobs:
        root = Path(job["root"])
        root.mkdir(parents=True, exist_ok=True)
        os.chdir(root)
        # every rank starts the job together, in a group of its own
        dist.init_process_group("gloo", init_method=f"file://{root / 'rendezvous'}", rank=rank,
                                world_size=world_size, timeout=datetime.timedelta(seconds=120))
        try:
            cli = fit(job["args"])
            outcome = {"ok": True, "world_size": cli.trainer.world_size}
        except BaseException:  # noqa: BLE001 -- reported to the test, which fails
            outcome = {"ok": False, "error": traceback.format_exc()[-3000:]}
        (root / f"rank{rank}.json").write_text(json.dumps(outcome))
        if dist.is_initialized():  # a failed run may not have left it
            dist.destroy_process_group()
        if not outcome["ok"]:
            return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1], int(sys.argv[2]), int(sys.argv[3])))
