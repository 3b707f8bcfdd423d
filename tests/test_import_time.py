"""The tools start fast: importing the package or a tool's module loads no heavy dependency.

``import nca_zoo`` registers the models and nothing else; Lightning, timm, diffusers,
torchmetrics, W&B and matplotlib come with the modules that use them (PEP 562 ``__getattr__`` in
the package ``__init__`` files, imports inside the functions that need them), so
``nca-zoo decompress`` and ``nca-zoo compress --help`` start within a fraction of a second of
``import torch``.
"""
import json
import subprocess
import sys

import pytest

HEAVY = ("lightning", "timm", "diffusers", "torchmetrics", "wandb", "matplotlib")


def loaded_after(statement: str) -> list[str]:
    """The packages of :data:`HEAVY` in ``sys.modules`` after ``statement``, in a fresh process."""
    code = (f"import json, sys\n{statement}\n"
            f"print(json.dumps([m for m in {HEAVY!r} if m in sys.modules]))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         timeout=120, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


@pytest.mark.parametrize("statement", [
    "import nca_zoo",
    "import nca_zoo; nca_zoo.create_model('nafnet_small'); nca_zoo.list_models()",
    "import nca_zoo.decompress",  # the tool's module, as `python -m nca_zoo.decompress` loads it
    "import nca_zoo.compression, nca_zoo.diffusion, nca_zoo.data, nca_zoo.restoration",
])
def test_no_heavy_import(statement):
    assert loaded_after(statement) == []


def test_compress_help_loads_no_heavy_package():
    """``nca-zoo compress --help``: training's imports wait until there is an image to train."""
    statement = ("from nca_zoo.cli import compress\n"
                 "try:\n    compress.main(['--help'])\nexcept SystemExit:\n    pass")
    assert loaded_after(statement) == []
