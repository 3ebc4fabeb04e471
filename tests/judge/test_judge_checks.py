"""The checks of every exercise, in process: the right answers pass, the classic wrong ones are caught.

Each reference implementation in nnfaq passes its exercise (skipped while it has not landed);
solutions written here stand in where nnfaq has none. Each deliberately wrong version is caught by
the check meant to catch it, with its message.

The right answers are judged on fewer random inputs (``checks.EXAMPLES``) to keep the file fast. The
wrong versions get all of them, as ``nnfaq judge`` gives them: on a few inputs, whether a wrong version
is caught by its own check or only by a later one depends on the seed of the draws (the judge's
``checks.SEED``; every wrong version here was checked to be caught by its check under seeds 0 to 45).
"""

import importlib
import math

import pytest
import torch
import torch.nn.functional as F
from hypothesis import given, settings

from nnfaq.judge import checks
from nnfaq.judge.exercises import EXERCISES, get_exercise
from nnfaq.judge.runner import Budget, TimeLimit, check_signature, format_event, run_checks
from nnfaq.judge.suites.training import _dims, _norm_cases

F64 = torch.float64


FEWER = 0.15  # the share of each check's random inputs a right answer is judged on here


def judge(exercise_id, fn, budget=None, examples=FEWER):
    """``(passed, events)`` of ``fn`` judged as the exercise, in process, on ``examples`` of the random inputs."""
    events, full = [], checks.EXAMPLES
    checks.EXAMPLES = examples
    try:
        ok = run_checks(get_exercise(exercise_id), fn, events.append, budget)
    finally:
        checks.EXAMPLES = full
    return ok, events


def failure(exercise_id, fn):
    """The one failure of a wrong ``fn``, judged on all the random inputs, as ``nnfaq judge`` does."""
    ok, events = judge(exercise_id, fn, examples=1.0)
    assert not ok, "the judge passed a wrong version"
    (fail,) = [e for e in events if e["type"] == "fail"]
    return fail


# --- the right answers pass ----------------------------------------------------------------------


def _reference(ex):
    module, _, name = ex.solution.rpartition(".")
    try:
        return getattr(importlib.import_module(module), name)
    except (ImportError, AttributeError):
        pytest.skip(f"{ex.solution} has not landed yet")


def _from_activation(name):
    """nnfaq's ``activation`` as a PyTorch-named function whose backward is nnfaq's written-out derivative."""
    from nnfaq.foundations.activations import activation

    class Fn(torch.autograd.Function):
        @staticmethod
        def forward(ctx, x, a):
            y, dy = activation(x, name, a)
            ctx.save_for_backward(dy)
            return y

        @staticmethod
        def backward(ctx, g):
            (dy,) = ctx.saved_tensors
            return g * dy, None

    if name == "leaky_relu":

        def leaky_relu(input, negative_slope=0.01):
            return Fn.apply(input, negative_slope)

        return leaky_relu

    def fn(input):
        return Fn.apply(input, 0.01)

    fn.__name__ = name
    return fn


def silu(input):
    if not isinstance(input, torch.Tensor):
        raise TypeError("input must be a tensor")
    return input * torch.sigmoid(input)


def top_p_filter(logits, p):
    if not isinstance(logits, torch.Tensor):
        raise TypeError("logits must be a tensor")
    if not 0 < p <= 1:
        raise ValueError(f"p must be in (0, 1], got {p}")
    probs, order = torch.softmax(logits, -1).sort(-1, descending=True)
    keep = torch.zeros_like(probs, dtype=torch.bool).scatter(-1, order, probs.cumsum(-1) - probs < p)
    return logits.masked_fill(~keep, -math.inf)


OURS = {"silu": silu, "top-p-filter": top_p_filter}
ACTIVATIONS = {"sigmoid", "tanh", "relu", "leaky-relu", "gelu"}


@pytest.mark.parametrize("ex", EXERCISES, ids=[e.id for e in EXERCISES])
def test_reference_passes(ex):
    """nnfaq's reference implementation passes its own exercise (activations through ``activation``)."""
    if ex.solution is None:
        pytest.skip("no reference in nnfaq")
    fn = _from_activation(ex.function) if ex.id in ACTIVATIONS else _reference(ex)
    ok, events = judge(ex.id, fn)
    assert ok, "\n".join(line for e in events for line in format_event(e))


@settings(max_examples=40)
@given(_norm_cases())
def test_float32_layer_norm_cases_have_no_group_of_nearly_equal_values(case):
    """On such a group float32 layer norm is ill-conditioned for any implementation, PyTorch's too: its
    gradient is off by more than float32's tolerance, and a correct layer norm failed (on [[2.183, 2.25]])."""
    x = case.args["input"]
    assert x.dtype == F64 or x.var(_dims(case.args["normalized_shape"]), unbiased=False).min().item() >= 1 / 16


@pytest.mark.parametrize("exercise_id", sorted(OURS))
def test_written_solution_passes(exercise_id):
    """Where nnfaq has no reference (yet), a correct solution written here passes."""
    ok, events = judge(exercise_id, OURS[exercise_id])
    assert ok, "\n".join(line for e in events for line in format_event(e))


def test_every_check_reports_a_line():
    ok, events = judge("softmax", importlib.import_module("nnfaq.foundations.output_layers").softmax)
    kinds = [e["kind"] for e in events if e["type"] == "pass"]
    assert ok and kinds[0] == "signature" and kinds == sorted(kinds, key=checks.KINDS.index)
    assert set(kinds) == set(checks.KINDS)
    assert events[-1] == {"type": "done", "ok": True, "passed": len(kinds)}


# --- the classic wrong versions are caught, by the property meant to catch them --------------------


def dropout_unscaled(input, p=0.5, training=True):
    return input * (torch.rand_like(input) >= p) if training else input


def dropout_unchecked(input, p=0.5, training=True):
    return input * (torch.rand_like(input) >= p) / (1 - p) if training and p else input


def dropout_seeded(input, p=0.5, training=True):
    g = torch.Generator().manual_seed(0)
    return input * (torch.rand(input.shape, generator=g, dtype=input.dtype) >= p) / (1 - p) if training else input


def softmax_unshifted(input, dim):
    e = torch.exp(input)
    return e / e.sum(dim, keepdim=True)


def log_softmax_of_softmax(input, dim):
    return torch.log(torch.softmax(input, dim))


def sigmoid_naive(input):
    return 1 / (1 + torch.exp(-input))


def relu_ge(input):
    return input * (input >= 0)


def batch_norm_biased_running(
    input, running_mean, running_var, weight=None, bias=None, training=False, momentum=0.1, eps=1e-5
):
    if not training:
        return F.batch_norm(input, running_mean, running_var, weight, bias, False, momentum, eps)
    dims = [d for d in range(input.dim()) if d != 1]
    mu, var = input.mean(dims), input.var(dims, unbiased=False)
    with torch.no_grad():
        running_mean.mul_(1 - momentum).add_(momentum * mu)
        running_var.mul_(1 - momentum).add_(momentum * var)  # the classic bug: biased
    return F.batch_norm(input, None, None, weight, bias, True, momentum, eps)


def batch_norm_batch_stats_in_eval(
    input, running_mean, running_var, weight=None, bias=None, training=False, momentum=0.1, eps=1e-5
):
    dims = [d for d in range(input.dim()) if d != 1]
    shape = [1, -1] + [1] * (input.dim() - 2)
    mu, var = input.mean(dims).view(shape), input.var(dims, unbiased=False).view(shape)
    y = (input - mu) / torch.sqrt(var + eps)
    return y * (1 if weight is None else weight.view(shape)) + (0 if bias is None else bias.view(shape))


def sdpa_by_d(query, key, value, attn_mask=None, dropout_p=0.0, is_causal=False, scale=None):
    s = query @ key.transpose(-2, -1) * (1 / query.shape[-1] if scale is None else scale)
    if is_causal:
        attn_mask = torch.ones(s.shape[-2:], dtype=torch.bool).tril()
    if attn_mask is not None:
        s = s.masked_fill(~attn_mask, -math.inf) if attn_mask.dtype == torch.bool else s + attn_mask
    return torch.softmax(s, -1) @ value


def sdpa_nan_rows(query, key, value, attn_mask=None, dropout_p=0.0, is_causal=False, scale=None):
    s = query @ key.transpose(-2, -1) * (query.shape[-1] ** -0.5 if scale is None else scale)
    if is_causal:
        attn_mask = torch.ones(s.shape[-2:], dtype=torch.bool).tril()
    if attn_mask is not None:
        s = s.masked_fill(~attn_mask, -math.inf) if attn_mask.dtype == torch.bool else s + attn_mask
    return torch.softmax(s, -1) @ value


def gqa_tiled(query, key, value, attn_mask=None, dropout_p=0.0, is_causal=False, scale=None, enable_gqa=False):
    if enable_gqa:
        g = query.shape[-3] // key.shape[-3]
        reps = (1,) * (key.dim() - 3) + (g, 1, 1)
        key, value = key.repeat(reps), value.repeat(reps)  # should be repeat_interleave
    return F.scaled_dot_product_attention(query, key, value, attn_mask, 0.0, is_causal, scale=scale)


def mha_scaled_by_d(
    query,
    key,
    value,
    num_heads,
    in_proj_weight,
    in_proj_bias,
    out_proj_weight,
    out_proj_bias,
    key_padding_mask=None,
    attn_mask=None,
):
    T, B, d = query.shape
    H = num_heads
    wq, wk, wv = in_proj_weight.chunk(3)
    bq, bk, bv = (None,) * 3 if in_proj_bias is None else in_proj_bias.chunk(3)

    def heads(x, w, b):
        return F.linear(x, w, b).reshape(x.shape[0], B, H, d // H).permute(1, 2, 0, 3)

    q, k, v = heads(query, wq, bq), heads(key, wk, bk), heads(value, wv, bv)
    s = q @ k.transpose(-2, -1) / math.sqrt(d)
    if attn_mask is not None:
        s = s.masked_fill(attn_mask, -math.inf) if attn_mask.dtype == torch.bool else s + attn_mask
    if key_padding_mask is not None:
        s = s.masked_fill(key_padding_mask[:, None, None], -math.inf)
    a = torch.softmax(s, -1)
    o = (a @ v).permute(2, 0, 1, 3).reshape(T, B, d)
    return F.linear(o, out_proj_weight, out_proj_bias), a.mean(1)


def cross_entropy_by_count(input, target, weight=None, ignore_index=-100, reduction="mean"):
    losses = F.cross_entropy(input, target, weight, ignore_index=ignore_index, reduction="none")
    if reduction == "mean":
        return losses.sum() / (target != ignore_index).sum()
    return losses.sum() if reduction == "sum" else losses


def max_pool_zero_padded(input, kernel_size, stride=None, padding=0, dilation=1, ceil_mode=False, return_indices=False):
    p = (padding, padding) if isinstance(padding, int) else padding
    x = F.pad(input, (p[1], p[1], p[0], p[0]))
    return F.max_pool2d(x, kernel_size, stride, 0, dilation, ceil_mode, return_indices)


def adam_uncorrected(param, grad, state, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.0):
    g = grad + weight_decay * param
    m = betas[0] * state.get("m", torch.zeros_like(param)) + (1 - betas[0]) * g
    v = betas[1] * state.get("v", torch.zeros_like(param)) + (1 - betas[1]) * g * g
    state.update(m=m, v=v)
    return param - lr * m / (v.sqrt() + eps)


def adamw_as_l2(param, grad, state, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=1e-2):
    opt_state = state.setdefault("adam", {})
    from nnfaq.training.optimizers import adam_step

    return adam_step(param, grad, opt_state, lr, betas, eps, weight_decay)


def sgd_dampened_first(param, grad, state, lr=1e-3, momentum=0.0, dampening=0.0, weight_decay=0.0, nesterov=False):
    g = grad + weight_decay * param
    if momentum:
        v = (1 - dampening) * g + momentum * state.get("v", torch.zeros_like(g))
        state["v"] = v
        g = g + momentum * v if nesterov else v
    return param - lr * g


def layer_norm_unbiased(input, normalized_shape, weight=None, bias=None, eps=1e-5):
    dims = tuple(range(-(1 if isinstance(normalized_shape, int) else len(normalized_shape)), 0))
    y = (input - input.mean(dims, keepdim=True)) / torch.sqrt(input.var(dims, keepdim=True) + eps)
    return y * (1 if weight is None else weight) + (0 if bias is None else bias)


def clip_each(parameters, max_norm, norm_type=2.0):
    params = [parameters] if isinstance(parameters, torch.Tensor) else list(parameters)
    norms = []
    for p in params:
        if p.grad is not None:
            norms.append(torch.nn.utils.clip_grad_norm_([p], max_norm, norm_type))
    return torch.linalg.vector_norm(torch.stack(norms), norm_type)


def lstm_ifog(input, hx, w_ih, w_hh, b_ih=None, b_hh=None):
    h, c = hx
    z = F.linear(input, w_ih, b_ih) + F.linear(h, w_hh, b_hh)
    i, f, o, g = z.chunk(4, 1)  # PyTorch's order is i, f, g, o
    c2 = torch.sigmoid(f) * c + torch.sigmoid(i) * torch.tanh(g)
    return torch.sigmoid(o) * torch.tanh(c2), c2


def kaiming_fan_out(tensor, a=0.0, mode="fan_in", nonlinearity="leaky_relu"):
    fan = tensor.shape[0] * math.prod(tensor.shape[2:])  # always the fan-out
    b = torch.nn.init.calculate_gain(nonlinearity, a) * math.sqrt(3 / fan)
    with torch.no_grad():
        return tensor.uniform_(-b, b)


def rope_half(x, positions=None, base=10000.0):
    T, D = x.shape[-2:]
    pos = torch.arange(T) if positions is None else positions
    angle = pos.double()[:, None] * base ** (-torch.arange(0, D, 2, dtype=F64) / D)
    cos, sin = angle.cos().to(x.dtype), angle.sin().to(x.dtype)
    x1, x2 = x[..., : D // 2], x[..., D // 2 :]
    return torch.cat((x1 * cos - x2 * sin, x1 * sin + x2 * cos), -1)


def top_p_strict(logits, p):
    probs, order = torch.softmax(logits, -1).sort(-1, descending=True)
    keep = torch.zeros_like(probs, dtype=torch.bool).scatter(-1, order, probs.cumsum(-1) <= p)
    return logits.masked_fill(~keep, -math.inf)


def online_softmax_nan(input, dim=-1, block_size=4):
    x = input.movedim(dim, -1)
    m = torch.full((*x.shape[:-1], 1), -math.inf, dtype=x.dtype)
    l = torch.zeros_like(m)
    for start in range(0, x.shape[-1], block_size):
        block = x[..., start : start + block_size]
        m_new = torch.maximum(m, block.amax(-1, keepdim=True))
        l = l * torch.exp(m - m_new) + torch.exp(block - m_new).sum(-1, keepdim=True)
        m = m_new
    return (torch.exp(x - m) / l).movedim(-1, dim)


def lora_alpha(input, weight, lora_A, lora_B, alpha, bias=None):
    return F.linear(input, weight, bias) + alpha * F.linear(F.linear(input, lora_A), lora_B)


def quantize_truncated(input, dim=None):
    others = [] if dim is None else [i for i in range(input.dim()) if i != dim % input.dim()]
    amax = input.abs().amax() if dim is None else input.abs().amax(others, keepdim=True) if others else input.abs()
    scale = torch.where(amax > 0, amax / 127, torch.ones_like(amax))
    return (input / scale).to(torch.int8), scale if dim is None else scale.flatten()


def sinusoidal_concatenated(T, d, base=10000.0, dtype=F64):
    t = torch.arange(T, dtype=F64)[:, None]
    omega = base ** (-torch.arange(0, d, 2, dtype=F64) / d)
    return torch.cat((torch.sin(t * omega), torch.cos(t * omega)), 1).to(dtype)


def decode_without_cache(query, key, value):
    return F.scaled_dot_product_attention(query, key, value)  # not causal


def embedding_grad_to_padding(input, weight, padding_idx=None):
    return weight[input]


def conv2d_flipped(input, weight, bias=None, stride=1, padding=0, dilation=1, groups=1):
    return F.conv2d(input, weight.flip(-1, -2), bias, stride, padding, dilation, groups)


def gelu_tanh(input):
    return F.gelu(input, approximate="tanh")


def cross_entropy_grad_sum(input, target):
    return torch.softmax(input, 1) - F.one_hot(target, input.shape[1]).to(input.dtype)


def softmax_renamed(x, axis):
    return torch.softmax(x, axis)


WRONG = [
    # (exercise, wrong version, the check meant to catch it, words its message must contain)
    ("dropout", dropout_unscaled, "forward", "not scaled: multiply the kept elements by 1 / (1 - p)"),
    ("dropout", dropout_seeded, "claim", "two different masks"),
    ("dropout", dropout_unchecked, "bad input", "p=1.5"),
    ("softmax", softmax_unshifted, "edge case", "overflow for logits near 1000"),
    ("softmax", softmax_renamed, "signature", "PyTorch's names"),
    ("log-softmax", log_softmax_of_softmax, "edge case", "must give about -1000, not -inf"),
    ("sigmoid", sigmoid_naive, "edge case", "stay finite"),
    ("relu", relu_ge, "claim", "derivative at exactly 0 must be 0"),
    ("gelu", gelu_tanh, "forward", "tanh approximation"),
    ("batch-norm", batch_norm_biased_running, "claim", "running variance must use the unbiased batch variance"),
    ("batch-norm", batch_norm_batch_stats_in_eval, "forward", "in evaluation (training=False) normalize with"),
    ("scaled-dot-product-attention", sdpa_by_d, "forward", "divided by D: divide by sqrt(D)"),
    ("scaled-dot-product-attention", sdpa_nan_rows, "edge case", "all masked must output zeros"),
    ("grouped-query-attention", gqa_tiled, "forward", "tiled in the wrong order"),
    ("multi-head-attention", mha_scaled_by_d, "forward", "1 / sqrt(D) with D = d / num_heads"),
    ("cross-entropy", cross_entropy_by_count, "forward", "sum of the weights of the counted targets"),
    ("cross-entropy-grad", cross_entropy_grad_sum, "forward", "divide p - y by the batch size"),
    ("max-pool2d", max_pool_zero_padded, "forward", "padding must be -inf"),
    ("adam", adam_uncorrected, "forward", "bias corrections are missing"),
    ("adamw", adamw_as_l2, "forward", "that is Adam's L2 regularization"),
    ("sgd-momentum", sgd_dampened_first, "forward", "undampened"),
    ("layer-norm", layer_norm_unbiased, "forward", "biased variance"),
    ("clip-grad-norm", clip_each, "forward", "clipped by its own norm"),
    ("lstm-cell", lstm_ifog, "forward", "gate order is i, f, g, o"),
    ("kaiming-uniform", kaiming_fan_out, "forward", "the fan is wrong"),
    ("rotary-embedding", rope_half, "forward", "rotate_half"),
    ("top-p-filter", top_p_strict, "forward", "keep the token that crosses p"),
    ("online-softmax", online_softmax_nan, "edge case", "exp(-inf - (-inf)) is NaN"),
    ("lora-linear", lora_alpha, "forward", "alpha / r"),
    ("int8-absmax-quantize", quantize_truncated, "forward", "not truncated"),
    ("sinusoidal-encoding", sinusoidal_concatenated, "forward", "interleave the sines and cosines"),
    ("kv-cache-decoding", decode_without_cache, "forward", "must be causal"),
    ("embedding", embedding_grad_to_padding, "gradient", "padding_idx row must get no gradient"),
    ("conv2d", conv2d_flipped, "forward", "the kernel is flipped"),
]


@pytest.mark.parametrize(("exercise_id", "fn", "kind", "words"), WRONG, ids=[f"{w[0]}:{w[1].__name__}" for w in WRONG])
def test_wrong_version_is_caught(exercise_id, fn, kind, words):
    fail = failure(exercise_id, fn)
    assert fail["kind"] == kind, fail
    assert words in fail["message"], fail["message"]


def test_failure_names_smallest_input_and_hint():
    fail = failure("softmax", softmax_unshifted)
    assert fail["input"] == "input = [[1000.0, 999.0, 998.0]] (float64), dim=-1"
    assert "subtract the maximum" in fail["hint"]
    fail = failure("scaled-dot-product-attention", sdpa_by_d)
    assert fail["smallest"] and "query" in fail["input"]


def test_exceptions_in_user_code_are_failures_not_tracebacks():
    def softmax(input, dim):
        return input / 0 if dim > 5 else {}["no such key"]

    fail = failure("softmax", softmax)
    assert fail["kind"] == "forward" and fail["message"].startswith("raised KeyError: 'no such key' (line ")
    assert fail["smallest"]


def test_not_implemented_says_so():
    def softmax(input, dim):
        raise NotImplementedError

    fail = failure("softmax", softmax)
    assert "not written yet" in fail["message"] and fail["input"] is None


def test_exit_and_time_limit_in_process():
    def softmax(input, dim):
        raise SystemExit(3)

    fail = failure("softmax", softmax)
    assert "sys.exit(3)" in fail["message"]

    def looping(input, dim):
        while True:
            pass

    looping.__name__ = "softmax"
    ok, events = judge("softmax", looping, Budget(total=2.0, per_check=0.5))
    (fail,) = [e for e in events if e["type"] == "fail"]
    assert not ok and fail["kind"] == "forward" and "did not finish" in fail["message"]
    assert isinstance(TimeLimit(), BaseException) and not isinstance(TimeLimit(), Exception)


# --- the signature -------------------------------------------------------------------------------


def test_signature_rules():
    ex = get_exercise("dropout")

    def ok(input, p=0.5, training=True, inplace=False):
        pass

    def bad_default(input, p=0.1, training=True):
        pass

    def required(input, p, training=True):
        pass

    def star(*args):
        pass

    def reordered(input, training=True, p=0.5):
        pass

    assert check_signature(ex, ok)[0]
    assert check_signature(ex, bad_default)[1] == "parameter p has default 0.1, expected 0.5 (PyTorch's)"
    assert "needs its default" in check_signature(ex, required)[1]
    assert "*args" in check_signature(ex, star)[1]
    assert "PyTorch's order" in check_signature(ex, reordered)[1]
    assert not check_signature(ex, 3)[0]

    def sinusoidal_encoding(T, d, base=10000.0, dtype=torch.float64):
        pass

    assert check_signature(get_exercise("sinusoidal-encoding"), sinusoidal_encoding)[0]

    def online_softmax(input, dim=-1, block_size=128):
        pass

    assert check_signature(get_exercise("online-softmax"), online_softmax)[0]  # block_size: any default
