"""nnfaq: neural-network interview answers you can run.

Each topic module (``nnfaq.regularization``, ...) holds one concept function per interview question;
its docstring states the question, answers it, and proves the answer with doctests. Importing
:mod:`nnfaq` itself does not import torch: the registry reads the questions from source.
"""

from nnfaq._registry import TOPICS, Mistake, Question, Topic, get_question, question, questions, topics

__version__ = "0.1.0"
__all__ = ["TOPICS", "Mistake", "Question", "Topic", "get_question", "question", "questions", "topics"]
