"""Contract rows of the training part (see tests/contract.py)."""

import torch
from contract import Case

from nnfaq.training import residual, sizing
from nnfaq.training.optimizers import adam_step, adamw_step, gradient_descent, sgd_step
from nnfaq.training.regularization import dropout, early_stopping, fit_noisy_sine, l2_penalty
from nnfaq.training.train_eval import batch_norm, eval_is_deterministic

_ADAM = dict(tensor=["param", "grad"], number={"lr": "[0, inf)", "eps": "(0, inf)", "weight_decay": "[0, inf)"})

CASES = [
    # --- optimizers
    Case(
        gradient_descent,
        {"w0": 1.0, "lr": 0.1, "steps": 3, "curvature": 2.0},
        number={"w0": "(-inf, inf)", "lr": "[0, inf)", "curvature": "(0, inf)"},
        integer={"steps": 1},
    ),
    Case(
        sgd_step,
        lambda: {"param": torch.ones(3), "grad": torch.ones(3), "state": {}, "lr": 0.1, "momentum": 0.9},
        tensor=["param", "grad"],
        number={"lr": "[0, inf)", "momentum": "[0, 1)", "dampening": "[0, 1]", "weight_decay": "[0, inf)"},
        flag=["nesterov"],
    ),
    Case(adam_step, lambda: {"param": torch.ones(3), "grad": torch.ones(3), "state": {}}, **_ADAM),
    Case(adamw_step, lambda: {"param": torch.ones(3), "grad": torch.ones(3), "state": {}}, **_ADAM),
    # --- regularization
    Case(
        dropout,
        lambda: {"input": torch.randn(2, 3), "p": 0.5, "training": True},
        tensor=["input"],
        number={"p": "[0, 1)"},
        flag=["training"],
    ),
    Case(
        l2_penalty,
        lambda: {"parameters": [torch.randn(3)], "weight_decay": 0.1},
        tensor=["parameters"],
        number={"weight_decay": "[0, inf)"},
    ),
    Case(
        early_stopping,
        {"val_losses": [1.0, 0.5, 0.7], "patience": 1, "min_delta": 0.0},
        integer={"patience": 1},
        number={"min_delta": "[0, inf)"},
    ),
    Case(
        fit_noisy_sine,
        {"p": 0.5, "runs": 1, "steps": 1},
        number={"p": "[0, 1)", "weight_decay": "[0, inf)"},
        integer={"runs": 1, "seed": None, "steps": 1},
    ),
    # --- train and eval modes
    Case(
        batch_norm,
        lambda: {"input": torch.randn(4, 3), "running_mean": torch.zeros(3), "running_var": torch.ones(3)},
        tensor=["input"],
        number={"momentum": "[0, 1]", "eps": "(0, inf)"},
        flag=["training"],
    ),
    Case(
        eval_is_deterministic,
        lambda: {"model": torch.nn.Linear(2, 2), "input": torch.randn(1, 2), "trials": 2},
        tensor_any=["input"],
        integer={"trials": 2},
    ),
    # --- residual
    Case(
        residual.residual_block, lambda: {"input": torch.randn(2, 3), "branch": torch.nn.Identity()}, tensor=["input"]
    ),
    Case(
        residual.deep_mlp,
        {"in_features": 2, "hidden_features": 3, "out_features": 1, "depth": 2},
        integer={"in_features": 1, "hidden_features": 1, "out_features": 1, "depth": 1},
        choice=["activation"],
        flag=["residual", "batch_norm", "zero_init_residual"],
    ),
    Case(
        residual.fit,
        lambda: {"model": torch.nn.Linear(2, 1), "input": torch.randn(4, 2), "target": torch.randn(4, 1), "steps": 1},
        tensor=["input", "target"],
        integer={"steps": 1},
        number={"lr": "(0, inf)"},
    ),
    # --- sizing
    Case(
        sizing.mlp, {"in_features": 3, "hidden": [2], "out_features": 2}, integer={"in_features": 1, "out_features": 1}
    ),
    Case(
        sizing.fit,
        lambda: {
            "model": sizing.mlp(4, (), 2),
            "x_train": torch.randn(6, 4),
            "y_train": torch.zeros(6, dtype=torch.int64),
            "steps": 1,
        },
        tensor=["x_train"],
        tensor_any=["y_train"],
        integer={"steps": 1},
        number={"lr": "(0, inf)", "weight_decay": "[0, inf)"},
    ),
]
