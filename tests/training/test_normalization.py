"""nnfaq.training.normalization against PyTorch (forward and gradients, float64), its claims and its refusals."""

import pytest
import torch
import torch.nn.functional as F
from helpers import gen, rejects
from hypothesis import given
from hypothesis import strategies as st
from torch.autograd.functional import jacobian
from torch.testing import assert_close

from nnfaq.training.normalization import (
    group_norm,
    instance_norm,
    layer_norm,
    parameters_and_buffers,
    residual_sublayer,
    rms_norm,
    values_per_statistic,
)

F64 = torch.float64


def same_values_and_grads(ours_fn, ref_fn, *tensors, seed=0):
    """Both functions of the same leaves agree in value and in every leaf's gradient (None stays None)."""
    a = [t.clone().requires_grad_() if t is not None else None for t in tensors]
    b = [t.clone().requires_grad_() if t is not None else None for t in tensors]
    ours, ref = ours_fn(*a), ref_fn(*b)
    assert_close(ours, ref)
    g = torch.randn(ref.shape, generator=gen(seed + 1), dtype=ref.dtype)
    ours.backward(g)
    ref.backward(g)
    for mine, theirs in zip(a, b):
        if mine is not None:
            assert_close(mine.grad, theirs.grad)


def randn(*shape, seed=0, scale=2.0, shift=1.0):
    return shift + scale * torch.randn(shape, generator=gen(seed), dtype=F64)


# --- parity --------------------------------------------------------------------------------------


@given(
    lead=st.lists(st.integers(1, 3), max_size=2),
    norm_dims=st.lists(st.integers(1, 4), min_size=1, max_size=2),
    affine=st.booleans(),
    eps=st.sampled_from([1e-5, 1e-2, 0.5]),
    seed=st.integers(0, 2**16),
)
def test_layer_norm_matches_torch(lead, norm_dims, affine, eps, seed):
    shape = (*lead, *norm_dims)
    if len(norm_dims) == 1 and norm_dims[0] == 1:
        shape = (*lead, 2)  # a single normalized value has variance 0: fine, but say something
    ns = shape[len(lead) :]
    x = randn(*shape, seed=seed)
    w = randn(*ns, seed=seed + 2) if affine else None
    b = randn(*ns, seed=seed + 3) if affine else None
    same_values_and_grads(
        lambda x, w, b: layer_norm(x, ns, w, b, eps), lambda x, w, b: F.layer_norm(x, ns, w, b, eps), x, w, b, seed=seed
    )


@given(
    B=st.integers(1, 3),
    groups=st.integers(1, 3),
    per_group=st.integers(1, 3),
    spatial=st.lists(st.integers(1, 3), max_size=2),
    affine=st.booleans(),
    seed=st.integers(0, 2**16),
)
def test_group_norm_matches_torch(B, groups, per_group, spatial, affine, seed):
    C = groups * per_group
    x = randn(B, C, *spatial, seed=seed)
    if x[0, :per_group].numel() < 2:
        x = randn(B, C, *spatial, 2, seed=seed)
    w = randn(C, seed=seed + 2) if affine else None
    b = randn(C, seed=seed + 3) if affine else None
    same_values_and_grads(
        lambda x, w, b: group_norm(x, groups, w, b), lambda x, w, b: F.group_norm(x, groups, w, b), x, w, b, seed=seed
    )


@given(
    B=st.integers(1, 3),
    C=st.integers(1, 3),
    spatial=st.lists(st.integers(1, 4), min_size=1, max_size=2),
    affine=st.booleans(),
    stats=st.booleans(),
    use_input_stats=st.booleans(),
    momentum=st.floats(0.0, 1.0),
    seed=st.integers(0, 2**16),
)
def test_instance_norm_matches_torch(B, C, spatial, affine, stats, use_input_stats, momentum, seed):
    if use_input_stats and torch.Size(spatial).numel() < 2:
        spatial = [*spatial, 2]
    stats = stats or not use_input_stats
    x = randn(B, C, *spatial, seed=seed)
    w = randn(C, seed=seed + 2) if affine else None
    b = randn(C, seed=seed + 3) if affine else None
    rm = randn(C, seed=seed + 4) if stats else None
    rv = torch.rand(C, generator=gen(seed + 5), dtype=F64) + 0.1 if stats else None
    rm_ref, rv_ref = (rm.clone(), rv.clone()) if stats else (None, None)
    same_values_and_grads(
        lambda x, w, b: instance_norm(x, rm, rv, w, b, use_input_stats, momentum),
        lambda x, w, b: F.instance_norm(x, rm_ref, rv_ref, w, b, use_input_stats, momentum),
        x,
        w,
        b,
        seed=seed,
    )
    if stats:
        assert_close(rm, rm_ref)
        assert_close(rv, rv_ref)


@given(
    lead=st.lists(st.integers(1, 3), max_size=2),
    norm_dims=st.lists(st.integers(1, 4), min_size=1, max_size=2),
    affine=st.booleans(),
    eps=st.sampled_from([None, 1e-6, 0.1]),
    seed=st.integers(0, 2**16),
)
def test_rms_norm_matches_torch(lead, norm_dims, affine, eps, seed):
    shape = (*lead, *norm_dims)
    ns = tuple(norm_dims)
    x = randn(*shape, seed=seed)
    w = randn(*ns, seed=seed + 2) if affine else None
    same_values_and_grads(lambda x, w: rms_norm(x, ns, w, eps), lambda x, w: F.rms_norm(x, ns, w, eps), x, w)


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_rms_norm_default_eps_is_the_dtype_machine_epsilon(dtype):
    x = torch.zeros(2, 4, dtype=dtype)
    x[0, 0] = 1e-4  # tiny rows make eps visible
    assert_close(rms_norm(x, (4,)), F.rms_norm(x, (4,)))
    eps = torch.finfo(dtype).eps
    assert_close(rms_norm(x, (4,)), x / torch.sqrt((x**2).mean(-1, keepdim=True) + eps))


def test_modules_drop_in():
    x = randn(3, 6, 4, 4)
    ln, gn, rn = torch.nn.LayerNorm((6, 4, 4), dtype=F64), torch.nn.GroupNorm(2, 6, dtype=F64), torch.nn.RMSNorm(4)
    inn = torch.nn.InstanceNorm2d(6, affine=True, track_running_stats=True, dtype=F64)
    assert_close(layer_norm(x, ln.normalized_shape, ln.weight, ln.bias, ln.eps), ln(x))
    assert_close(group_norm(x, gn.num_groups, gn.weight, gn.bias, gn.eps), gn(x))
    assert_close(rms_norm(x.float(), rn.normalized_shape, rn.weight, rn.eps), rn(x.float()))
    rm, rv = inn.running_mean.clone(), inn.running_var.clone()
    assert_close(instance_norm(x, rm, rv, inn.weight, inn.bias), inn(x))
    assert_close(rm, inn.running_mean)
    inn.eval()
    assert_close(instance_norm(x, rm, rv, inn.weight, inn.bias, use_input_stats=False), inn(x))


def test_gradcheck():
    x = randn(2, 4, 3).requires_grad_()
    w = randn(3).requires_grad_()
    assert torch.autograd.gradcheck(lambda x, w: layer_norm(x, (3,), w), (x, w))
    assert torch.autograd.gradcheck(lambda x, w: rms_norm(x, (3,), w, 1e-6), (x, w))
    assert torch.autograd.gradcheck(lambda x: group_norm(x, 2), (x,))
    assert torch.autograd.gradcheck(lambda x: instance_norm(x), (x,))


# --- claims --------------------------------------------------------------------------------------


@pytest.mark.parametrize("seed", range(5))
def test_identities_between_the_layers(seed):
    x = randn(3, 6, 4, 5, seed=seed)
    w, b = randn(6, seed=seed + 1), randn(6, seed=seed + 2)
    assert_close(group_norm(x, 1), layer_norm(x, (6, 4, 5)))
    W, Bb = w[:, None, None].expand(6, 4, 5), b[:, None, None].expand(6, 4, 5)
    assert_close(group_norm(x, 1, w, b), layer_norm(x, (6, 4, 5), W, Bb))
    assert_close(group_norm(x, 6, w, b), instance_norm(x, weight=w, bias=b))
    # instance norm is batch norm on each example alone; batch norm on a batch of one image is instance norm
    assert_close(instance_norm(x[:1]), F.batch_norm(x[:1], None, None, training=True))
    # group norm with G groups is layer norm over each group's channels and positions
    per_group = layer_norm(x.reshape(3, 3, 2, 4, 5), (2, 4, 5)).reshape(x.shape)
    assert_close(group_norm(x, 3), per_group)


@pytest.mark.parametrize("seed", range(5))
def test_only_batch_norm_depends_on_the_batch(seed):
    x = randn(8, 4, 3, 3, seed=seed)
    for fn in (
        lambda t: layer_norm(t, (4, 3, 3)),
        lambda t: group_norm(t, 2),
        instance_norm,
        lambda t: rms_norm(t, (3, 3)),
    ):
        assert_close(fn(x[:2]), fn(x)[:2])
    assert not torch.allclose(
        F.batch_norm(x[:2], None, None, training=True), F.batch_norm(x, None, None, training=True)[:2]
    )


@pytest.mark.parametrize("seed", range(5))
def test_rms_norm_is_layer_norm_on_zero_mean_rows_only(seed):
    x = randn(5, 7, seed=seed)
    z = x - x.mean(-1, keepdim=True)
    w = randn(7, seed=seed + 1)
    assert_close(rms_norm(z, 7, w, eps=1e-5), layer_norm(z, 7, w, eps=1e-5))
    assert not torch.allclose(rms_norm(x, 7, w, eps=1e-5), layer_norm(x, 7, w, eps=1e-5))
    assert_close(rms_norm(3 * x, 7, w, eps=0.0), rms_norm(x, 7, w, eps=0.0))
    assert_close(layer_norm(x + 4, 7, eps=0.0), layer_norm(x, 7, eps=0.0))


@pytest.mark.parametrize("seed", range(5))
def test_instance_norm_removes_per_image_channel_statistics(seed):
    x = randn(2, 3, 4, 4, seed=seed)
    y = x.clone()
    y[1, 2] = 0.1 * y[1, 2] + 5
    assert_close(instance_norm(y, eps=0.0), instance_norm(x, eps=0.0))


def test_values_per_statistic_matches_the_axes_torch_averages():
    shape = (4, 6, 3, 5)
    x = randn(*shape).requires_grad_()
    layers = {
        "batch": lambda t: F.batch_norm(t, None, None, training=True),
        "layer": lambda t: F.layer_norm(t, shape[1:]),
        "instance": F.instance_norm,
        "group": lambda t: F.group_norm(t, 3),
    }
    for kind, fn in layers.items():
        # the output at one position depends on exactly the values its statistics average
        (g,) = torch.autograd.grad(fn(x)[0, 0, 0, 0], x)
        n = values_per_statistic(shape, kind, 3 if kind == "group" else None)
        assert int((g != 0).sum()) == n, kind


def test_batch_norm_with_one_vector_fails_in_torch_and_runs_on_one_image():
    with pytest.raises(ValueError, match="Expected more than 1 value per channel when training"):
        torch.nn.BatchNorm1d(3)(torch.randn(1, 3))
    img = randn(1, 3, 4, 4)
    assert_close(torch.nn.BatchNorm2d(3, dtype=F64)(img), instance_norm(img))
    assert values_per_statistic((1, 3), "batch") == 1
    assert values_per_statistic((1, 3, 4, 4), "batch") == 16
    # eval mode works for a batch of one: running statistics, not batch ones
    bn = torch.nn.BatchNorm1d(3).eval()
    assert bn(torch.randn(1, 3)).shape == (1, 3)


def test_batch_norm_state():
    bn = torch.nn.BatchNorm2d(4)
    state = parameters_and_buffers(bn)
    assert state["parameters"] == ("weight", "bias")
    assert state["buffers"] == ("running_mean", "running_var", "num_batches_tracked")
    assert set(state["state_dict"]) == set(state["parameters"]) | set(state["buffers"])
    opt = torch.optim.SGD(bn.parameters(), lr=0.1)
    assert sum(len(g["params"]) for g in opt.param_groups) == 2
    for _ in range(3):
        bn.train()(torch.randn(2, 4, 3, 3))
    bn.eval()(torch.randn(2, 4, 3, 3))
    assert int(bn.num_batches_tracked) == 3
    assert parameters_and_buffers(torch.nn.Linear(2, 3))["buffers"] == ()
    nested = torch.nn.Sequential(torch.nn.Linear(2, 2), torch.nn.BatchNorm1d(2, affine=False))
    assert parameters_and_buffers(nested)["buffers"] == ("1.running_mean", "1.running_var", "1.num_batches_tracked")
    # a non-persistent buffer is moved with the module but not saved
    m = torch.nn.Module()
    m.register_buffer("kept", torch.zeros(1))
    m.register_buffer("scratch", torch.zeros(1), persistent=False)
    assert parameters_and_buffers(m) == {"parameters": (), "buffers": ("kept", "scratch"), "state_dict": ("kept",)}


def test_batch_norm_without_running_stats_uses_batch_stats_in_eval():
    bn = torch.nn.BatchNorm1d(3, track_running_stats=False, dtype=F64).eval()
    x = randn(6, 3)
    assert_close(bn(x), F.batch_norm(x, None, None, bn.weight, bn.bias, training=True))


def test_pre_norm_keeps_the_identity_and_post_norm_does_not():
    norm, W = torch.nn.LayerNorm(6, dtype=F64), torch.nn.Linear(6, 6, dtype=F64)
    for seed in range(5):
        v = randn(6, seed=seed)
        J_pre = jacobian(lambda h: residual_sublayer(h, W, norm, "pre"), v)
        assert_close(J_pre - torch.eye(6, dtype=F64), jacobian(lambda h: W(norm(h)), v))
        J_post = jacobian(lambda h: residual_sublayer(h, W, norm, "post"), v)
        # every output change of post-norm sums to zero (layer norm's outputs are centred): rank <= C - 1, never I
        ones = torch.ones(6, dtype=F64)
        assert float((ones @ J_post).abs().max()) < 1e-9
        assert int(torch.linalg.matrix_rank(J_post)) == 5
        assert float((ones @ J_pre).abs().max()) > 1e-3


@pytest.mark.parametrize("seed", range(10))
def test_pre_norm_stream_grows_and_post_norm_stays_normalized(seed):
    torch.manual_seed(seed)
    blocks = [(torch.nn.LayerNorm(8, dtype=F64), torch.nn.Linear(8, 8, dtype=F64)) for _ in range(12)]
    x = torch.randn(3, 5, 8, dtype=F64)
    pre, post = x, x
    with torch.no_grad():
        for n, f in blocks:
            pre, post = residual_sublayer(pre, f, n, "pre"), residual_sublayer(post, f, n, "post")
    assert pre.std() > 1.5 * x.std()
    assert float((post.var(-1, correction=0) - 1).abs().max()) < 1e-3


# --- bad input -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("fn", "name"),
    [
        (lambda: layer_norm(torch.randn(2, 3), (4,)), "normalized_shape"),
        (lambda: layer_norm(torch.randn(3), (1, 3)), "normalized_shape"),
        (lambda: layer_norm(torch.randn(2, 3), ()), "normalized_shape"),
        (lambda: layer_norm(torch.randn(2, 3), "3"), "normalized_shape"),
        (lambda: layer_norm(torch.randn(2, 3), (3,), torch.ones(2)), "weight"),
        (lambda: layer_norm(torch.randn(2, 3), (3,), None, torch.ones(3, dtype=F64)), "bias"),
        (lambda: rms_norm(torch.randn(2, 3), (2,)), "normalized_shape"),
        (lambda: rms_norm(torch.randn(2, 3), 3, torch.ones(3, 1)), "weight"),
        (lambda: group_norm(torch.randn(2, 6, 3), 4), "num_groups"),
        (lambda: group_norm(torch.randn(2, 6, 3), 0), "num_groups"),
        (lambda: group_norm(torch.randn(6), 1), "input"),
        (lambda: group_norm(torch.randn(2, 6, 3), 3, torch.ones(3)), "weight"),
        (lambda: instance_norm(torch.randn(2, 3)), "input"),
        (lambda: instance_norm(torch.randn(2, 3, 1, 1)), "input"),
        (lambda: instance_norm(torch.randn(2, 3, 4), torch.zeros(3)), "running_var"),
        (lambda: instance_norm(torch.randn(2, 3, 4), torch.zeros(2), torch.ones(2)), "running_mean"),
        (lambda: instance_norm(torch.randn(2, 3, 4), torch.zeros(3), -torch.ones(3)), "running_var"),
        (lambda: instance_norm(torch.randn(2, 3, 4), use_input_stats=False), "running_mean"),
        (lambda: instance_norm(torch.randn(2, 3, 4), weight=torch.ones(4)), "weight"),
        (lambda: values_per_statistic((2,), "batch"), "shape"),
        (lambda: values_per_statistic((2, 0), "batch"), "shape[1]"),
        (lambda: values_per_statistic((2, 6), "group"), "num_groups"),
        (lambda: values_per_statistic((2, 6), "group", 4), "num_groups"),
        (lambda: values_per_statistic((2, 6), "layer", 2), "num_groups"),
        (lambda: parameters_and_buffers(lambda x: x), "module"),
        (lambda: residual_sublayer(torch.randn(3), 1, torch.nn.Identity()), "sublayer"),
        (lambda: residual_sublayer(torch.randn(3), torch.nn.Identity(), None), "norm"),
    ],
)
def test_rejects_bad_arguments(fn, name):
    rejects(name, fn)


def test_instance_norm_running_stats_in_eval_with_one_position_is_allowed():
    # PyTorch needs more than one position only when it computes the statistics
    x = randn(2, 3, 1)
    rm, rv = randn(3), torch.ones(3, dtype=F64)
    assert_close(instance_norm(x, rm, rv, use_input_stats=False), F.instance_norm(x, rm, rv, use_input_stats=False))
