"""nnfaq: neural-network interview answers you can run.

The answers live in part subpackages (``nnfaq.foundations``, ``nnfaq.training``, ...), one topic
module per topic and one concept function per interview question; its docstring states the
question, answers it, and proves the answer with doctests. Importing :mod:`nnfaq` itself does not
import torch: the registry reads the questions from source.
"""

from nnfaq._registry import (
    LEVELS,
    PARTS,
    Mistake,
    Part,
    Question,
    Topic,
    get_question,
    parts,
    question,
    questions,
    topic_names,
    topics,
)

__version__ = "0.1.0"
__all__ = [
    "LEVELS",
    "PARTS",
    "Mistake",
    "Part",
    "Question",
    "Topic",
    "get_question",
    "parts",
    "question",
    "questions",
    "topic_names",
    "topics",
]
