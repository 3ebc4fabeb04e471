"""nnfaq.efficiency.quantization against torch's quantizers and observers, the published NF4 table, and its claims."""

import pytest
import torch
from helpers import gen, rejects, seeds
from hypothesis import given
from hypothesis import strategies as st
from torch.ao.quantization.observer import MinMaxObserver, PerChannelMinMaxObserver

from nnfaq.efficiency._configs import LLAMA2_7B, decoder_parameters
from nnfaq.efficiency.quantization import (
    NF4_PUBLISHED,
    absmax_quantize,
    bits_per_parameter,
    dequantize,
    dequantize_blockwise,
    nf4_levels,
    quantize_blockwise,
    zero_point_quantize,
)

F64 = torch.float64
# torch 2.13 deprecates quantized tensors (qint8, quint8) but still computes them: they are the reference
DEPRECATED = pytest.mark.filterwarnings("ignore:torch.quantize_per_tensor:UserWarning")
shapes = st.lists(st.integers(1, 6), min_size=1, max_size=3).map(tuple)


def _draw(shape, seed, scale=3.0):
    return torch.randn(shape, generator=gen(seed)) * scale


# --- absmax_quantize -----------------------------------------------------------------------------


@DEPRECATED
@given(shape=shapes, seed=seeds)
def test_absmax_per_tensor_matches_quantize_per_tensor(shape, seed):
    x = _draw(shape, seed)
    q, s = absmax_quantize(x)
    ref = torch.quantize_per_tensor(x, s.item(), 0, torch.qint8)
    assert torch.equal(q, ref.int_repr())
    assert torch.equal(dequantize(q, s), ref.dequantize())


@DEPRECATED
@given(shape=shapes, seed=seeds, data=st.data())
def test_absmax_per_channel_matches_quantize_per_channel(shape, seed, data):
    dim = data.draw(st.integers(-len(shape), len(shape) - 1))
    x = _draw(shape, seed)
    q, s = absmax_quantize(x, dim=dim)
    assert s.shape == (x.shape[dim],)
    zeros = torch.zeros(x.shape[dim], dtype=torch.int64)
    ref = torch.quantize_per_channel(x, s.double(), zeros, dim % x.dim(), torch.qint8)
    assert torch.equal(q, ref.int_repr())
    assert torch.equal(dequantize(q, s, dim=dim), ref.dequantize())


def test_absmax_rounds_half_to_even_like_torch():
    q, s = absmax_quantize(torch.tensor([127.0, 2.5, 3.5, -2.5, 0.5]))
    assert s.item() == 1.0
    assert q.tolist() == [127, 2, 4, -2, 0]


@given(shape=shapes, seed=seeds)
def test_absmax_error_is_at_most_half_a_scale_and_extremes_are_127(shape, seed):
    x = _draw(shape, seed).double()
    for dim in (None, 0):
        q, s = absmax_quantize(x, dim)
        scale = s if dim is None else s.reshape(-1, *[1] * (x.dim() - 1))
        assert bool(((dequantize(q, s, dim=dim) - x).abs() <= scale / 2 * (1 + 1e-12)).all())
        assert q.abs().max().item() == 127
        assert q.dtype == torch.int8 and q.min().item() >= -127


def test_absmax_of_zeros_is_exact():
    q, s = absmax_quantize(torch.zeros(2, 3), dim=1)
    assert s.tolist() == [1.0, 1.0, 1.0] and bool((q == 0).all())


def test_absmax_rejects_bad_input():
    rejects("input", absmax_quantize, torch.tensor([1.0, float("nan")]))
    rejects("input", absmax_quantize, torch.empty(0))
    rejects("dim", absmax_quantize, torch.ones(2, 3), dim=2)
    rejects("dim", absmax_quantize, torch.ones(2, 3), dim=True)
    rejects("dim", absmax_quantize, torch.tensor(1.0), dim=0)


# --- zero_point_quantize -------------------------------------------------------------------------


@DEPRECATED
@given(shape=shapes, seed=seeds, shift=st.sampled_from([0.0, 2.0, -5.0]))
def test_zero_point_matches_min_max_observer_and_quantize_per_tensor(shape, seed, shift):
    x = _draw(shape, seed) + shift
    q, s, z = zero_point_quantize(x)
    observer = MinMaxObserver(dtype=torch.quint8)
    observer(x)
    ref_s, ref_z = observer.calculate_qparams()
    torch.testing.assert_close(s, ref_s[0])
    assert z.item() == ref_z.item()
    ref = torch.quantize_per_tensor(x, s.item(), z.item(), torch.quint8)
    assert torch.equal(q, ref.int_repr())
    assert torch.equal(dequantize(q, s, z), ref.dequantize())


@DEPRECATED
@given(seed=seeds, dim=st.integers(0, 1))
def test_zero_point_per_channel_matches_per_channel_observer(seed, dim):
    x = _draw((4, 5), seed) + torch.tensor([0.0, 3.0, -4.0, 10.0, 0.5])  # channels of different offsets
    q, s, z = zero_point_quantize(x, dim=dim)
    observer = PerChannelMinMaxObserver(ch_axis=dim, dtype=torch.quint8)
    observer(x)
    ref_s, ref_z = observer.calculate_qparams()
    torch.testing.assert_close(s, ref_s)
    assert torch.equal(z, ref_z.long())
    ref = torch.quantize_per_channel(x, s.double(), z, dim, torch.quint8)
    assert torch.equal(q, ref.int_repr())
    assert torch.equal(dequantize(q, s, z, dim=dim), ref.dequantize())


@given(seed=seeds)
def test_zero_point_keeps_zero_exact_and_halves_the_error_on_relu_outputs(seed):
    h = torch.randn(2000, generator=gen(seed), dtype=F64).relu()
    q, s, z = zero_point_quantize(h)
    assert z.item() == 0 and bool((dequantize(q, s, z)[h == 0] == 0).all())
    qa, sa = absmax_quantize(h)
    ours = (dequantize(q, s, z) - h).abs().mean()
    absmax = (dequantize(qa, sa) - h).abs().mean()
    assert 0.4 < (ours / absmax).item() < 0.6
    x = torch.randn(50, generator=gen(seed), dtype=F64) - 3.0  # mostly negative: 0 still exact
    q, s, z = zero_point_quantize(torch.cat([x, torch.zeros(1, dtype=F64)]))
    assert dequantize(q, s, z)[-1].item() == 0.0


# --- dequantize and outliers ---------------------------------------------------------------------


@given(seed=seeds, outlier=st.sampled_from([30.0, 100.0, -300.0]))
def test_an_outlier_spoils_per_tensor_scales_and_per_channel_contains_it(seed, outlier):
    W = torch.randn(8, 64, generator=gen(seed), dtype=F64)
    W_out = W.clone()
    W_out[0, 3] = outlier

    def error(W, dim):
        q, s = absmax_quantize(W, dim)
        return (dequantize(q, s, dim=dim) - W)[1:].abs().mean()

    assert error(W_out, None) > 5 * error(W, None)
    q, s = absmax_quantize(W_out, dim=0)
    q0, s0 = absmax_quantize(W, dim=0)
    assert torch.equal(q[1:], q0[1:]) and torch.equal(s[1:], s0[1:])  # the other rows: exactly as before


def test_dequantize_rejects_bad_arguments():
    q, s = absmax_quantize(torch.randn(3, 4), dim=0)
    rejects("q", dequantize, q.float(), s, dim=0)
    rejects("scale", dequantize, q, s, dim=1)
    rejects("scale", dequantize, q, s)
    rejects("zero_point", dequantize, q, s, 0.5, dim=0)
    rejects("zero_point", dequantize, q, s, torch.zeros(4, dtype=torch.int64), dim=0)
    rejects("zero_point", dequantize, q, s, torch.zeros(3), dim=0)
    rejects("dim", dequantize, q, s, dim=2)


# --- NF4 and block-wise quantization -------------------------------------------------------------


def test_nf4_levels_match_the_published_table_and_construction():
    levels = nf4_levels()
    torch.testing.assert_close(levels, torch.tensor(NF4_PUBLISHED, dtype=F64), atol=1e-6, rtol=0)
    assert levels[0].item() == -1.0 and levels[-1].item() == 1.0 and levels[7].item() == 0.0
    assert bool((levels.diff() > 0).all())
    gaps = levels.diff()
    assert bool((gaps[:7].diff() < 0).all() and (gaps[7:].diff() > 0).all())  # densest at 0, widening outwards


@given(seed=seeds)
def test_nf4_beats_a_uniform_4_bit_grid_on_normal_weights(seed):
    w = torch.randn(128, 64, generator=gen(seed), dtype=F64)
    uniform = torch.linspace(-1, 1, 16, dtype=F64)

    def error(code):
        return (dequantize_blockwise(*quantize_blockwise(w, code), code) - w).pow(2).mean()

    assert error(nf4_levels()) < 0.9 * error(uniform)


@given(seed=seeds, blocksize=st.sampled_from([8, 16, 64]))
def test_quantize_blockwise_picks_the_nearest_level_of_each_block(seed, blocksize):
    w = torch.randn(4, 64, generator=gen(seed), dtype=F64)
    code = nf4_levels()
    codes, absmax = quantize_blockwise(w, code, blocksize)
    blocks = w.reshape(-1, blocksize)
    torch.testing.assert_close(absmax, blocks.abs().amax(1))
    distance = (blocks[..., None] / absmax[:, None, None] - code).abs()  # (blocks, blocksize, 16)
    chosen = distance.gather(-1, codes.reshape(-1, blocksize, 1).long())
    assert bool((chosen <= distance.min(-1, keepdim=True).values).all())


def test_blockwise_zero_block_and_refusals():
    codes, absmax = quantize_blockwise(torch.zeros(64), nf4_levels())
    assert absmax.tolist() == [1.0] and bool((codes == 7).all())  # index 7 is NF4's exact 0
    rejects("blocksize", quantize_blockwise, torch.zeros(60), nf4_levels())
    rejects("code", quantize_blockwise, torch.zeros(64), torch.linspace(-1, 1, 300))
    rejects("codes", dequantize_blockwise, codes.long(), absmax, nf4_levels())
    rejects("absmax", dequantize_blockwise, codes, torch.ones(2), nf4_levels())
    rejects("codes", dequantize_blockwise, torch.full((64,), 20, dtype=torch.uint8), absmax, nf4_levels())


# --- bits per parameter --------------------------------------------------------------------------


def test_bits_per_parameter_formulas():
    assert bits_per_parameter() == 4.5
    assert bits_per_parameter(double_quant=True) == 4 + 8 / 64 + 32 / (64 * 256)
    assert bits_per_parameter(bits=8, blocksize=2048) == 8 + 32 / 2048
    assert bits_per_parameter(double_quant=True, dq_bits=8, dq_blocksize=1) == 4 + 8 / 64 + 32 / 64


def test_llama2_7b_parameter_count_and_memory():
    n = decoder_parameters(LLAMA2_7B)[0]
    assert n == 6_738_415_616  # "6.74B", as reported for meta-llama/Llama-2-7b-hf
    assert round(n * 2 / 1e9, 2) == 13.48
    assert round(n * bits_per_parameter(double_quant=True) / 8 / 1e9, 2) == 3.48
