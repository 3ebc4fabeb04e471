"""nnfaq.convnets.resampling: parity with PyTorch (forward and gradient, float64, on PyTorch's own OpInfo samples and on
hypothesis-drawn cases), the claims of its answers, and the refusals only it makes (the shared ones are rows of
tests/convnets/contract.py)."""

import itertools

import pytest
import torch
import torch.nn.functional as F
from helpers import agree, gen, opinfo_samples, rejects, seeds
from hypothesis import given, settings
from hypothesis import strategies as st
from torch.testing import assert_close

from nnfaq.convnets.resampling import VGG16, avg_pool2d, conv_transpose2d, max_pool2d, pool_output_size

F64 = torch.float64


def _two(v):
    return (v, v) if isinstance(v, int) else tuple(v)


def _pair(draw, values):
    a, b = draw(values), draw(values)
    return a if a == b and draw(st.booleans()) else (a, b)


def _shape(draw, channels, low=(1, 1)):
    """(B, C, H, W) with B in 0..2, or unbatched (C, H, W)."""
    batch = draw(st.sampled_from([None, 0, 1, 2]))
    return (*(() if batch is None else (batch,)), channels, *(draw(st.integers(lo, lo + 3)) for lo in low))


@st.composite
def pool_case(draw, dilated=True):
    kernel = _pair(draw, st.integers(1, 3))
    stride = draw(st.none() | st.integers(1, 3) | st.tuples(st.integers(1, 3), st.integers(1, 3)))
    padding = tuple(draw(st.integers(0, k // 2)) for k in _two(kernel))  # PyTorch: at most half the window
    dilation = _pair(draw, st.integers(1, 2)) if dilated else 1
    low = [max(1, d * (k - 1) + 1 - 2 * p) for k, d, p in zip(_two(kernel), _two(dilation), padding)]
    seed = draw(seeds)
    x = torch.randn(_shape(draw, draw(st.integers(1, 3)), low), generator=gen(seed), dtype=F64)
    kwargs = dict(kernel_size=kernel, stride=stride, padding=padding, ceil_mode=draw(st.booleans()))
    if dilated:
        kwargs["dilation"] = dilation
    return x, kwargs, seed


@st.composite
def transpose_case(draw):
    groups = draw(st.integers(1, 3))
    c_in, c_out = groups * draw(st.integers(1, 2)), groups * draw(st.integers(1, 2))
    kernel = (draw(st.integers(1, 4)), draw(st.integers(1, 4)))
    stride, dilation = _pair(draw, st.integers(1, 3)), _pair(draw, st.integers(1, 2))
    out_pad = tuple(draw(st.integers(0, max(s, d) - 1)) for s, d in zip(_two(stride), _two(dilation)))
    shape = _shape(draw, c_in)
    # padding that keeps the output size (n - 1)s - 2p + d(K - 1) + op + 1 at least 1
    room = [((n - 1) * s + d * (k - 1) + op) // 2 for n, s, d, k, op in
            zip(shape[-2:], _two(stride), _two(dilation), kernel, out_pad)]  # fmt: skip
    padding = tuple(draw(st.integers(0, min(r, 3))) for r in room)
    seed = draw(seeds)
    g = gen(seed)
    x = torch.randn(shape, generator=g, dtype=F64)
    w = torch.randn(c_in, c_out // groups, *kernel, generator=g, dtype=F64)
    b = torch.randn(c_out, generator=g, dtype=F64) if draw(st.booleans()) else None
    kwargs = dict(stride=stride, padding=padding, output_padding=out_pad, groups=groups, dilation=dilation)
    return x, w, b, kwargs, seed


# --- parity ----------------------------------------------------------------------------------------


def test_max_pool2d_matches_torch_on_its_opinfo_samples():
    # PyTorch's 1440 samples run 72 argument combinations over 6 input shapes, 288 samples per batched shape; each
    # combination once, on the first two shapes in turn (hypothesis draws the other shapes): values, indices, gradients
    groups = {}
    for s in opinfo_samples("nn.functional.max_pool2d", limit=2 * 288):
        groups.setdefault(repr({k: v for k, v in s.kwargs.items() if k != "return_indices"}), {})[s.input.shape] = s
    assert len(groups) == 72 and all(len(by_shape) == 2 for by_shape in groups.values())
    for i, by_shape in enumerate(groups.values()):
        s = list(by_shape.values())[i % 2]
        agree(max_pool2d, F.max_pool2d, s.input, seed=i, **{**s.kwargs, "return_indices": True})


def test_avg_pool2d_and_conv_transpose2d_match_torch_on_their_opinfo_samples():
    for i, s in enumerate(opinfo_samples("nn.functional.avg_pool2d")):
        if s.args[-1] is not None and s.args[-1] < 1:  # a negative divisor_override: refused on purpose (Notes)
            rejects("divisor_override", avg_pool2d, s.input, *s.args, **s.kwargs)
            continue
        agree(avg_pool2d, F.avg_pool2d, s.input, *s.args, seed=i, **s.kwargs)
    for i, s in enumerate(opinfo_samples("nn.functional.conv_transpose2d")):
        agree(conv_transpose2d, F.conv_transpose2d, s.input, *s.args, seed=i, **s.kwargs)


@settings(max_examples=12)
@given(pool_case())
def test_max_pool2d_matches_torch(case):
    x, kwargs, seed = case
    agree(max_pool2d, F.max_pool2d, x, seed=seed, return_indices=True, **kwargs)


@settings(max_examples=12)
@given(pool_case(dilated=False), st.booleans(), st.sampled_from([None, None, 1, 4]))
def test_avg_pool2d_matches_torch(case, count_include_pad, divisor_override):
    x, kwargs, seed = case
    agree(avg_pool2d, F.avg_pool2d, x, seed=seed, count_include_pad=count_include_pad,
          divisor_override=divisor_override, **kwargs)  # fmt: skip


@settings(max_examples=12)
@given(transpose_case())
def test_conv_transpose2d_matches_torch(case):
    x, w, b, kwargs, seed = case
    agree(conv_transpose2d, F.conv_transpose2d, x, w, b, seed=seed, **kwargs)


@given(pool_case())
def test_pool_output_size_is_the_shape_torch_produces(case):
    x, kwargs, _ = case
    kernel, padding, dilation = _two(kwargs["kernel_size"]), kwargs["padding"], _two(kwargs["dilation"])
    stride = kernel if kwargs["stride"] is None else _two(kwargs["stride"])
    expected = F.max_pool2d(x, **kwargs).shape[-2:]
    for n, k, s, p, d, out in zip(x.shape[-2:], kernel, stride, padding, dilation, expected):
        assert pool_output_size(n, k, s, p, d, kwargs["ceil_mode"]) == out
        assert pool_output_size(n, k, s, p, d, False) <= out <= pool_output_size(n, k, s, p, d, True)


def test_one_element_tuples_are_repeated_as_in_torch():
    x, w = torch.randn(1, 2, 6, 6, dtype=F64), torch.randn(2, 3, 2, 2, dtype=F64)
    args = dict(kernel_size=(3,), stride=(2,), padding=(1,), dilation=(1,))
    assert torch.equal(max_pool2d(x, **args), F.max_pool2d(x, **args))
    assert_close(conv_transpose2d(x, w, stride=(2,)), F.conv_transpose2d(x, w, stride=(2,)))


# --- claims ----------------------------------------------------------------------------------------


@settings(max_examples=12)
@given(pool_case())
def test_max_pooling_scatters_each_windows_gradient_to_its_argmax(case):
    x, kwargs, seed = case
    x = x.reshape(-1, *x.shape[-3:]).requires_grad_()  # (B, C, H, W)
    y, idx = max_pool2d(x, return_indices=True, **kwargs)
    g = torch.randn(y.shape, generator=gen(seed), dtype=F64)
    y.backward(g)
    B, C, H, W = x.shape
    routed = torch.zeros(B, C, H * W, dtype=F64).scatter_add(2, idx.flatten(2), g.flatten(2)).view_as(x)
    assert torch.equal(x.grad, routed)  # overlapping windows that pick the same input add up
    assert torch.equal(y, x.detach().flatten(2).gather(2, idx.flatten(2)).view_as(y))


@pytest.mark.parametrize("kwargs", [{"kernel_size": 2}, {"kernel_size": 3, "stride": 1, "padding": 1},
                                    {"kernel_size": 3, "stride": 2, "dilation": 2, "ceil_mode": True}])  # fmt: skip
def test_a_tie_goes_to_the_first_maximum_of_the_window_as_in_torch(kwargs):
    x = torch.randint(0, 2, (2, 3, 7, 7), generator=gen(0)).double()  # many ties
    agree(max_pool2d, F.max_pool2d, x, return_indices=True, **kwargs)


def test_indices_are_what_max_unpool2d_takes():
    x = torch.randn(2, 3, 8, 8, dtype=F64)
    y, idx = max_pool2d(x, 2, return_indices=True)
    back = F.max_unpool2d(y, idx, 2)
    assert torch.equal(back[back != 0], x[back != 0]) and int((back != 0).sum()) == y.numel()


def test_max_pooling_ignores_shifts_inside_a_window_only():
    peak = torch.zeros(1, 1, 6, 6)
    peak[0, 0, 2, 2] = 1.0
    assert torch.equal(max_pool2d(peak, 2), max_pool2d(peak.roll(1, 3), 2))  # column 2 -> 3, same window
    assert not torch.equal(max_pool2d(peak, 2), max_pool2d(peak.roll(-1, 3), 2))  # column 2 -> 1, next window
    images = torch.randn(20, 1, 16, 16, generator=gen(0))
    changed = (max_pool2d(images, 2) != max_pool2d(images.roll(1, 3), 2)).flatten(1).any(1)
    assert bool(changed.all())  # a one-pixel shift changes every random image's pooled map
    # a stride-2 pool is equivariant to even shifts (with circular wrap-around): output moves by half
    assert torch.equal(max_pool2d(images.roll(2, 3), 2), max_pool2d(images, 2).roll(1, 3))


def test_pooling_has_no_parameters_and_gap_is_the_mean_and_a_depthwise_box_filter():
    for layer in (torch.nn.MaxPool2d(2), torch.nn.AvgPool2d(3), torch.nn.AdaptiveAvgPool2d(1)):
        assert sum(p.numel() for p in layer.parameters()) == 0
    x = torch.randn(2, 3, 8, 8, dtype=F64)
    assert_close(avg_pool2d(x, 8).flatten(1), x.mean((2, 3)))
    assert_close(avg_pool2d(x, 2), F.conv2d(x, torch.full((3, 1, 2, 2), 0.25, dtype=F64), stride=2, groups=3))


def test_gap_head_is_a_fraction_of_vggs_dense_layer():
    dense = VGG16["channels"] * VGG16["height"] * VGG16["width"] * VGG16["hidden"] + VGG16["hidden"]
    gap = VGG16["channels"] * VGG16["classes"] + VGG16["classes"]
    assert dense == 102_764_544 and dense / gap > 200


@pytest.mark.parametrize("seed", [1, 2])
def test_a_network_with_global_average_pooling_still_memorizes_random_labels(seed):
    torch.manual_seed(seed)
    images, labels = torch.randn(16, 3, 8, 8), torch.randint(0, 2, (16,))
    net = torch.nn.Sequential(
        torch.nn.Conv2d(3, 32, 3), torch.nn.ReLU(), torch.nn.Conv2d(32, 32, 3), torch.nn.ReLU(),
        torch.nn.AdaptiveAvgPool2d(1), torch.nn.Flatten(), torch.nn.Linear(32, 2),
    )  # fmt: skip
    opt = torch.optim.Adam(net.parameters(), lr=1e-2)
    for _ in range(50):
        opt.zero_grad()
        F.cross_entropy(net(images), labels).backward()
        opt.step()
    assert bool((net(images).argmax(1) == labels).all())


@settings(max_examples=12)
@given(transpose_case())
def test_conv_transpose2d_is_the_adjoint_and_the_input_gradient_of_conv2d(case):
    y, w, _, kwargs, seed = case
    kwargs = dict(kwargs)
    out_pad = kwargs.pop("output_padding")
    if any(op >= s for op, s in zip(out_pad, _two(kwargs["stride"]))):
        return  # output_padding >= stride (allowed by a larger dilation) adds rows the convolution would read
    t = conv_transpose2d(y, w, output_padding=out_pad, **kwargs)
    z = torch.randn(t.shape, generator=gen(seed), dtype=F64, requires_grad=True)
    inner = (F.conv2d(z, w, **kwargs) * y).sum()
    assert_close(inner, (z * t).sum())
    assert_close(torch.autograd.grad(inner, z)[0], t)


def test_transposed_convolution_is_not_the_inverse_and_uneven_overlap_makes_a_checkerboard():
    x, k = torch.randn(1, 1, 8, 8, dtype=F64), torch.randn(1, 1, 3, 3, dtype=F64)
    back = conv_transpose2d(F.conv2d(x, k), k)
    assert back.shape == x.shape and not torch.allclose(back, x, atol=1e-3)
    ones = torch.ones(1, 1, 6, 6, dtype=F64)
    uneven = conv_transpose2d(ones, torch.ones(1, 1, 3, 3, dtype=F64), stride=2)[0, 0, 2:-2, 2:-2]
    assert set(uneven.unique().tolist()) == {1.0, 2.0, 4.0}
    assert conv_transpose2d(ones, torch.ones(1, 1, 4, 4, dtype=F64), stride=2)[0, 0, 3:-3, 3:-3].unique().tolist() == [
        4.0
    ]


def test_pool_output_size_claims():
    assert (pool_output_size(7, 2), pool_output_size(7, 2, ceil_mode=True)) == (3, 4)
    assert pool_output_size(112, 3, stride=2, padding=1) == 56
    assert pool_output_size(5, 2, stride=2, padding=1, ceil_mode=True) == 3  # no window starts in the padding


# --- bad input -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("kwargs", "name"),
    [
        ({"weight": torch.randn(3, 2, 3, 3)}, "weight"),  # 3 input channels in the weight, 4 in the input
        ({"bias": torch.randn(3)}, "bias"),  # C_out = 2 * 2
        ({"groups": 3}, "groups"),
        ({"output_padding": 2, "stride": 2}, "output_padding"),
        ({"padding": 5}, "padding"),  # the output would be empty
        ({"weight": torch.randn(4, 2, 3, 3, dtype=F64)}, "weight"),  # dtype differs from the input's
        ({"input": torch.randn(1, 0, 3, 3), "weight": torch.randn(0, 2, 3, 3)}, "weight"),
    ],
)
def test_conv_transpose2d_refuses_inconsistent_shapes(kwargs, name):
    call = {"input": torch.randn(1, 4, 3, 3), "weight": torch.randn(4, 2, 3, 3), "groups": 2, **kwargs}
    rejects(name, conv_transpose2d, **call)


@pytest.mark.parametrize("fn", [max_pool2d, avg_pool2d])
@pytest.mark.parametrize(
    ("kwargs", "name"),
    [({"padding": 2}, "padding"), ({"kernel_size": 6}, "kernel_size"), ({"stride": 0}, "stride")],
)
def test_pooling_refuses_padding_over_half_the_window_and_windows_that_do_not_fit(fn, kwargs, name):
    rejects(name, fn, torch.randn(1, 2, 5, 5), **{"kernel_size": 3, **kwargs})
    rejects("input", fn, torch.randn(1, 2, 0, 5), 1)


def test_max_pool2d_edge_windows_match_torch():
    """Small inputs where windows run into the padding: -inf inputs, windows wholly in the padding (dilation),
    ceil mode with a kernel wider than the padded input. Values and indices equal PyTorch's wherever it pools;
    it refuses where we refuse. Gradients equal PyTorch's where every window has a tap inside the input; a window
    wholly in the padding routes no gradient (PyTorch sends it to an input outside the window, or past the end
    of the input: its backward then corrupts memory, so it is not called there)."""
    checked = past_the_end = 0
    for h, w, k, s, p, d, ceil in itertools.product((1, 2, 3, 5), (1, 4), (1, 2, 3), (1, 3), (0, 1), (1, 2), (0, 1)):
        x = torch.randn(1, 2, h, w, generator=gen(h * 7 + w), dtype=torch.float64)
        x[0, 1, 0, 0] = -float("inf")
        x[0, 1, min(1, h - 1), :] = -float("inf")
        args = dict(kernel_size=k, stride=s, padding=p, dilation=d, ceil_mode=bool(ceil))
        try:
            y_ref, i_ref = F.max_pool2d(x, **args, return_indices=True)
        except RuntimeError:
            with pytest.raises(ValueError, match="kernel_size|padding"):
                max_pool2d(x, **args)
            continue
        y, i = max_pool2d(x, **args, return_indices=True)
        assert torch.equal(y, y_ref) and torch.equal(i, i_ref), args
        xa = x.clone().requires_grad_()
        max_pool2d(xa, **args).sum().backward()
        rows = s * torch.arange(y.shape[-2])[:, None] - p + d * torch.arange(k)
        cols = s * torch.arange(y.shape[-1])[:, None] - p + d * torch.arange(k)
        has_tap = ((rows >= 0) & (rows < h)).any(1)[:, None] & ((cols >= 0) & (cols < w)).any(1)  # (H_out, W_out)
        if not has_tap.all():  # each window with a tap routes its 1 to one input; the others route nothing
            assert int(xa.grad.sum()) == 2 * int(has_tap.sum()) and bool(torch.isneginf(y[..., ~has_tap]).all())
            past_the_end += bool((i_ref >= h * w).any())
            continue
        xb = x.clone().requires_grad_()
        F.max_pool2d(xb, **args).sum().backward()
        assert torch.equal(xa.grad, xb.grad), args
        checked += 1
    assert checked > 100
    assert past_the_end > 0  # the Notes' "may point outside the window": here past the end of the input


def test_max_pool2d_refuses_a_dilated_window_that_does_not_fit_and_avg_pool2d_a_bad_divisor():
    rejects("kernel_size", max_pool2d, torch.randn(1, 1, 5, 5), 3, dilation=3)
    rejects("divisor_override", avg_pool2d, torch.randn(1, 1, 5, 5), 2, divisor_override=0)
    rejects("padding", pool_output_size, 8, 2, padding=2)
