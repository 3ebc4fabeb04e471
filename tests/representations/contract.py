"""Contract rows of the representations part (see tests/contract.py)."""

import torch
from contract import Case

from nnfaq.representations.autoencoders import pca, train_autoencoder
from nnfaq.representations.embeddings import cosine_similarity, embedding
from nnfaq.representations.transfer import channel_stats, count_parameters, normalize

CASES = [
    Case(
        train_autoencoder,
        lambda: {"x": torch.randn(8, 3), "latent": 1, "hidden": 2, "max_iter": 1},
        tensor=["x"],
        integer={"latent": 1, "hidden": 0, "max_iter": 1},
    ),
    Case(pca, lambda: {"x": torch.randn(8, 3), "k": 2}, tensor=["x"], integer={"k": 1}),
    # input holds indices: any tensor kind is checked here, the integer dtype in test_embeddings.py
    Case(
        embedding,
        lambda: {"input": torch.tensor([0, 2]), "weight": torch.randn(3, 2)},
        tensor_any=["input"],
        tensor=["weight"],
    ),
    Case(
        cosine_similarity,
        lambda: {"x1": torch.randn(3, 4), "x2": torch.randn(3, 4), "dim": 1, "eps": 1e-8},
        tensor=["x1", "x2"],
        integer={"dim": None},
        number={"eps": "(0, inf)"},
    ),
    Case(count_parameters, lambda: {"model": torch.nn.Linear(2, 2), "trainable_only": False}, flag=["trainable_only"]),
    Case(channel_stats, lambda: {"images": torch.rand(2, 3, 4, 4)}, tensor=["images"]),
    Case(
        normalize,
        lambda: {"input": torch.rand(2, 3, 4, 4), "mean": (0.5, 0.5, 0.5), "std": (0.2, 0.2, 0.2)},
        tensor=["input"],
    ),
]
