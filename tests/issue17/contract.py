"""Contract rows of the topics issue 17 added (see tests/contract.py): normalization, recurrent networks, training in
practice."""

import torch
from contract import Case

from nnfaq.convnets.segmentation import conv_from_linear, fcn_head
from nnfaq.foundations.tensors import is_contiguous, view_strides
from nnfaq.foundations.xor import xor_network
from nnfaq.sequences.recurrent import (
    decode,
    dependency_depth,
    gradient_through_time,
    gru_cell,
    lstm_cell,
    rnn_cell,
    unroll_rnn,
)
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
from nnfaq.training.schedules import cosine_annealing_lr, linear_lr, step_lr


def _w(cell):
    """A torch cell's weights under the names the functional cells take."""
    return {"w_ih": cell.weight_ih, "w_hh": cell.weight_hh, "b_ih": cell.bias_ih, "b_hh": cell.bias_hh}


CASES = [
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
        rnn_cell,
        lambda: {"input": torch.randn(2, 3), "hx": None, **_w(torch.nn.RNNCell(3, 4))},
        tensor=["input", "w_ih", "w_hh"],
        choice=["nonlinearity"],
    ),
    Case(
        lstm_cell,
        lambda: {"input": torch.randn(2, 3), "hx": None, **_w(torch.nn.LSTMCell(3, 4))},
        tensor=["input", "w_ih", "w_hh"],
    ),
    Case(
        gru_cell,
        lambda: {"input": torch.randn(2, 3), "hx": None, **_w(torch.nn.GRUCell(3, 4))},
        tensor=["input", "w_ih", "w_hh"],
    ),
    Case(
        gradient_through_time, lambda: {"cell": torch.nn.GRUCell(3, 4), "input": torch.randn(5, 2, 3)}, tensor=["input"]
    ),
    Case(
        unroll_rnn,
        lambda: {"input": torch.randn(5, 2, 3), "hx": None, **_w(torch.nn.RNNCell(3, 4))},
        tensor=["input", "w_ih", "w_hh"],
        choice=["nonlinearity"],
    ),
    Case(
        decode,
        lambda: {
            "cell": torch.nn.RNNCell(4, 8),
            "embedding": torch.nn.Embedding(5, 4),
            "readout": torch.nn.Linear(8, 5),
            "tokens": torch.zeros(3, 2, dtype=torch.long),
        },
        tensor_any=["tokens"],
        flag=["teacher_forcing"],
    ),
    Case(
        dependency_depth,
        lambda: {"output": torch.ones(1, requires_grad=True) * 2, "input": torch.ones(1, requires_grad=True)},
        tensor_any=["output", "input"],
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
    Case(xor_network, {"skip": False}, flag=["skip"]),
    Case(is_contiguous, {"shape": (2, 3), "stride": (3, 1)}),
    Case(view_strides, lambda: {"input": torch.zeros(2, 3), "shape": (3, 2)}, tensor_any=["input"]),
    Case(conv_from_linear, lambda: {"linear": torch.nn.Linear(3, 2)}),
    Case(
        fcn_head,
        lambda: {"features": torch.randn(1, 4, 2, 2), "weight": torch.randn(3, 4), "size": (8, 8)},
        tensor=["features", "weight"],
    ),
    Case(
        augment,
        lambda: {"input": torch.randn(3, 2), "target": torch.zeros(3), "transforms": [lambda t: t]},
        tensor_any=["input", "target"],
    ),
]
