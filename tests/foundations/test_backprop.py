"""nnfaq.backprop against torch.autograd (values and gradients, float64) and its claims."""

import math
import random

import pytest
import torch
import torch.nn.functional as F
from torch.testing import assert_close

from nnfaq.backprop import Value, mlp_backward, train_step

# --- the scalar engine ---------------------------------------------------------------------------

UNARY = ["exp", "log", "tanh", "sigmoid", "relu", "neg", "pow"]
BINARY = ["add", "sub", "mul", "div", "radd", "rsub", "rmul", "rdiv"]


def _unary(op, a, k):
    if op == "neg":
        return -a
    if op == "pow":
        return a**k
    return getattr(a, op)()


def _binary(op, a, b, c):
    if op == "add":
        return a + b
    if op == "sub":
        return a - b
    if op == "mul":
        return a * b
    if op == "div":
        return a / b
    if op == "radd":
        return c + a
    if op == "rsub":
        return c - a
    if op == "rmul":
        return c * a
    return c / a  # rdiv


def _random_expression(seed, n_leaves=4, n_ops=25):
    """The same random expression built twice: on Value leaves (ours) and on float64 tensors (ref)."""
    rng = random.Random(seed)
    leaves = [rng.uniform(-2, 2) for _ in range(n_leaves)]
    ours = [Value(v) for v in leaves]
    ref = [torch.tensor(v, dtype=torch.float64, requires_grad=True) for v in leaves]
    nodes = list(zip(ours, ref))
    for _ in range(n_ops):
        (a, at), (b, bt) = rng.choice(nodes), rng.choice(nodes)
        c = rng.choice([-1.5, 0.5, 2.0])
        if rng.random() < 0.5:
            op, k = rng.choice(UNARY), rng.choice([2, 3, -1, 0.5])
            # stay inside each operation's domain and away from overflow
            if (op == "log" and a.data <= 0.1) or (op == "exp" and a.data > 3) or (op == "relu" and a.data == 0):
                continue
            if op == "pow" and ((k == 0.5 and a.data <= 0.1) or (k == -1 and abs(a.data) < 0.2)):
                continue
            new = _unary(op, a, k), _unary(op, at, k)
        else:
            op = rng.choice(BINARY)
            if (op == "div" and abs(b.data) < 0.2) or (op == "rdiv" and abs(a.data) < 0.2):
                continue
            new = _binary(op, a, b, c), _binary(op, at, bt, c)
        if math.isfinite(new[0].data) and abs(new[0].data) < 1e4:
            nodes.append(new)
    # the output depends on every node, so every path is exercised
    out, out_ref = nodes[-1]
    for v, t in nodes[n_leaves:-1]:
        out, out_ref = out + v * 0.1, out_ref + t * 0.1
    return out, out_ref, ours, ref


@pytest.mark.parametrize("seed", range(60))
def test_engine_matches_torch_on_random_expressions(seed):
    out, out_ref, leaves, ref_leaves = _random_expression(seed)
    out.backward()
    out_ref.backward()
    assert out.data == pytest.approx(out_ref.item(), rel=1e-12, abs=1e-12)
    ours = torch.tensor([v.grad for v in leaves], dtype=torch.float64)
    ref = torch.stack([t.grad if t.grad is not None else torch.zeros((), dtype=torch.float64) for t in ref_leaves])
    assert_close(ours, ref, rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("op", ["exp", "tanh", "sigmoid", "relu"])
@pytest.mark.parametrize("x", [-3.0, -0.5, 0.0, 0.7, 4.0])
def test_each_unary_derivative_matches_torch(op, x):
    v = Value(x)
    getattr(v, op)().backward()
    t = torch.tensor(x, dtype=torch.float64, requires_grad=True)
    getattr(t, op)().backward()
    assert v.grad == pytest.approx(t.grad.item(), abs=1e-15)


def test_relu_derivative_at_zero_is_zero_like_torch():
    v = Value(0.0)
    v.relu().backward()
    assert v.grad == 0.0


def test_sigmoid_does_not_overflow():
    assert Value(-1000.0).sigmoid().data == 0.0
    assert Value(1000.0).sigmoid().data == 1.0


def test_backward_changes_no_data_and_leaf_grads_accumulate():
    w, x = Value(0.3), Value(-2.0)
    y = (w * x).tanh() + w**2
    y.backward()
    first = w.grad
    assert (w.data, x.data) == (0.3, -2.0)
    y.backward()
    assert w.grad == pytest.approx(2 * first)  # accumulated exactly twice, not compounded
    w.grad = 0.0
    y.backward()
    assert w.grad == pytest.approx(first)


def test_deep_graph_does_not_hit_recursion_limit():
    x = Value(1.0)
    y = x
    for _ in range(2000):
        y = y * 1.0 + 0.0
    y.backward()
    assert x.grad == 1.0


def test_engine_rejects_bad_input():
    with pytest.raises(TypeError, match="data must be a real number"):
        Value("1.0")
    with pytest.raises(ValueError, match="data must be a number, got nan"):
        Value(float("nan"))
    with pytest.raises(TypeError, match="exponent must be a real number"):
        Value(2.0) ** Value(2.0)
    with pytest.raises(ValueError, match="log needs a positive input"):
        Value(-1.0).log()


# --- hand-written MLP backward -------------------------------------------------------------------


@pytest.mark.parametrize(("B", "C", "H", "O"), [(1, 1, 1, 1), (8, 3, 5, 2), (32, 10, 16, 4)])
def test_mlp_backward_matches_autograd(B, C, H, O):
    x, y = torch.randn(B, C, dtype=torch.float64), torch.randn(B, O, dtype=torch.float64)
    params = [torch.randn(s, dtype=torch.float64, requires_grad=True) for s in [(H, C), (H,), (O, H), (O,)]]
    loss, *ours = mlp_backward(x, *params, y)
    ref_loss = F.mse_loss(F.linear(F.relu(F.linear(x, params[0], params[1])), params[2], params[3]), y)
    ref = torch.autograd.grad(ref_loss, params)
    assert_close(loss, ref_loss.detach())
    for o, r in zip(ours, ref):
        assert_close(o, r)


def test_mlp_backward_equals_nn_modules():
    net = torch.nn.Sequential(torch.nn.Linear(4, 6), torch.nn.ReLU(), torch.nn.Linear(6, 3)).double()
    x, y = torch.randn(10, 4, dtype=torch.float64), torch.randn(10, 3, dtype=torch.float64)
    F.mse_loss(net(x), y).backward()
    _, dW1, db1, dW2, db2 = mlp_backward(x, net[0].weight, net[0].bias, net[2].weight, net[2].bias, y)
    for ours, p in zip((dW1, db1, dW2, db2), (net[0].weight, net[0].bias, net[2].weight, net[2].bias)):
        assert_close(ours, p.grad)


@pytest.mark.parametrize(
    ("which", "shape", "match"),
    [
        (0, (8,), "input must have 2 dimensions"),
        (1, (5, 4), r"W1 must have shape \(5, 3\)"),
        (2, (4,), r"b1 must have shape \(5,\)"),
        (3, (2, 4), r"W2 must have shape \(2, 5\)"),
        (4, (3,), r"b2 must have shape \(2,\)"),
        (5, (7, 2), r"target must have shape \(8, 2\)"),
    ],
)
def test_mlp_backward_rejects_bad_shapes(which, shape, match):
    args = [torch.randn(s, dtype=torch.float64) for s in [(8, 3), (5, 3), (5,), (2, 5), (2,), (8, 2)]]
    args[which] = torch.randn(shape, dtype=torch.float64)
    with pytest.raises(ValueError, match=match):
        mlp_backward(*args)


# --- training step -------------------------------------------------------------------------------


def _model_and_data():
    model = torch.nn.Linear(3, 2, dtype=torch.float64)
    return model, torch.randn(16, 3, dtype=torch.float64), torch.randn(16, 2, dtype=torch.float64)


def test_backward_fills_grad_and_only_step_changes_weights():
    model, x, y = _model_and_data()
    before = [p.detach().clone() for p in model.parameters()]
    F.mse_loss(model(x), y).backward()
    for p, b in zip(model.parameters(), before):
        assert p.grad is not None and bool(p.grad.abs().sum() > 0)
        assert torch.equal(p, b)
    torch.optim.SGD(model.parameters(), lr=0.1).step()
    for p, b in zip(model.parameters(), before):
        assert_close(p.detach(), b - 0.1 * p.grad)


def test_gradients_accumulate_until_zeroed_and_equal_the_summed_loss():
    model, x, y = _model_and_data()
    F.mse_loss(model(x[:8]), y[:8]).backward()
    F.mse_loss(model(x[8:]), y[8:]).backward()
    ours = [p.grad.clone() for p in model.parameters()]
    model.zero_grad()
    (F.mse_loss(model(x[:8]), y[:8]) + F.mse_loss(model(x[8:]), y[8:])).backward()
    for o, p in zip(ours, model.parameters()):
        assert_close(o, p.grad)


@pytest.mark.parametrize("zero_grad", [True, False])
def test_train_step_matches_the_manual_loop(zero_grad):
    model, x, y = _model_and_data()
    twin = torch.nn.Linear(3, 2, dtype=torch.float64)
    twin.load_state_dict(model.state_dict())
    opt = torch.optim.SGD(model.parameters(), lr=0.05, momentum=0.9)
    ref_opt = torch.optim.SGD(twin.parameters(), lr=0.05, momentum=0.9)
    for _ in range(4):
        ours = train_step(model, F.mse_loss, opt, x, y, zero_grad=zero_grad)
        if zero_grad:
            ref_opt.zero_grad()
        ref = F.mse_loss(twin(x), y)
        ref.backward()
        ref_opt.step()
        assert ours == pytest.approx(ref.item())
    for o, r in zip(model.parameters(), twin.parameters()):
        assert_close(o, r)


def test_train_step_rejects_bad_arguments():
    model, x, y = _model_and_data()
    opt = torch.optim.SGD(model.parameters(), lr=0.1)
    with pytest.raises(TypeError, match="model must be a torch.nn.Module"):
        train_step(lambda t: t, F.mse_loss, opt, x, y)
    with pytest.raises(TypeError, match="loss_fn must be callable"):
        train_step(model, "mse", opt, x, y)
    with pytest.raises(TypeError, match="optimizer must be a torch.optim.Optimizer"):
        train_step(model, F.mse_loss, None, x, y)
    with pytest.raises(TypeError, match="input must be a torch.Tensor"):
        train_step(model, F.mse_loss, opt, [1.0], y)
    with pytest.raises(TypeError, match="zero_grad must be True or False"):
        train_step(model, F.mse_loss, opt, x, y, zero_grad=0)
