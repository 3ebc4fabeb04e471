"""nnfaq.representations.transfer: freezing, re-heading, counting and batch-norm freezing against what PyTorch's own
``requires_grad_``, ``get_submodule`` and ``F.batch_norm`` do (fixed and hypothesis-drawn networks), normalization
against torchvision's formula, the claims of its answers, and the refusals only it makes (the shared ones are rows of
tests/representations/contract.py)."""

import copy
import io
import math
from collections import OrderedDict

import pytest
import torch
import torch.nn.functional as F
from helpers import rejects
from hypothesis import given, settings
from hypothesis import strategies as st
from torch import nn
from torch.testing import assert_close

from nnfaq.representations.transfer import (
    IMAGENET_MEAN,
    IMAGENET_STD,
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
#: torch.nn's batch-norm layers, named publicly (a test of freeze_batch_norm must not share its list)
BATCH_NORMS = (nn.BatchNorm1d, nn.BatchNorm2d, nn.BatchNorm3d, nn.SyncBatchNorm)


def small_cnn():
    return nn.Sequential(
        OrderedDict(
            conv=nn.Conv2d(1, 4, 3),
            bn=nn.BatchNorm2d(4),
            act=nn.ReLU(),
            flat=nn.Flatten(),
            classifier=nn.Sequential(nn.Linear(4 * 6 * 6, 16), nn.ReLU(), nn.Linear(16, 10)),
        )
    )


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


as_sequences = st.sampled_from(["tuple", "list", "tensor64", "tensor32", "int"])


def _as(kind, values):
    if kind == "tuple":
        return tuple(values)
    if kind == "list":
        return list(values)
    if kind == "int":
        return torch.tensor([max(1, round(v)) for v in values])
    return torch.tensor(values, dtype=D64 if kind == "tensor64" else torch.float32)


NOT_MODULES = [None, "resnet", torch.zeros(2), torch.relu, [nn.Linear(2, 2)]]


# --- parity -----------------------------------------------------------------------------------------


def test_freeze_matches_requires_grad_and_unfreezes_what_it_names():
    ours, ref = small_cnn(), small_cnn()
    ours.requires_grad_(False)  # freeze can also unfreeze
    freeze(ours, "classifier")
    ref.requires_grad_(False)
    ref.classifier.requires_grad_(True)
    assert [p.requires_grad for p in ours.parameters()] == [p.requires_grad for p in ref.parameters()]


@settings(max_examples=10)
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


@settings(max_examples=10)
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


def test_count_parameters_matches_numel_sums():
    net = small_cnn()
    ref = sum(p.numel() for p in net.parameters())
    assert count_parameters(net) == ref == count_parameters(net, trainable_only=False)
    net.conv.requires_grad_(False)
    assert count_parameters(net) == ref - 4 * 9 - 4
    assert count_parameters(net, trainable_only=False) == ref


@settings(max_examples=10)
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


@pytest.mark.parametrize(
    ("bn", "shape"),
    [(nn.BatchNorm1d(3), (8, 3)), (nn.BatchNorm2d(3), (8, 3, 4, 4)), (nn.BatchNorm3d(3), (4, 3, 2, 3, 3))],
)
def test_requires_grad_false_does_not_freeze_running_stats_but_freeze_batch_norm_does(bn, shape):
    x = torch.randn(shape) + 3
    net = nn.Sequential(bn).requires_grad_(False)
    before = bn.running_mean.clone(), bn.running_var.clone(), bn.num_batches_tracked.clone()
    net(x)
    assert not torch.equal(bn.running_mean, before[0]) and not torch.equal(bn.running_var, before[1])
    assert freeze_batch_norm(net) == 1
    before = bn.running_mean.clone(), bn.running_var.clone(), bn.num_batches_tracked.clone()
    ours = net(x)
    assert all(torch.equal(a, b) for a, b in zip(before, (bn.running_mean, bn.running_var, bn.num_batches_tracked)))
    ref = F.batch_norm(x, bn.running_mean, bn.running_var, bn.weight, bn.bias, training=False)
    assert_close(ours, ref)
    assert not bn.weight.requires_grad and not bn.bias.requires_grad
    net.train()
    net(x)
    assert not torch.equal(bn.running_mean, before[0])  # model.train() undid it


@settings(max_examples=10)
@given(built=nets(), training=st.booleans(), B=st.integers(2, 3))
def test_freeze_batch_norm_freezes_every_batch_norm_and_nothing_else(built, training, B):
    net, example = built
    net.train(training)
    bns = [m for m in net.modules() if isinstance(m, BATCH_NORMS)]
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


@pytest.mark.parametrize("shape", [(5, 3), (4, 3, 7), (2, 3, 6, 5), (2, 1, 4, 4, 4)])
def test_channel_stats_match_torch(shape):
    x = torch.rand(shape, dtype=torch.float64)
    dims = [d for d in range(len(shape)) if d != 1]
    ref_std, ref_mean = torch.std_mean(x, dim=dims, correction=0)
    mean, std = channel_stats(x)
    assert_close(mean, ref_mean)
    assert_close(std, ref_std)


@settings(max_examples=10)
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


@settings(max_examples=10)
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


@settings(max_examples=10)
@given(C=st.integers(1, 4), H=st.integers(1, 3))
def test_normalize_passes_gradients_to_mean_and_std_tensors(C, H):
    x = torch.randn(2, C, H, H, dtype=D64)
    mean, std = torch.randn(C, dtype=D64, requires_grad=True), torch.rand(C, dtype=D64).add(0.5).requires_grad_()
    assert torch.autograd.gradcheck(lambda m, s: normalize(x, m, s), (mean, std))


# --- claims -----------------------------------------------------------------------------------------


def test_saved_state_dict_reloads_the_identical_network_offline():
    pretrained, net = small_cnn().eval(), small_cnn().eval()
    buffer = io.BytesIO()
    torch.save(pretrained.state_dict(), buffer)
    buffer.seek(0)
    net.load_state_dict(torch.load(buffer))
    x = torch.randn(4, 1, 8, 8)
    assert torch.equal(net(x), pretrained(x))


@pytest.mark.parametrize(
    ("trainable", "expected"),
    [
        ((), set()),
        ("classifier", {"classifier.0.weight", "classifier.0.bias", "classifier.2.weight", "classifier.2.bias"}),
        (["classifier.2", "bn"], {"classifier.2.weight", "classifier.2.bias", "bn.weight", "bn.bias"}),
        (["conv.bias"], {"conv.bias"}),
    ],
)
def test_freeze_keeps_exactly_the_named_parts_and_frozen_ones_get_no_gradient(trainable, expected):
    net = freeze(small_cnn(), trainable)
    assert {n for n, p in net.named_parameters() if p.requires_grad} == expected
    if expected:
        net(torch.randn(3, 1, 8, 8)).sum().backward()
        for name, p in net.named_parameters():
            assert (p.grad is not None) == (name in expected), name


def test_name_prefix_is_not_a_match():
    net = nn.Sequential(OrderedDict(fc=nn.Linear(2, 2), fc2=nn.Linear(2, 2)))
    freeze(net, "fc")
    assert net.fc.weight.requires_grad and not net.fc2.weight.requires_grad


@settings(max_examples=10)
@given(built=nets())
def test_freeze_everything_and_the_whole_model(built):
    net, _ = built
    assert not any(p.requires_grad for p in freeze(net).parameters())
    assert count_parameters(net) == 0 and trainable_parameters(net) == []
    assert all(p.requires_grad for p in freeze(net, "").parameters())  # '' is the model, as in get_submodule


def test_frozen_weights_stay_put_while_the_head_trains():
    net = freeze(small_cnn(), "classifier")
    frozen = {n: p.detach().clone() for n, p in net.named_parameters() if not p.requires_grad}
    opt = torch.optim.Adam(trainable_parameters(net), lr=0.1)
    head_before = net.classifier[2].weight.detach().clone()
    for _ in range(3):
        opt.zero_grad()
        F.cross_entropy(net(torch.randn(8, 1, 8, 8)), torch.randint(0, 10, (8,))).backward()
        opt.step()
    for n, p in net.named_parameters():
        if n in frozen:
            assert torch.equal(p, frozen[n]), n
    assert not torch.equal(net.classifier[2].weight, head_before)


@pytest.mark.parametrize("name", ["classifier.2", "classifier.0"])
@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_replaced_head_is_trainable_without_an_unfreeze_step(name, dtype):
    net = small_cnn().to(dtype).requires_grad_(False)
    old = net.get_submodule(name)
    head = replace_head(net, name, 7)
    assert net.get_submodule(name) is head and head is not old
    assert (head.in_features, head.out_features, head.weight.dtype) == (old.in_features, 7, dtype)
    assert head.weight.requires_grad and head.bias.requires_grad
    assert count_parameters(net) == head.weight.numel() + head.bias.numel()


def test_seed_order_unfreeze_then_replace_gives_the_same_trainable_set_as_just_replacing():
    seed_way, ours = small_cnn(), small_cnn()
    seed_way.requires_grad_(False)
    seed_way.classifier[2].requires_grad_(True)  # the redundant step
    seed_way.classifier[2] = nn.Linear(16, 3)
    ours.requires_grad_(False)
    replace_head(ours, "classifier.2", 3)
    assert [p.requires_grad for p in seed_way.parameters()] == [p.requires_grad for p in ours.parameters()]


def test_replacing_then_freezing_everything_freezes_the_new_head_too():
    net = small_cnn()
    head = replace_head(net, "classifier.2", 3)
    net.requires_grad_(False)
    assert not head.weight.requires_grad


def test_optimizer_built_before_replacement_never_updates_the_new_head():
    net = small_cnn()
    opt = torch.optim.SGD(net.parameters(), lr=0.5)
    head = replace_head(net, "classifier.2", 3)
    before = head.weight.detach().clone()
    net(torch.randn(4, 1, 8, 8)).sum().backward()
    opt.step()
    assert torch.equal(head.weight, before)
    opt = torch.optim.SGD(trainable_parameters(net), lr=0.5)
    opt.step()
    assert not torch.equal(head.weight, before)


def test_replace_head_without_bias_and_at_top_level():
    net = nn.Linear(5, 4, bias=False)
    wrapper = nn.Sequential(OrderedDict(fc=net))
    head = replace_head(wrapper, "fc", 2)
    assert head.bias is None and wrapper.fc is head


def test_shared_parameters_are_counted_once():
    lin = nn.Linear(3, 3)
    assert count_parameters(nn.Sequential(lin, lin)) == 12


@pytest.mark.parametrize(
    "make_opt",
    [
        lambda ps: torch.optim.SGD(ps, lr=0.1, weight_decay=0.1),
        lambda ps: torch.optim.SGD(ps, lr=0.1, momentum=0.9),
        lambda ps: torch.optim.AdamW(ps, lr=0.1),
    ],
)
def test_frozen_layer_with_a_stale_gradient_moves_unless_only_trainable_parameters_are_given(make_opt):
    x = torch.randn(8, 4)
    for only_trainable in (False, True):
        torch.manual_seed(0)
        net = nn.Sequential(nn.Linear(4, 4), nn.Linear(4, 2))
        opt = make_opt(list(net.parameters()))
        net(x).sum().backward()
        opt.step()  # stage 1 trains everything: gradients, momentum and Adam state exist for net[0]
        net[0].requires_grad_(False)  # stage 2 freezes net[0]
        if only_trainable:
            opt = make_opt(trainable_parameters(net))
        before = net[0].weight.detach().clone()
        opt.zero_grad(set_to_none=False)
        net(x).sum().backward()
        opt.step()
        assert torch.equal(net[0].weight, before) == only_trainable


def test_frozen_parameters_with_none_gradient_are_skipped_by_optimizers():
    net = nn.Sequential(nn.Linear(4, 4), nn.Linear(4, 2))
    net[0].requires_grad_(False)
    opt = torch.optim.AdamW(net.parameters(), lr=0.1, weight_decay=0.5)
    before = net[0].weight.detach().clone()
    opt.zero_grad()
    net(torch.randn(8, 4)).sum().backward()
    opt.step()
    assert torch.equal(net[0].weight, before)
    assert [p is q for p, q in zip(trainable_parameters(net), net[1].parameters())] == [True, True]


def test_freeze_batch_norm_counts_every_layer_and_leaves_others_training():
    net = nn.Sequential(nn.Linear(3, 4), nn.BatchNorm1d(4), nn.Dropout(), nn.Sequential(nn.BatchNorm1d(4)))
    assert freeze_batch_norm(net) == 2
    assert net.training and net[2].training and net[0].weight.requires_grad
    assert freeze_batch_norm(nn.Linear(2, 2)) == 0


@settings(max_examples=10)
@given(lead=st.lists(st.integers(1, 3), max_size=2), C=st.integers(1, 4), H=st.integers(2, 4), W=st.integers(1, 4))
def test_normalizing_with_its_own_statistics_gives_zero_mean_unit_std(lead, C, H, W):
    x = torch.rand(max(1, math.prod(lead)), C, H, W, dtype=D64) * torch.rand(C, 1, 1, dtype=D64) * 3 + 1
    mean, std = channel_stats(x)
    own = channel_stats(normalize(x, mean, std))
    assert_close(own[0], torch.zeros(C, dtype=D64), atol=1e-10, rtol=0)
    assert_close(own[1], torch.ones(C, dtype=D64))


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_imagenet_statistics_do_not_normalize_other_images(seed):
    g = torch.Generator().manual_seed(seed)
    x = torch.rand(8, 3, 16, 16, generator=g, dtype=D64) * torch.tensor([1.0, 0.5, 0.2], dtype=D64).view(3, 1, 1)
    mean, std = channel_stats(normalize(x, IMAGENET_MEAN, IMAGENET_STD))
    assert (std - 1).abs().max() > 0.1 and mean.abs().max() > 0.1


def test_imagenet_normalization_of_a_pixel():
    pixel = torch.tensor(IMAGENET_MEAN).view(3, 1, 1)
    assert_close(normalize(pixel, IMAGENET_MEAN, IMAGENET_STD), torch.zeros(3, 1, 1))
    white = normalize(torch.ones(3, 1, 1), IMAGENET_MEAN, IMAGENET_STD).flatten()
    assert_close(white, torch.tensor([(1 - m) / s for m, s in zip(IMAGENET_MEAN, IMAGENET_STD)]))


# --- bad input --------------------------------------------------------------------------------------


@pytest.mark.parametrize("bad", NOT_MODULES)
def test_every_function_refuses_a_model_that_is_not_a_module(bad):
    for fn in (freeze, freeze_batch_norm, count_parameters, trainable_parameters):
        rejects("model", fn, bad)
    rejects("model", replace_head, bad, "fc", 2)


@pytest.mark.parametrize(
    ("fn", "args", "name"),
    [
        (freeze, ("head",), "trainable"),  # no such part
        (freeze, ([3],), "trainable"),
        (freeze, (3,), "trainable"),
        (freeze, (["classifier.2", "classifier.9"],), "trainable"),
        (replace_head, ("conv", 3), "name"),  # not an nn.Linear
        (replace_head, ("nope", 3), "name"),
        (replace_head, ("", 3), "name"),  # the model itself
        (replace_head, (2, 3), "name"),
        (replace_head, ("classifier.2", 0), "out_features"),
    ],
)
def test_freeze_and_replace_head_refuse_names_the_network_does_not_have_and_change_nothing(fn, args, name):
    net = small_cnn()
    before = [(n, p.requires_grad) for n, p in net.named_parameters()]
    rejects(name, fn, net, *args)
    assert [(n, p.requires_grad) for n, p in net.named_parameters()] == before


@pytest.mark.parametrize(
    ("fn", "args", "name"),
    [
        (channel_stats, (torch.zeros(0, 3),), "images"),
        (channel_stats, (torch.rand(4),), "images"),
        (channel_stats, (torch.tensor([[0.5, float("nan")]]),), "images"),
        (normalize, (torch.rand(3, 4), IMAGENET_MEAN, IMAGENET_STD), "input"),
        (normalize, (torch.rand(1, 4, 4), IMAGENET_MEAN, IMAGENET_STD), "mean"),
        (normalize, (torch.rand(3, 4, 4), IMAGENET_MEAN, (1, 0, 1)), "std"),
        (normalize, (torch.rand(3, 4, 4), IMAGENET_MEAN, (1, -2, 1)), "std"),
        (normalize, (torch.rand(3, 4, 4), 0.5, IMAGENET_STD), "mean"),
        (normalize, (torch.rand(3, 4, 4), (0.5, float("inf"), 0.5), IMAGENET_STD), "mean"),
        (normalize, (torch.rand(3, 4, 4), "abc", IMAGENET_STD), "mean"),
        (normalize, (torch.rand(3, 4, 4), torch.ones(3, dtype=torch.bool), IMAGENET_STD), "mean"),
    ],
)
def test_image_statistics_refuse_what_is_not_per_channel_numbers(fn, args, name):
    rejects(name, fn, *args)
