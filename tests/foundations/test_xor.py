"""nnfaq.foundations.xor: the hand-built networks compute XOR exactly; the impossibility arguments hold."""

import itertools

import pytest
import torch
from helpers import gen, rejects
from hypothesis import given
from hypothesis import strategies as st

from nnfaq.foundations.xor import xor_network

F64 = torch.float64
X = torch.tensor([[0.0, 0.0], [0.0, 1.0], [1.0, 0.0], [1.0, 1.0]], dtype=F64)
Y = torch.tensor([0.0, 1.0, 1.0, 0.0], dtype=F64)


@pytest.mark.parametrize("skip", [False, True])
@pytest.mark.parametrize("dtype", [torch.float32, F64])
def test_computes_xor_exactly(skip, dtype):
    net = xor_network(skip=skip, dtype=dtype)
    assert all(p.dtype == dtype for p in net.parameters())
    assert torch.equal(net(X.to(dtype)).flatten(), Y.to(dtype))
    # and is the logical XOR on booleans
    for a, b in itertools.product([0, 1], repeat=2):
        x = torch.tensor([[float(a), float(b)]], dtype=dtype)
        assert net(x).item() == float(a ^ b)


def test_mlp_layout_is_two_hidden_units():
    net = xor_network()
    assert isinstance(net, torch.nn.Sequential)
    assert [type(m).__name__ for m in net] == ["Linear", "ReLU", "Linear"]
    assert net[0].out_features == 2


@given(seed=st.integers(0, 2**16))
def test_no_affine_map_and_no_single_unit_mlp_computes_xor(seed):
    w = torch.randn(3, generator=gen(seed), dtype=F64)
    f = X @ w[:2] + w[2]
    assert torch.allclose(f[0] + f[3], f[1] + f[2])
    # so no threshold t has f(ones) > t >= f(zeros)
    assert not (min(f[1], f[2]) > max(f[0], f[3]))
    # one hidden unit with a monotone activation keeps the order of its pre-activation s, which obeys the identity
    for act in (torch.relu, torch.sigmoid, torch.tanh):
        a, c = torch.randn(2, generator=gen(seed + 1), dtype=F64)
        y = a * act(f) + c
        assert not (min(y[1], y[2]) > max(y[0], y[3]))


def test_best_linear_fit_is_one_half():
    A = torch.cat([X, torch.ones(4, 1, dtype=F64)], dim=1)
    w = torch.linalg.lstsq(A, Y[:, None]).solution
    torch.testing.assert_close((A @ w).flatten(), torch.full((4,), 0.5, dtype=F64))


def test_rejects_bad_arguments():
    rejects("skip", xor_network, skip=1)
    rejects("dtype", xor_network, dtype=torch.int64)
    rejects("dtype", xor_network, dtype="float64")
