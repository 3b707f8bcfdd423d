"""``python -m nca_zoo.decompress``: the same tool as ``nca-zoo decompress``.

See :mod:`nca_zoo.cli.decompress`.
"""
from .cli.decompress import main  # noqa: F401

if __name__ == "__main__":
    import sys

    from .cli import run

    sys.exit(run("decompress"))
