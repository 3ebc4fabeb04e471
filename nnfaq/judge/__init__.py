"""Implement it yourself: coding exercises judged offline against PyTorch.

``nnfaq exercise ID`` writes a starter file (the signature and docstring of the function to write,
a body that raises ``NotImplementedError``); ``nnfaq judge FILE`` runs the file in a subprocess,
with a time limit and no network, and checks it in order: the signature, forward values against
PyTorch (or the stated math), gradients, the concept's own claims, edge cases and bad input. It
stops at the first failing property, says what failed in words, shows the smallest failing input
and gives a hint.

Modules: :mod:`~nnfaq.judge.exercises` (the table of exercises, torch-free: listing and starters
never import torch), :mod:`~nnfaq.judge.starter`, :mod:`~nnfaq.judge.checks` (the machinery of a
check), :mod:`~nnfaq.judge.suites` (each exercise's checks), :mod:`~nnfaq.judge.runner` (the
judgement, in-process and in a subprocess) and :mod:`~nnfaq.judge.commands` (the two commands).
This subpackage is not a part: the registry reads only the parts in :data:`nnfaq.PARTS`.
"""
