"""``python -m nca_zoo.compress``: the same tool as ``nca-zoo compress``.

See :mod:`nca_zoo.cli.compress`.
"""
from .cli.compress import main  # noqa: F401

if __name__ == "__main__":
    import sys

    from .cli import run

    sys.exit(run("compress"))
