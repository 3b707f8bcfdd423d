"""``python -m nca_zoo.fit``: the same tool as ``nca-zoo fit`` (see :mod:`nca_zoo.cli.fit`)."""
from .cli.fit import main  # noqa: F401

if __name__ == "__main__":
    import sys

    from .cli import run

    sys.exit(run("fit"))
