"""``python -m nca_zoo.sample``: the same tool as ``nca-zoo sample``.

See :mod:`nca_zoo.cli.sample`.
"""
from .cli.sample import main  # noqa: F401

if __name__ == "__main__":
    import sys

    from .cli import run

    sys.exit(run("sample"))
