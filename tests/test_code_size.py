"""Small pieces: modules of at most 400 lines, tasks and datamodules of at most 12 arguments.

Related settings go in one dataclass argument (a mapping in YAML), e.g. ``Rollout``.
"""
import importlib
import inspect
import pkgutil
from pathlib import Path

import lightning as L
import pytest

import nca_zoo.data
import nca_zoo.tasks

PACKAGE = Path(nca_zoo.tasks.__file__).resolve().parents[1]
MAX_LINES, MAX_ARGUMENTS = 400, 12


@pytest.mark.parametrize("path", sorted(PACKAGE.rglob("*.py")),
                         ids=lambda p: str(p.relative_to(PACKAGE)))
def test_module_is_small(path):
    lines = len(path.read_text().splitlines())
    assert lines <= MAX_LINES, f"{path.name}: {lines} lines (split it, one idea per file)"


def lightning_classes():
    for pkg in (nca_zoo.tasks, nca_zoo.data):
        for info in pkgutil.iter_modules(pkg.__path__):
            module = importlib.import_module(f"{pkg.__name__}.{info.name}")
            for obj in vars(module).values():
                if (inspect.isclass(obj) and obj.__module__ == module.__name__
                        and issubclass(obj, (L.LightningModule, L.LightningDataModule))):
                    yield obj


@pytest.mark.parametrize("cls", list(lightning_classes()), ids=lambda c: c.__name__)
def test_constructor_takes_few_arguments(cls):
    names = [n for n in inspect.signature(cls.__init__).parameters if n != "self"]
    assert len(names) <= MAX_ARGUMENTS, f"{cls.__name__}({', '.join(names)})"
