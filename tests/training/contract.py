"""Contract rows of the training part (see tests/contract.py)."""

import torch
from contract import Case

from nnfaq.training import residual, sizing
from nnfaq.training.adaptive import adagrad_step, rmsprop_step
from nnfaq.training.augmentation import augment
from nnfaq.training.batch_size import minibatch_gradient_variance, minibatch_gradients
from nnfaq.training.debugging import first_nonfinite, numerical_gradient, overfit_one_batch
from nnfaq.training.imbalance import balanced_class_weights, balanced_pos_weight, sigmoid_focal_loss
from nnfaq.training.normalization import (
    group_norm,
    instance_norm,
    layer_norm,
    residual_sublayer,
    rms_norm,
    values_per_statistic,
)
from nnfaq.training.optimizers import adam_step, adamw_step, gradient_descent, sgd_step
from nnfaq.training.regularization import dropout, early_stopping, fit_noisy_sine, l2_penalty
from nnfaq.training.schedules import cosine_annealing_lr, linear_lr, step_lr
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
    Case(
        layer_norm,
        lambda: {"input": torch.randn(2, 3), "normalized_shape": (3,)},
        tensor=["input"],
        number={"eps": "[0, inf)"},
    ),
    Case(
        group_norm,
        lambda: {"input": torch.randn(2, 4, 3), "num_groups": 2},
        tensor=["input"],
        integer={"num_groups": 1},
        number={"eps": "[0, inf)"},
    ),
    Case(
        instance_norm,
        lambda: {"input": torch.randn(2, 3, 4), "running_mean": torch.zeros(3), "running_var": torch.ones(3)},
        tensor=["input"],
        flag=["use_input_stats"],
        number={"momentum": "[0, 1]", "eps": "[0, inf)"},
    ),
    Case(rms_norm, lambda: {"input": torch.randn(2, 3), "normalized_shape": 3}, tensor=["input"]),
    Case(
        values_per_statistic,
        {"shape": (2, 4, 3), "norm": "group", "num_groups": 2},
        choice=["norm"],
        integer={"num_groups": 1},
    ),
    Case(
        residual_sublayer,
        lambda: {"input": torch.randn(2, 3), "sublayer": torch.nn.Identity(), "norm": torch.nn.LayerNorm(3)},
        tensor_any=["input"],
        choice=["placement"],
    ),
    Case(
        step_lr,
        {"base_lr": 0.1, "epoch": 3, "step_size": 2},
        number={"base_lr": "[0, inf)", "gamma": "[0, inf)"},
        integer={"epoch": 0, "step_size": 1},
    ),
    Case(
        cosine_annealing_lr,
        {"base_lr": 0.1, "epoch": 3, "T_max": 10},
        number={"base_lr": "[0, inf)", "eta_min": "[0, inf)"},
        integer={"epoch": 0, "T_max": 1},
    ),
    Case(
        linear_lr,
        {"base_lr": 0.1, "epoch": 3},
        number={"base_lr": "[0, inf)", "start_factor": "(0, 1]", "end_factor": "[0, 1]"},
        integer={"epoch": 0, "total_iters": 1},
    ),
    Case(
        adagrad_step,
        lambda: {"param": torch.zeros(3), "grad": torch.ones(3), "state": {}},
        tensor=["param", "grad"],
        number={
            "lr": "[0, inf)",
            "lr_decay": "[0, inf)",
            "weight_decay": "[0, inf)",
            "initial_accumulator_value": "[0, inf)",
            "eps": "[0, inf)",
        },
    ),
    Case(
        rmsprop_step,
        lambda: {"param": torch.zeros(3), "grad": torch.ones(3), "state": {}},
        tensor=["param", "grad"],
        number={
            "lr": "[0, inf)",
            "alpha": "[0, 1]",
            "eps": "[0, inf)",
            "weight_decay": "[0, inf)",
            "momentum": "[0, inf)",
        },
        flag=["centered"],
    ),
    Case(
        minibatch_gradients,
        lambda: {
            "model": torch.nn.Linear(2, 1),
            "loss_fn": torch.nn.functional.mse_loss,
            "input": torch.randn(4, 2),
            "target": torch.randn(4, 1),
            "batch_size": 2,
        },
        tensor_any=["input", "target"],
        integer={"batch_size": 1},
    ),
    Case(
        minibatch_gradient_variance,
        lambda: {"per_example_grads": torch.randn(4, 3), "batch_size": 2},
        tensor=["per_example_grads"],
        integer={"batch_size": 1},
        flag=["replacement"],
    ),
    Case(
        overfit_one_batch,
        lambda: {
            "model": torch.nn.Linear(2, 1),
            "loss_fn": torch.nn.functional.mse_loss,
            "input": torch.randn(4, 2),
            "target": torch.randn(4, 1),
            "steps": 2,
        },
        tensor_any=["input", "target"],
        integer={"steps": 1},
        number={"lr": "(0, inf)"},
    ),
    Case(
        numerical_gradient,
        lambda: {"fn": lambda t: t.sum(), "input": torch.randn(3)},
        tensor=["input"],
        number={"eps": "(0, inf)"},
    ),
    Case(first_nonfinite, lambda: {"model": torch.nn.Linear(2, 1), "input": torch.randn(3, 2)}, tensor_any=["input"]),
    Case(
        balanced_class_weights,
        lambda: {"target": torch.tensor([0, 1, 1]), "num_classes": 2},
        tensor_any=["target"],
        integer={"num_classes": 1},
    ),
    Case(balanced_pos_weight, lambda: {"target": torch.tensor([0.0, 1.0, 1.0])}, tensor_any=["target"]),
    Case(
        sigmoid_focal_loss,
        lambda: {"inputs": torch.randn(3), "targets": torch.tensor([0.0, 1.0, 1.0])},
        tensor=["inputs", "targets"],
        number={"alpha": "[-inf, 1]", "gamma": "[0, inf)"},
        choice=["reduction"],
    ),
    Case(
        augment,
        lambda: {"input": torch.randn(3, 2), "target": torch.zeros(3), "transforms": [lambda t: t]},
        tensor_any=["input", "target"],
    ),
]
