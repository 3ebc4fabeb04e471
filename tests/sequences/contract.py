"""Contract rows of the sequences part's attention and positional-encoding topics (see tests/contract.py)."""

import torch
from contract import Case

from nnfaq.sequences.attention import multi_head_attention, scaled_dot_product_attention, softmax_saturation
from nnfaq.sequences.attention_variants import (
    additive_attention,
    attention_mechanisms,
    local_attention,
    location_attention,
    multiplicative_attention,
    self_attention,
)
from nnfaq.sequences.positional_encoding import (
    alibi_bias,
    learned_positional_encoding,
    permutation_equivariance,
    rotary_embedding,
    sinusoidal_encoding,
)
from nnfaq.sequences.recurrent import (
    decode,
    dependency_depth,
    gradient_through_time,
    gru_cell,
    lstm_cell,
    rnn_cell,
    unroll_rnn,
)

F64 = torch.float64


def randn(*shape):
    return torch.randn(*shape, dtype=F64)


def _qkv():
    return {"query": randn(2, 3, 4), "key": randn(2, 5, 4), "value": randn(2, 5, 6)}


QKV = ["query", "key", "value"]


def _w(cell):
    """A torch cell's weights under the names the functional cells take."""
    return {"w_ih": cell.weight_ih, "w_hh": cell.weight_hh, "b_ih": cell.bias_ih, "b_hh": cell.bias_hh}


CASES = [
    Case(
        scaled_dot_product_attention,
        lambda: {**_qkv(), "dropout_p": 0.1, "is_causal": True, "return_weights": True},
        tensor=QKV,
        number={"dropout_p": "[0, 1)"},
        flag=["is_causal", "enable_gqa", "return_weights"],
    ),
    Case(
        softmax_saturation,
        {"d_k": 4, "scaled": False, "T": 4, "n": 8, "seed": 1},
        integer={"d_k": 1, "T": 2, "n": 1, "seed": -(2**63)},
        flag=["scaled"],
    ),
    Case(
        multi_head_attention,
        lambda: {
            "query": randn(3, 2, 4),
            "key": randn(5, 2, 4),
            "value": randn(5, 2, 4),
            "num_heads": 2,
            "in_proj_weight": randn(12, 4),
            "in_proj_bias": randn(12),
            "out_proj_weight": randn(4, 4),
            "out_proj_bias": randn(4),
        },
        tensor=[*QKV, "in_proj_weight", "out_proj_weight"],  # the biases may be None
        integer={"num_heads": 1},
        flag=["average_attn_weights", "batch_first"],
    ),
    Case(
        additive_attention,
        lambda: {**_qkv(), "W_q": randn(7, 4), "W_k": randn(7, 4), "v": randn(7)},
        tensor=[*QKV, "W_q", "W_k", "v"],
    ),
    Case(multiplicative_attention, lambda: {**_qkv(), "weight": randn(4, 4)}, tensor=QKV),  # weight may be None
    Case(
        location_attention,
        lambda: {"query": randn(2, 3, 4), "value": randn(2, 5, 6), "weight": randn(5, 4)},
        tensor=["query", "value", "weight"],
    ),
    Case(local_attention, lambda: {**_qkv(), "window": 1, "scale": 0.5}, tensor=QKV),
    Case(
        self_attention,
        lambda: {"x": randn(2, 3, 4), "in_proj_weight": randn(12, 4)},
        tensor=["x"],  # in_proj_weight may be None
        flag=["is_causal"],
    ),
    Case(
        attention_mechanisms,
        {"d_model": 4, "T": 5, "window": 1, "num_heads": 2},
        integer={"d_model": 1, "T": 1, "window": 0, "num_heads": 1},
    ),
    Case(permutation_equivariance, lambda: {"layer": torch.tanh, "x": randn(2, 4, 3)}, tensor=["x"]),
    Case(sinusoidal_encoding, {"T": 4, "d": 6, "base": 100.0}, integer={"T": 1, "d": 2}, number={"base": "(1, inf)"}),
    Case(learned_positional_encoding, lambda: {"x": randn(2, 3, 4), "weight": randn(8, 4)}, tensor=["x", "weight"]),
    Case(rotary_embedding, lambda: {"x": randn(2, 3, 4), "base": 100.0}, tensor=["x"], number={"base": "(1, inf)"}),
    Case(alibi_bias, {"num_heads": 4, "T": 3, "causal": False}, integer={"num_heads": 1, "T": 1}, flag=["causal"]),
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
]
