"""nnfaq.transfer against PyTorch and torchvision's formulas, and the claims its answers make."""

import io
from collections import OrderedDict

import pytest
import torch
import torch.nn.functional as F
from torch import nn
from torch.testing import assert_close

from nnfaq.datasets import load_sample_images
from nnfaq.transfer import (
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


# --- freeze ---------------------------------------------------------------------------------------


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


def test_freeze_matches_requires_grad_and_unfreezes_what_it_names():
    ours, ref = small_cnn(), small_cnn()
    ours.requires_grad_(False)  # freeze can also unfreeze
    freeze(ours, "classifier")
    ref.requires_grad_(False)
    ref.classifier.requires_grad_(True)
    assert [p.requires_grad for p in ours.parameters()] == [p.requires_grad for p in ref.parameters()]


def test_name_prefix_is_not_a_match():
    net = nn.Sequential(OrderedDict(fc=nn.Linear(2, 2), fc2=nn.Linear(2, 2)))
    freeze(net, "fc")
    assert net.fc.weight.requires_grad and not net.fc2.weight.requires_grad


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


def test_saved_state_dict_reloads_the_identical_network_offline():
    pretrained, net = small_cnn().eval(), small_cnn().eval()
    buffer = io.BytesIO()
    torch.save(pretrained.state_dict(), buffer)
    buffer.seek(0)
    net.load_state_dict(torch.load(buffer))
    x = torch.randn(4, 1, 8, 8)
    assert torch.equal(net(x), pretrained(x))


def test_freeze_rejects_bad_arguments():
    with pytest.raises(TypeError, match="model must be a torch.nn.Module"):
        freeze("resnet")
    with pytest.raises(ValueError, match="trainable names 'head'"):
        freeze(small_cnn(), "head")
    with pytest.raises(TypeError, match="trainable must contain strings"):
        freeze(small_cnn(), [3])
    with pytest.raises(TypeError, match="trainable must be a str or a sequence of str"):
        freeze(small_cnn(), 3)


# --- replace_head ---------------------------------------------------------------------------------


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


@pytest.mark.parametrize(
    ("name", "out", "error", "match"),
    [
        ("conv", 3, ValueError, "name must refer to an nn.Linear, 'conv' is a Conv2d"),
        ("nope", 3, ValueError, "name must be a submodule of model"),
        (2, 3, TypeError, "name must be a str"),
        ("classifier.2", 0, ValueError, "out_features must be >= 1"),
        ("classifier.2", 2.0, TypeError, "out_features must be an int"),
    ],
)
def test_replace_head_rejects_bad_arguments(name, out, error, match):
    with pytest.raises(error, match=match):
        replace_head(small_cnn(), name, out)


# --- count_parameters / trainable_parameters ------------------------------------------------------


def test_count_parameters_matches_numel_sums():
    net = small_cnn()
    ref = sum(p.numel() for p in net.parameters())
    assert count_parameters(net) == ref == count_parameters(net, trainable_only=False)
    net.conv.requires_grad_(False)
    assert count_parameters(net) == ref - 4 * 9 - 4
    assert count_parameters(net, trainable_only=False) == ref
    with pytest.raises(TypeError, match="trainable_only must be True or False"):
        count_parameters(net, trainable_only=1)


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


# --- freeze_batch_norm ----------------------------------------------------------------------------


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


def test_freeze_batch_norm_counts_every_layer_and_leaves_others_training():
    net = nn.Sequential(nn.Linear(3, 4), nn.BatchNorm1d(4), nn.Dropout(), nn.Sequential(nn.BatchNorm1d(4)))
    assert freeze_batch_norm(net) == 2
    assert net.training and net[2].training and net[0].weight.requires_grad
    assert freeze_batch_norm(nn.Linear(2, 2)) == 0
    with pytest.raises(TypeError, match="model must be a torch.nn.Module"):
        freeze_batch_norm(None)


# --- channel_stats / normalize --------------------------------------------------------------------


@pytest.mark.parametrize("shape", [(5, 3), (4, 3, 7), (2, 3, 6, 5), (2, 1, 4, 4, 4)])
def test_channel_stats_match_torch(shape):
    x = torch.rand(shape, dtype=torch.float64)
    dims = [d for d in range(len(shape)) if d != 1]
    ref_std, ref_mean = torch.std_mean(x, dim=dims, correction=0)
    mean, std = channel_stats(x)
    assert_close(mean, ref_mean)
    assert_close(std, ref_std)


def test_channel_stats_of_the_sample_photographs_and_normalization():
    photos = load_sample_images(dtype=torch.float64)[..., ::4, ::4]
    mean, std = channel_stats(photos)
    flat = photos.permute(1, 0, 2, 3).reshape(3, -1)
    assert_close(mean, flat.mean(1))
    assert_close(std, flat.std(1, correction=0))
    own = channel_stats(normalize(photos, mean, std))
    assert_close(own[0], torch.zeros(3, dtype=torch.float64), atol=1e-10, rtol=0)
    assert_close(own[1], torch.ones(3, dtype=torch.float64))
    # ImageNet's statistics are not these photographs' statistics
    imagenet = channel_stats(normalize(photos, IMAGENET_MEAN, IMAGENET_STD))
    assert (imagenet[1] - 1).abs().max() > 0.2


@pytest.mark.parametrize("shape", [(3, 5, 5), (2, 3, 4, 6), (2, 2, 3, 4, 4)])
def test_normalize_matches_torchvision_formula_and_gradient(shape):
    x = torch.rand(shape, dtype=torch.float64, requires_grad=True)
    mean, std = torch.tensor(IMAGENET_MEAN, dtype=torch.float64), torch.tensor(IMAGENET_STD, dtype=torch.float64)
    ours = normalize(x, IMAGENET_MEAN, IMAGENET_STD)
    # torchvision.transforms.functional.normalize: tensor.sub_(mean[:, None, None]).div_(std[:, None, None])
    ref = (x - mean[:, None, None]) / std[:, None, None]
    assert_close(ours, ref)
    assert torch.autograd.gradcheck(lambda t: normalize(t, IMAGENET_MEAN, IMAGENET_STD), (x,))


def test_imagenet_normalization_of_a_pixel():
    pixel = torch.tensor(IMAGENET_MEAN).view(3, 1, 1)
    assert_close(normalize(pixel, IMAGENET_MEAN, IMAGENET_STD), torch.zeros(3, 1, 1))
    white = normalize(torch.ones(3, 1, 1), IMAGENET_MEAN, IMAGENET_STD).flatten()
    assert_close(white, torch.tensor([(1 - m) / s for m, s in zip(IMAGENET_MEAN, IMAGENET_STD)]))


@pytest.mark.parametrize(
    ("fn", "args", "error", "match"),
    [
        (channel_stats, (torch.rand(4),), ValueError, "images must have at least 2 dimensions"),
        (channel_stats, (torch.zeros(0, 3),), ValueError, "images must not be empty"),
        (channel_stats, (torch.ones(2, 3, dtype=torch.int64),), TypeError, "images must be a floating-point"),
        (normalize, (torch.rand(3, 4), IMAGENET_MEAN, IMAGENET_STD), ValueError, "input must have at least 3"),
        (normalize, (torch.rand(1, 4, 4), IMAGENET_MEAN, IMAGENET_STD), ValueError, r"mean must have shape \(1,\)"),
        (normalize, (torch.rand(3, 4, 4), IMAGENET_MEAN, (1, 0, 1)), ValueError, "std must be positive"),
        (normalize, (torch.rand(3, 4, 4), 0.5, IMAGENET_STD), ValueError, "mean must have 1 dimensions"),
    ],
)
def test_bad_input_is_rejected(fn, args, error, match):
    with pytest.raises(error, match=match):
        fn(*args)
