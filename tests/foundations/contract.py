"""Contract rows of the foundations part (see tests/contract.py)."""

import torch
from contract import Case

from nnfaq.foundations.activations import activation, dead_relu_fraction
from nnfaq.foundations.backprop import Value, mlp_backward, train_step
from nnfaq.foundations.classification_losses import cross_entropy, cross_entropy_grad, nll_loss, smooth_one_hot
from nnfaq.foundations.gradient_flow import clip_grad_norm_, unrolled_gradient
from nnfaq.foundations.initialization import (
    activation_std,
    calculate_gain,
    count_distinct_units,
    kaiming_normal_,
    kaiming_uniform_,
    train_mlp,
    xavier_normal_,
    xavier_uniform_,
)
from nnfaq.foundations.output_layers import (
    binary_cross_entropy,
    binary_cross_entropy_with_logits,
    log_softmax,
    softmax,
)
from nnfaq.foundations.regression_losses import huber_loss, kl_div, l1_loss, mse_loss
from nnfaq.foundations.tensors import is_contiguous, view_strides
from nnfaq.foundations.xor import xor_network

F64 = torch.float64


def _mlp():
    shapes = {"input": (3, 2), "W1": (4, 2), "b1": (4,), "W2": (1, 4), "b2": (1,), "target": (3, 1)}
    return {name: torch.ones(shape, dtype=F64) for name, shape in shapes.items()}


def _step():
    model = torch.nn.Linear(2, 1, dtype=F64)
    return {
        "model": model,
        "loss_fn": torch.nn.functional.mse_loss,
        "optimizer": torch.optim.SGD(model.parameters(), lr=0.1),
        "input": torch.ones(3, 2, dtype=F64),
        "target": torch.ones(3, 1, dtype=F64),
        "zero_grad": True,
    }


def _clip():
    p = torch.ones(3, requires_grad=True)
    p.grad = torch.ones(3)
    return {"parameters": [p], "max_norm": 1.0, "norm_type": 2.0}


def _pair(x=0.5):
    return {"input": torch.full((2, 3), x), "target": torch.full((2, 3), 0.5), "reduction": "mean"}


def _classes():
    return {"input": torch.randn(2, 3), "target": torch.tensor([0, 2]), "reduction": "mean", "ignore_index": -100}


CASES = [
    # backprop
    Case(Value, {"data": 1.5}, number={"data": "[-inf, inf]"}),
    Case(mlp_backward, _mlp, tensor=["input", "W1", "b1", "W2", "b2", "target"]),
    Case(train_step, _step, tensor_any=["input", "target"], flag=["zero_grad"]),
    # activations
    Case(
        activation,
        lambda: {"input": torch.randn(4), "nonlinearity": "leaky_relu", "negative_slope": 0.1},
        tensor=["input"],
        choice=["nonlinearity"],
        number={"negative_slope": "(-inf, inf)"},
    ),
    Case(dead_relu_fraction, lambda: {"preactivation": torch.randn(4, 3)}, tensor=["preactivation"]),
    # gradient flow
    Case(unrolled_gradient, {"weight": 1.1, "steps": 3}, number={"weight": "(-inf, inf)"}, integer={"steps": 1}),
    Case(clip_grad_norm_, _clip, number={"max_norm": "(0, inf]", "norm_type": "(0, inf]"}),
    # initialization
    Case(calculate_gain, {"nonlinearity": "relu"}, choice=["nonlinearity"]),
    *(
        Case(fn, lambda: {"tensor": torch.empty(3, 4), "gain": 1.0}, tensor=["tensor"], number={"gain": "[0, inf)"})
        for fn in (xavier_uniform_, xavier_normal_)
    ),
    *(
        Case(
            fn,
            lambda: {"tensor": torch.empty(3, 4), "a": 0.0, "mode": "fan_in", "nonlinearity": "relu"},
            tensor=["tensor"],
            number={"a": "[-inf, inf]"},
            choice=["mode", "nonlinearity"],
        )
        for fn in (kaiming_uniform_, kaiming_normal_)
    ),
    Case(
        activation_std,
        lambda: {"input": torch.randn(4, 3), "depth": 2, "nonlinearity": "relu"},
        tensor=["input"],
        integer={"depth": 1},
        choice=["nonlinearity"],
    ),
    Case(
        train_mlp,
        lambda: {"input": torch.randn(4, 2), "target": torch.randn(4, 1), "hidden_features": 3, "steps": 1, "lr": 0.1},
        tensor=["input", "target"],
        integer={"hidden_features": 1, "steps": 0},
        number={"lr": "(0, inf)"},
    ),
    Case(
        count_distinct_units,
        lambda: {"weight": torch.randn(3, 2), "atol": 1e-8},
        tensor=["weight"],
        number={"atol": "[0, inf]"},
    ),
    # output layers
    *(
        Case(fn, lambda: {"input": torch.randn(2, 3), "dim": 1}, tensor=["input"], integer={"dim": None})
        for fn in (softmax, log_softmax)
    ),
    *(
        Case(fn, _pair, tensor=["input", "target"], choice=["reduction"])
        for fn in (binary_cross_entropy, binary_cross_entropy_with_logits)
    ),
    # classification losses
    Case(
        nll_loss,
        _classes,
        tensor=["input"],
        tensor_any=["target"],
        choice=["reduction"],
        integer={"ignore_index": None},
    ),
    Case(
        cross_entropy,
        lambda: {**_classes(), "label_smoothing": 0.1},
        tensor=["input"],
        tensor_any=["target"],
        choice=["reduction"],
        integer={"ignore_index": None},
        number={"label_smoothing": "[0, 1]"},
    ),
    Case(
        cross_entropy_grad,
        lambda: {"input": torch.randn(2, 3), "target": torch.tensor([0, 2])},
        tensor=["input"],
        tensor_any=["target"],
    ),
    Case(
        smooth_one_hot,
        lambda: {"target": torch.tensor([0, 2]), "num_classes": 3, "label_smoothing": 0.1},
        tensor_any=["target"],
        integer={"num_classes": 2},
        number={"label_smoothing": "[0, 1]"},
    ),
    # regression losses
    *(Case(fn, _pair, tensor=["input", "target"], choice=["reduction"]) for fn in (mse_loss, l1_loss)),
    Case(
        huber_loss,
        lambda: {**_pair(), "delta": 1.0},
        tensor=["input", "target"],
        choice=["reduction"],
        number={"delta": "(0, inf)"},
    ),
    Case(
        kl_div,
        lambda: {**_pair(-1.0), "log_target": False},
        tensor=["input", "target"],
        choice=["reduction"],
        flag=["log_target"],
    ),
    Case(xor_network, {"skip": False}, flag=["skip"]),
    Case(is_contiguous, {"shape": (2, 3), "stride": (3, 1)}),
    Case(view_strides, lambda: {"input": torch.zeros(2, 3), "shape": (3, 2)}, tensor_any=["input"]),
]
