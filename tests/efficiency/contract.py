"""Contract rows of the efficiency part (see tests/contract.py)."""

import torch
from contract import Case

from nnfaq.efficiency.lora import lora_init, lora_linear, merge_lora
from nnfaq.efficiency.memory import accumulate_gradients
from nnfaq.efficiency.moe import load_balancing_loss, top_k_routing
from nnfaq.efficiency.precision import accumulate_updates, float_limits, unscale_grads, update_scale
from nnfaq.efficiency.quantization import (
    absmax_quantize,
    bits_per_parameter,
    dequantize,
    dequantize_blockwise,
    nf4_levels,
    quantize_blockwise,
    zero_point_quantize,
)

REAL = "(-inf, inf)"
POSITIVE = "(0, inf)"


def _lora():
    return {
        "input": torch.randn(3, 6),
        "weight": torch.randn(5, 6),
        "lora_A": torch.randn(2, 6),
        "lora_B": torch.randn(5, 2),
        "alpha": 4.0,
    }


def _accumulation():
    W = torch.randn(4, 3, requires_grad=True)
    batches = [(torch.randn(2, 4), torch.tensor([0, 2])), (torch.randn(3, 4), torch.tensor([1, 1, -100]))]

    def token_losses(x, t):
        return torch.nn.functional.cross_entropy(x @ W, t, reduction="none")

    return {
        "loss_fn": token_losses,
        "params": [W],
        "micro_batches": batches,
        "normalize": "tokens",
        "ignore_index": -100,
    }


CASES = [
    Case(float_limits, {"exponent_bits": 5, "mantissa_bits": 10}, integer={"exponent_bits": 2, "mantissa_bits": 1}),
    Case(unscale_grads, lambda: {"grads": [torch.randn(3)], "scale": 1024.0}, number={"scale": POSITIVE}),
    Case(
        update_scale,
        {"scale": 1024.0, "growth_tracker": 0, "found_inf": False, "growth_factor": 2.0, "backoff_factor": 0.5,
         "growth_interval": 10},
        number={"scale": POSITIVE, "growth_factor": "(1, inf)", "backoff_factor": "(0, 1)"},
        integer={"growth_tracker": 0, "growth_interval": 1},
        flag=["found_inf"],
    ),
    Case(
        accumulate_updates,
        {"weight": 1.0, "update": 1e-4, "steps": 3, "dtype": torch.float16, "master_weights": True},
        number={"weight": REAL, "update": REAL},
        integer={"steps": 1},
        flag=["master_weights"],
    ),
    Case(absmax_quantize, lambda: {"input": torch.randn(3, 4), "dim": None}, tensor=["input"]),
    Case(zero_point_quantize, lambda: {"input": torch.randn(3, 4), "dim": 1}, tensor=["input"]),
    Case(
        dequantize,
        lambda: {"q": torch.ones(3, 4, dtype=torch.int8), "scale": torch.tensor(0.1), "zero_point": 0},
        tensor=["scale"],
        tensor_any=["q"],
    ),
    Case(nf4_levels, {}),
    Case(
        quantize_blockwise,
        lambda: {"input": torch.randn(4, 16), "code": nf4_levels(), "blocksize": 16},
        tensor=["input", "code"],
        integer={"blocksize": 1},
    ),
    Case(
        dequantize_blockwise,
        lambda: {"codes": torch.zeros(32, dtype=torch.uint8), "absmax": torch.ones(2), "code": nf4_levels(),
                 "blocksize": 16},
        tensor=["absmax", "code"],
        tensor_any=["codes"],
        integer={"blocksize": 1},
    ),
    Case(
        bits_per_parameter,
        {"bits": 4, "blocksize": 64, "absmax_bits": 32, "double_quant": True, "dq_bits": 8, "dq_blocksize": 256},
        integer={"bits": 1, "blocksize": 1, "absmax_bits": 1, "dq_bits": 1, "dq_blocksize": 1},
        flag=["double_quant"],
    ),
    Case(
        lora_linear,
        _lora,
        tensor=["input", "weight", "lora_A", "lora_B"],
        number={"alpha": POSITIVE},
    ),
    Case(
        lora_init,
        {"in_features": 6, "out_features": 5, "r": 2},
        integer={"in_features": 1, "out_features": 1, "r": 1},
    ),
    Case(
        merge_lora,
        lambda: {k: v for k, v in _lora().items() if k != "input"},
        tensor=["weight", "lora_A", "lora_B"],
        number={"alpha": POSITIVE},
    ),
    Case(accumulate_gradients, _accumulation, integer={"ignore_index": None}, choice=["normalize"]),
    Case(top_k_routing, lambda: {"logits": torch.randn(5, 4), "k": 2}, tensor=["logits"], integer={"k": 1}),
    Case(load_balancing_loss, lambda: {"logits": torch.randn(5, 4), "k": 1}, tensor=["logits"], integer={"k": 1}),
]  # fmt: skip
