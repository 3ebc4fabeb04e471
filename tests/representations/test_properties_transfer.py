"""Property-based tests for nnfaq.transfer: random small MLPs and CNNs (nested, with batch norm, with a shared
layer) are frozen, re-headed and counted as PyTorch's own ``requires_grad_``/``get_submodule`` would, images are
normalized as torchvision does; random invalid input raises ValueError/TypeError naming the argument (issue 10)."""

import copy
import math
from collections import OrderedDict

import torch
import torch.nn.functional as F
from helpers import int_dtypes, not_a_bool, not_an_int, rejects
from hypothesis import example, given, settings
from hypothesis import strategies as st
from torch import nn
from torch.testing import assert_close

from nnfaq.transfer import (
    channel_stats,
    count_parameters,
    freeze,
    freeze_batch_norm,
    normalize,
    replace_head,
    trainable_parameters,
)

D64 = torch.float64
float_dtypes = st.sampled_from([torch.float32, torch.float64])
not_a_module = st.one_of(
    st.none(),
    st.integers(),
    st.text(max_size=3),
    st.just(torch.zeros(2)),
    st.just(torch.relu),
    st.just([nn.Linear(2, 2)]),
)
NET = object()  # stands for the drawn network in the bad-argument cases


@st.composite
def nets(draw):
    """A small random network ``features -> body -> head`` and the shape of one input example.

    ``features`` is empty (an MLP) or 1-2 convolutions, maybe with batch norm, pooled and flattened (a CNN);
    ``body`` holds 0-3 linear layers, maybe with batch norm, and maybe one square layer used twice (shared).
    """
    features, body = OrderedDict(), OrderedDict()
    if draw(st.booleans()):
        c = c_in = draw(st.integers(1, 3))
        for i in range(draw(st.integers(1, 2))):
            c_out = draw(st.integers(1, 4))
            features[f"conv{i}"] = nn.Conv2d(c, c_out, 3, padding=1, bias=draw(st.booleans()))
            if draw(st.booleans()):
                features[f"bn{i}"] = nn.BatchNorm2d(c_out)
            features[f"act{i}"] = nn.ReLU()
            c = c_out
        features["pool"], features["flat"] = nn.AdaptiveAvgPool2d(1), nn.Flatten()
        width, example = c, (c_in, 4, 4)
    else:
        width = draw(st.integers(1, 5))
        example = (width,)
    for i, w in enumerate(draw(st.lists(st.integers(1, 5), max_size=3))):
        body[f"fc{i}"] = nn.Linear(width, w, bias=draw(st.booleans()))
        if draw(st.booleans()):
            body[f"bn{i}"] = nn.BatchNorm1d(w)
        body[f"relu{i}"] = nn.ReLU()
        width = w
    if draw(st.booleans()):
        body["tied_a"] = body["tied_b"] = nn.Linear(width, width)
    net = nn.Sequential(
        OrderedDict(
            features=nn.Sequential(features),
            body=nn.Sequential(body),
            head=nn.Linear(width, draw(st.integers(1, 5))),
        )
    )
    return net, example


def every_name(net):
    """All names of the submodules ('' is the network) and parameters, a shared one under each of its names."""
    modules = [n for n, _ in net.named_modules(remove_duplicate=False)]
    return modules + [n for n, _ in net.named_parameters(remove_duplicate=False)]


def unique_parameters(net):
    return list({id(p): p for p in net.parameters()}.values())


# --- freeze ----------------------------------------------------------------------------------------


@settings(max_examples=40)
@given(data=st.data(), built=nets(), B=st.integers(2, 3))
def test_freeze_matches_requires_grad_on_the_named_parts(data, built, B):
    net, example = built
    names = data.draw(st.lists(st.sampled_from(every_name(net)), max_size=3, unique=True))
    trainable = names[0] if len(names) == 1 and data.draw(st.booleans()) else names
    ref = copy.deepcopy(net).requires_grad_(False)
    for name in names:
        part = ref.get_submodule(name) if name in dict(ref.named_modules(remove_duplicate=False)) else None
        (part if part is not None else ref.get_parameter(name)).requires_grad_(True)
    assert freeze(net, trainable) is net
    ours = [p.requires_grad for p in net.parameters()]
    assert ours == [p.requires_grad for p in ref.parameters()]
    assert count_parameters(net) == sum(p.numel() for p in unique_parameters(net) if p.requires_grad)
    assert [id(p) for p in trainable_parameters(net)] == [id(p) for p in net.parameters() if p.requires_grad]
    if any(ours):
        # only the trainable parameters get a gradient
        net(torch.randn(B, *example)).sum().backward()
        assert [p.grad is not None for p in net.parameters()] == ours


@settings(max_examples=20)
@given(built=nets())
def test_freeze_everything_and_the_whole_model(built):
    net, _ = built
    assert not any(p.requires_grad for p in freeze(net).parameters())
    assert count_parameters(net) == 0 and trainable_parameters(net) == []
    assert all(p.requires_grad for p in freeze(net, "").parameters())  # '' is the model, as in get_submodule


@given(
    built=nets(),
    case=st.one_of(
        st.tuples(st.just("model"), not_a_module, st.just(())),
        st.tuples(st.just("trainable"), st.just(NET), st.one_of(st.none(), st.integers(), st.floats())),
        st.tuples(st.just("trainable"), st.just(NET), st.lists(st.one_of(st.integers(), st.none()), min_size=1)),
        st.tuples(st.just("trainable"), st.just(NET), st.text(max_size=6).map(lambda t: [t])),
    ),
)
def test_freeze_rejects_bad_arguments(built, case):
    net, _ = built
    name, model, trainable = case
    if isinstance(trainable, list) and trainable and trainable[0] in every_name(net):
        trainable = [trainable[0] + "?"]  # a name the network does not have
    before = [p.requires_grad for p in net.parameters()]
    rejects(name, freeze, net if model is NET else model, trainable)
    assert [p.requires_grad for p in net.parameters()] == before  # nothing changed


# --- replace_head ----------------------------------------------------------------------------------


@settings(max_examples=40)
@given(data=st.data(), built=nets(), out=st.integers(1, 5), dtype=float_dtypes, frozen=st.booleans())
def test_replace_head_swaps_exactly_one_linear_layer(data, built, out, dtype, frozen):
    net, example = built
    net = net.to(dtype).requires_grad_(not frozen)
    linears = [n for n, m in net.named_modules() if isinstance(m, nn.Linear)]
    name = data.draw(st.sampled_from(linears))
    old = net.get_submodule(name)
    others = {id(p) for n, p in net.named_parameters() if not n.startswith(name + ".")}
    head = replace_head(net, name, out)
    assert net.get_submodule(name) is head and head is not old
    assert (head.in_features, head.out_features, head.weight.dtype) == (old.in_features, out, dtype)
    assert (head.bias is None) == (old.bias is None)
    assert all(p.requires_grad for p in head.parameters())  # trainable without any unfreeze step
    assert others <= {id(p) for p in net.parameters()}  # the rest of the network is untouched
    if name == "head":
        net.eval()
        assert net(torch.randn(2, *example, dtype=dtype)).shape == (2, out)
        if frozen:
            assert count_parameters(net) == sum(p.numel() for p in head.parameters())


@given(
    data=st.data(),
    built=nets(),
    case=st.one_of(
        st.tuples(st.just("model"), not_a_module, st.just("head"), st.just(2)),
        st.tuples(st.just("name"), st.just(NET), st.one_of(st.none(), st.integers(), st.just(b"head")), st.just(2)),
        st.tuples(st.just("name"), st.just(NET), st.text(max_size=8), st.just(2)),
        st.tuples(st.just("name"), st.just(NET), st.just("not-linear"), st.just(2)),
        st.tuples(st.just("out_features"), st.just(NET), st.just("head"), st.one_of(not_an_int, st.integers(-5, 0))),
    ),
)
@example(data=None, built=(nn.Linear(2, 2), (2,)), case=("name", NET, "", 2))  # '' is the model, not its head
def test_replace_head_rejects_bad_arguments(data, built, case):
    net, _ = built
    name, model, target, out = case
    linears = {n for n, m in net.named_modules() if isinstance(m, nn.Linear)}
    if target == "not-linear":  # a submodule or parameter name that is no nn.Linear
        target = data.draw(st.sampled_from(sorted(set(every_name(net)) - linears)))
    elif isinstance(target, str) and target and target in linears:
        target = target + "!"
    before = list(net.named_modules(remove_duplicate=False))
    rejects(name, replace_head, net if model is NET else model, target, out)
    assert list(net.named_modules(remove_duplicate=False)) == before  # nothing changed


# --- count_parameters / trainable_parameters ----------------------------------------------------


@settings(max_examples=30)
@given(data=st.data(), built=nets(), trainable_only=st.booleans(), lr=st.floats(0.01, 1.0))
def test_counts_and_trainable_parameters_for_random_frozen_subsets(data, built, trainable_only, lr):
    net, example = built
    params = unique_parameters(net)
    for p, flag in zip(params, data.draw(st.lists(st.booleans(), min_size=len(params), max_size=len(params)))):
        p.requires_grad_(flag)
    ref = sum(p.numel() for p in params if p.requires_grad or not trainable_only)
    assert count_parameters(net, trainable_only=trainable_only) == ref
    assert count_parameters(net, trainable_only=False) == sum(p.numel() for p in params)
    ours = trainable_parameters(net)
    assert [id(p) for p in ours] == [id(p) for p in params if p.requires_grad]
    # given only these, weight decay never moves a frozen parameter that carries a (zero) gradient
    frozen = [p for p in params if not p.requires_grad]
    for p in frozen:
        p.grad = torch.zeros_like(p)
    before = [p.detach().clone() for p in frozen]
    if ours:
        opt = torch.optim.SGD(ours, lr=lr, weight_decay=0.5)
        net(torch.randn(2, *example)).sum().backward()
        opt.step()
    assert all(torch.equal(p, b) for p, b in zip(frozen, before))


@given(bad=not_a_module, flag=not_a_bool)
def test_counting_rejects_bad_arguments(bad, flag):
    rejects("model", count_parameters, bad)
    rejects("model", trainable_parameters, bad)
    rejects("trainable_only", count_parameters, nn.Linear(2, 2), trainable_only=flag)


# --- freeze_batch_norm -----------------------------------------------------------------------------


@settings(max_examples=30)
@given(built=nets(), training=st.booleans(), B=st.integers(2, 3))
def test_freeze_batch_norm_freezes_every_batch_norm_and_nothing_else(built, training, B):
    net, example = built
    net.train(training)
    bns = [m for m in net.modules() if isinstance(m, nn.modules.batchnorm._BatchNorm)]
    others = {id(m): m.training for m in net.modules() if m not in bns}
    grads = {id(p): p.requires_grad for m in net.modules() if m not in bns for p in m.parameters(recurse=False)}
    assert freeze_batch_norm(net) == len(bns)
    assert all(not m.training and not any(p.requires_grad for p in m.parameters()) for m in bns)
    assert {id(m): m.training for m in net.modules() if m not in bns} == others
    assert {id(p): p.requires_grad for m in net.modules() if m not in bns for p in m.parameters(recurse=False)} == grads
    # the running statistics stay put, even in training mode, and each layer normalizes with them
    stats = [(m.running_mean.clone(), m.running_var.clone()) for m in bns]
    x = torch.randn(B, *example) + 3
    inputs = []
    hooks = [m.register_forward_hook(lambda m, i, o: inputs.append((m, i[0], o))) for m in bns]
    net(x)
    for h in hooks:
        h.remove()
    assert all(torch.equal(m.running_mean, s[0]) and torch.equal(m.running_var, s[1]) for m, s in zip(bns, stats))
    for m, i, o in inputs:
        assert_close(o, F.batch_norm(i, m.running_mean, m.running_var, m.weight, m.bias, training=False, eps=m.eps))


@given(bad=not_a_module)
def test_freeze_batch_norm_rejects_a_non_module(bad):
    rejects("model", freeze_batch_norm, bad)


# --- channel_stats ---------------------------------------------------------------------------------


@settings(max_examples=40)
@given(B=st.integers(1, 4), C=st.integers(1, 4), rest=st.lists(st.integers(1, 4), max_size=3), dtype=float_dtypes)
def test_channel_stats_match_torch_std_mean_forward_and_gradient(B, C, rest, dtype):
    shape = (B, C, *rest)
    x = torch.rand(shape, dtype=dtype)
    dims = [d for d in range(len(shape)) if d != 1]
    a, b = x.clone().requires_grad_(), x.clone().requires_grad_()
    mean, std = channel_stats(a)
    ref_std, ref_mean = torch.std_mean(b, dim=dims, correction=0)
    assert mean.shape == std.shape == (C,) and mean.dtype == dtype
    assert_close(mean, ref_mean)
    assert_close(std, ref_std)
    if math.prod(shape) // C >= 2 and dtype == D64:  # sqrt has no derivative at a zero variance
        g = torch.randn(2, C, dtype=D64)
        ours = torch.autograd.grad((mean * g[0] + std * g[1]).sum(), a)[0]
        ref = torch.autograd.grad((ref_mean * g[0] + ref_std * g[1]).sum(), b)[0]
        assert_close(ours, ref)


@settings(max_examples=30)
@given(lead=st.lists(st.integers(1, 3), max_size=2), C=st.integers(1, 4), H=st.integers(2, 4), W=st.integers(1, 4))
def test_normalizing_with_its_own_statistics_gives_zero_mean_unit_std(lead, C, H, W):
    x = torch.rand(max(1, math.prod(lead)), C, H, W, dtype=D64) * torch.rand(C, 1, 1, dtype=D64) * 3 + 1
    mean, std = channel_stats(x)
    own = channel_stats(normalize(x, mean, std))
    assert_close(own[0], torch.zeros(C, dtype=D64), atol=1e-10, rtol=0)
    assert_close(own[1], torch.ones(C, dtype=D64))


@given(
    case=st.one_of(
        st.tuples(st.just("images"), st.one_of(st.none(), st.integers(), st.floats(), st.lists(st.floats()))),
        st.tuples(st.just("images"), st.lists(st.integers(1, 3), max_size=1).map(lambda s: torch.rand(s))),
        st.tuples(
            st.just("images"),
            st.tuples(st.lists(st.integers(1, 3), min_size=2, max_size=4), int_dtypes).map(
                lambda c: torch.ones(c[0], dtype=c[1])
            ),
        ),
        st.tuples(
            st.just("images"),
            st.tuples(st.lists(st.integers(0, 3), min_size=2, max_size=4), st.integers(0, 3)).map(
                lambda c: torch.rand([0 if i == c[1] % len(c[0]) else n for i, n in enumerate(c[0])])
            ),
        ),
        st.tuples(
            st.just("images"),
            st.tuples(st.integers(1, 3), st.integers(1, 3), st.sampled_from([math.nan, math.inf, -math.inf])).map(
                lambda c: torch.rand(c[0], c[1], 2).index_fill_(2, torch.tensor([1]), c[2])
            ),
        ),
    )
)
def test_channel_stats_rejects_bad_images(case):
    name, bad = case
    rejects(name, channel_stats, bad)


# --- normalize -------------------------------------------------------------------------------------

as_sequences = st.sampled_from(["tuple", "list", "tensor64", "tensor32", "int"])


def _as(kind, values):
    if kind == "tuple":
        return tuple(values)
    if kind == "list":
        return list(values)
    if kind == "int":
        return torch.tensor([max(1, round(v)) for v in values])
    return torch.tensor(values, dtype=D64 if kind == "tensor64" else torch.float32)


@settings(max_examples=40)
@given(
    lead=st.lists(st.integers(1, 3), max_size=2),
    C=st.integers(1, 4),
    H=st.integers(1, 4),
    W=st.integers(1, 4),
    means=st.lists(st.floats(-2, 2), min_size=4, max_size=4),
    stds=st.lists(st.floats(0.05, 3), min_size=4, max_size=4),
    kinds=st.tuples(as_sequences, as_sequences),
    dtype=float_dtypes,
)
def test_normalize_matches_the_torchvision_formula_forward_and_gradient(lead, C, H, W, means, stds, kinds, dtype):
    x = torch.randn(*lead, C, H, W, dtype=dtype)
    mean, std = _as(kinds[0], means[:C]), _as(kinds[1], stds[:C])
    m = torch.as_tensor(mean, dtype=dtype)
    s = torch.as_tensor(std, dtype=dtype)
    a, b = x.clone().requires_grad_(), x.clone().requires_grad_()
    ours = normalize(a, mean, std)
    # torchvision.transforms.functional.normalize: tensor.sub_(mean[:, None, None]).div_(std[:, None, None])
    ref = (b - m[:, None, None]) / s[:, None, None]
    assert ours.shape == x.shape and ours.dtype == dtype
    assert_close(ours, ref)
    g = torch.randn(x.shape, dtype=dtype)
    ours.backward(g)
    ref.backward(g)
    assert_close(a.grad, b.grad)


@settings(max_examples=20)
@given(C=st.integers(1, 4), H=st.integers(1, 3))
def test_normalize_passes_gradients_to_mean_and_std_tensors(C, H):
    x = torch.randn(2, C, H, H, dtype=D64)
    mean, std = torch.randn(C, dtype=D64, requires_grad=True), torch.rand(C, dtype=D64).add(0.5).requires_grad_()
    assert torch.autograd.gradcheck(lambda m, s: normalize(x, m, s), (mean, std))


def _bad_stats(C):
    """A mean/std argument that is not ``C`` finite real numbers (positive for std)."""
    wrong_length = st.integers(0, 5).filter(lambda n: n != C).map(lambda n: [0.5] * n)
    non_finite = st.sampled_from([math.nan, math.inf, -math.inf]).map(lambda v: [0.5] * (C - 1) + [v])
    return st.one_of(
        st.none(),
        st.text(max_size=3),
        st.floats(allow_nan=False),
        wrong_length,
        non_finite,
        st.just([[0.5] * C]),
        st.just([["a"]] * C),
        st.sampled_from([torch.complex64, torch.bool]).map(lambda d: torch.ones(C, dtype=d)),
    )


@given(
    data=st.data(),
    C=st.integers(1, 4),
    which=st.sampled_from(["input", "mean", "std", "std_nonpositive"]),
)
def test_normalize_rejects_bad_arguments(data, C, which):
    args = {"input": torch.rand(2, C, 3, 3), "mean": [0.5] * C, "std": [0.25] * C}
    if which == "input":
        args["input"] = data.draw(
            st.one_of(
                st.none(),
                st.lists(st.floats(), max_size=3),
                st.lists(st.integers(1, 3), max_size=2).map(lambda s: torch.rand(s)),
                int_dtypes.map(lambda d: torch.ones(C, 3, 3, dtype=d)),
            )
        )
    elif which == "std_nonpositive":
        which = "std"
        args["std"][data.draw(st.integers(0, C - 1))] = data.draw(st.floats(max_value=0.0))
    else:
        args[which] = data.draw(_bad_stats(C))
    rejects(which, normalize, **args)
