"""``python -m nnfaq`` and the ``nnfaq`` console script; the commands live in :mod:`nnfaq.cli`."""

import sys

from nnfaq.cli import main

__all__ = ["main"]

if __name__ == "__main__":
    sys.exit(main())
