"""``python -m nca_zoo.restore``: the same tool as ``nca-zoo restore``.

See :mod:`nca_zoo.cli.restore`.
"""
from .cli.restore import main  # noqa: F401

if __name__ == "__main__":
    import sys

    from .cli import run

    sys.exit(run("restore"))
