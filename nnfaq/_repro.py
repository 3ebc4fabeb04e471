"""The documented starting state of every proof and example: one home, read by pytest, ``nnfaq check``,
Sphinx, the gallery runner and the determinism tool.

Every doctest, test and gallery example starts from :func:`reset` (seeded, single-threaded, float32
default dtype, grad mode on, deterministic algorithms off) with the names of :func:`doctest_namespace`
and the doctest flags :data:`DOCTEST_OPTIONFLAGS`. Imports torch only when called.
"""

from __future__ import annotations

import os

#: The seed every proof and example starts from.
SEED = 0
#: torch threads; ``NNFAQ_TORCH_THREADS`` overrides it (the determinism check reruns with 2).
THREADS = 1
#: Plain doctest flags, no pytest-only ones: an expected ``0.0`` must be written as what is printed.
DOCTEST_OPTIONFLAGS = ("NORMALIZE_WHITESPACE", "ELLIPSIS")


def threads() -> int:
    return int(os.environ.get("NNFAQ_TORCH_THREADS", THREADS))


def reset(seed: int = SEED) -> None:
    """Seed torch and put it in the documented state (called before every test, doctest and example)."""
    import torch

    # the CPU generator is all a CPU run draws from; torch.manual_seed also queues a seed for every
    # accelerator backend, each with a formatted stack of the caller, which before every one of 2,500 tests
    # is seconds of the pytest phase and a queue that only grows
    torch.default_generator.manual_seed(seed)
    torch.set_num_threads(threads())
    torch.set_default_dtype(torch.float32)
    torch.set_grad_enabled(True)
    if torch.are_deterministic_algorithms_enabled() or torch.is_deterministic_algorithms_warn_only_enabled():
        torch.use_deterministic_algorithms(False)  # only when set: the call imports torch's compiler (seconds)


def doctest_namespace() -> dict:
    """The names every docstring example may use without importing them."""
    import numpy as np
    import torch

    return {"torch": torch, "nn": torch.nn, "F": torch.nn.functional, "np": np}


def doctest_flags() -> int:
    """:data:`DOCTEST_OPTIONFLAGS` as the int ``doctest`` takes."""
    import doctest

    flags = 0
    for name in DOCTEST_OPTIONFLAGS:
        flags |= doctest.OPTIONFLAGS_BY_NAME[name]
    return flags
