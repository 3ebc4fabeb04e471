"""nnfaq.sequences.recurrent against torch.nn's cells (forward and gradients, float64), its claims and refusals."""

import pytest
import torch
import torch.nn.functional as F
from helpers import gen, rejects
from hypothesis import given
from hypothesis import strategies as st
from torch.autograd.functional import jacobian
from torch.testing import assert_close

from nnfaq.sequences.recurrent import (
    decode,
    dependency_depth,
    gradient_through_time,
    gru_cell,
    lstm_cell,
    rnn_cell,
    unroll_rnn,
)

F64 = torch.float64
nn = torch.nn


def weights(cell):
    return [cell.weight_ih, cell.weight_hh, cell.bias_ih, cell.bias_hh]


def run_both(ours_fn, ref_fn, tensors, seed):
    """Outputs (a tensor or a tuple) and the gradients of every tensor in ``tensors`` agree."""
    a = [t.detach().clone().requires_grad_() for t in tensors]
    b = [t.detach().clone().requires_grad_() for t in tensors]
    ours, ref = ours_fn(*a), ref_fn(*b)
    ours, ref = (ours, ref) if isinstance(ours, tuple) else ((ours,), (ref,))
    loss_ours = loss_ref = 0
    for i, (o, r) in enumerate(zip(ours, ref)):
        assert_close(o, r)
        g = torch.randn(r.shape, generator=gen(seed + i), dtype=F64)
        loss_ours, loss_ref = loss_ours + (o * g).sum(), loss_ref + (r * g).sum()
    for ga, gb in zip(torch.autograd.grad(loss_ours, a), torch.autograd.grad(loss_ref, b)):
        assert_close(ga, gb)


# --- parity --------------------------------------------------------------------------------------

shapes = dict(I=st.integers(1, 4), H=st.integers(1, 4), B=st.integers(1, 3), batched=st.booleans(), bias=st.booleans())


@given(**shapes, relu=st.booleans(), seed=st.integers(0, 2**16))
def test_rnn_cell_matches_torch(I, H, B, batched, bias, relu, seed):
    torch.manual_seed(seed)
    cell = nn.RNNCell(I, H, bias=bias, nonlinearity="relu" if relu else "tanh", dtype=F64)
    x, h = torch.randn(B, I, dtype=F64), torch.randn(B, H, dtype=F64)
    if not batched:
        x, h = x[0], h[0]
    params = [p for p in weights(cell) if p is not None]

    def ours(x, h, *p):
        w = p if bias else (*p, None, None)
        return rnn_cell(x, h, *w, nonlinearity=cell.nonlinearity)

    def ref(x, h, *p):
        return torch.func.functional_call(cell, dict(zip([n for n, _ in cell.named_parameters()], p)), (x, h))

    run_both(ours, ref, [x, h, *params], seed)


@given(**shapes, seed=st.integers(0, 2**16))
def test_lstm_cell_matches_torch(I, H, B, batched, bias, seed):
    torch.manual_seed(seed)
    cell = nn.LSTMCell(I, H, bias=bias, dtype=F64)
    x, h, c = torch.randn(B, I, dtype=F64), torch.randn(B, H, dtype=F64), torch.randn(B, H, dtype=F64)
    if not batched:
        x, h, c = x[0], h[0], c[0]
    params = [p for p in weights(cell) if p is not None]
    names = [n for n, _ in cell.named_parameters()]

    def ours(x, h, c, *p):
        return lstm_cell(x, (h, c), *(p if bias else (*p, None, None)))

    def ref(x, h, c, *p):
        return torch.func.functional_call(cell, dict(zip(names, p)), (x, (h, c)))

    run_both(ours, ref, [x, h, c, *params], seed)


@given(**shapes, seed=st.integers(0, 2**16))
def test_gru_cell_matches_torch(I, H, B, batched, bias, seed):
    torch.manual_seed(seed)
    cell = nn.GRUCell(I, H, bias=bias, dtype=F64)
    x, h = torch.randn(B, I, dtype=F64), torch.randn(B, H, dtype=F64)
    if not batched:
        x, h = x[0], h[0]
    params = [p for p in weights(cell) if p is not None]
    names = [n for n, _ in cell.named_parameters()]

    def ours(x, h, *p):
        return gru_cell(x, h, *(p if bias else (*p, None, None)))

    def ref(x, h, *p):
        return torch.func.functional_call(cell, dict(zip(names, p)), (x, h))

    run_both(ours, ref, [x, h, *params], seed)


@pytest.mark.parametrize("kind", ["rnn", "lstm", "gru"])
def test_missing_state_is_zeros(kind):
    cell = {"rnn": nn.RNNCell, "lstm": nn.LSTMCell, "gru": nn.GRUCell}[kind](3, 4, dtype=F64)
    x = torch.randn(2, 3, dtype=F64)
    fn = {"rnn": rnn_cell, "lstm": lstm_cell, "gru": gru_cell}[kind]
    ours, ref = fn(x, None, *weights(cell)), cell(x)
    for o, r in zip(ours if kind == "lstm" else (ours,), ref if kind == "lstm" else (ref,)):
        assert_close(o, r)


@given(
    T=st.integers(1, 6),
    B=st.integers(1, 3),
    relu=st.booleans(),
    with_hx=st.booleans(),
    truncate=st.sampled_from([None, 1, 2, 5]),
    seed=st.integers(0, 2**16),
)
def test_unroll_rnn_matches_nn_rnn_forward(T, B, relu, with_hx, truncate, seed):
    torch.manual_seed(seed)
    rnn = nn.RNN(3, 4, nonlinearity="relu" if relu else "tanh", dtype=F64)
    x = torch.randn(T, B, 3, dtype=F64)
    hx = torch.randn(B, 4, dtype=F64) if with_hx else None
    w = (rnn.weight_ih_l0, rnn.weight_hh_l0, rnn.bias_ih_l0, rnn.bias_hh_l0)
    out, h = unroll_rnn(x, hx, *w, nonlinearity=rnn.nonlinearity, truncate=truncate)
    ref_out, ref_h = rnn(x, None if hx is None else hx[None])
    assert_close(out, ref_out)
    assert_close(h, ref_h[0])
    if truncate is None:
        run_both(
            lambda x, *w: unroll_rnn(x, None, *w, nonlinearity=rnn.nonlinearity),
            lambda x, *w: tuple(
                t if i == 0 else t[0]
                for i, t in enumerate(
                    torch.func.functional_call(rnn, dict(zip([n for n, _ in rnn.named_parameters()], w)), (x,))
                )
            ),
            [x, *w],
            seed,
        )


# --- claims --------------------------------------------------------------------------------------


@pytest.mark.parametrize(("I", "H"), [(1, 1), (3, 5), (10, 20), (7, 2)])
def test_parameter_counts(I, H):
    def count(m):
        return sum(p.numel() for p in m.parameters())

    block = H * I + H * H + 2 * H
    assert count(nn.RNN(I, H)) == block
    assert count(nn.LSTM(I, H)) == 4 * block
    assert count(nn.GRU(I, H)) == 3 * block
    assert count(nn.LSTMCell(I, H)) == 4 * block


@pytest.mark.parametrize("seed", range(5))
def test_cell_state_jacobian_is_the_forget_gate(seed):
    torch.manual_seed(seed)
    cell = nn.LSTMCell(3, 4, dtype=F64)
    w = weights(cell)
    x, h, c = (torch.randn(n, dtype=F64) for n in (3, 4, 4))
    J = jacobian(lambda c: lstm_cell(x, (h, c), *w)[1], c)
    f = torch.sigmoid((x @ w[0].T + w[2] + h @ w[1].T + w[3])[4:8])
    assert_close(J, torch.diag(f))
    # and over several steps with h held fixed, the cell path multiplies the forget gates
    c0 = torch.randn(4, dtype=F64)

    def three_steps(c):
        for _ in range(3):
            c = lstm_cell(x, (h, c), *w)[1]
        return c

    assert_close(jacobian(three_steps, c0).diagonal(), f**3)


@pytest.mark.parametrize("seed", range(5))
def test_vanishing_without_forget_bias_and_surviving_with_it(seed):
    torch.manual_seed(seed)
    seq = torch.randn(40, 8, 3, dtype=F64)
    rnn, lstm = nn.RNNCell(3, 16, dtype=F64), nn.LSTMCell(3, 16, dtype=F64)
    assert gradient_through_time(rnn, seq)[0] < 1e-6
    assert gradient_through_time(lstm, seq)[0] < 1e-6
    with torch.no_grad():
        lstm.bias_ih[16:32] = 5.0
    assert gradient_through_time(lstm, seq)[0] > 0.01
    gru = nn.GRUCell(3, 16, dtype=F64)
    assert gradient_through_time(gru, seq).shape == (40,)


def test_gradient_through_time_is_autograd_on_the_unrolled_states():
    torch.manual_seed(0)
    cell = nn.RNNCell(2, 3, dtype=F64)
    seq = torch.randn(5, 2, 2, dtype=F64)
    h0 = torch.randn(2, 3, dtype=F64, requires_grad=True)
    h = h0
    for x_t in seq:
        h = cell(x_t, h)
    (g,) = torch.autograd.grad(h.sum(), h0)
    assert_close(gradient_through_time(cell, seq, h0)[0], g.norm())
    # the last entry: one step back from h_T, from the state the last step was fed
    h_prev = None
    for x_t in seq[:-1]:
        h_prev = cell(x_t, h_prev)
    h_prev = h_prev.detach().requires_grad_()
    (g_last,) = torch.autograd.grad(cell(seq[-1], h_prev).sum(), h_prev)
    assert_close(gradient_through_time(cell, seq)[-1], g_last.norm())


def test_lstm_gradient_can_still_explode():
    boom = nn.LSTMCell(1, 1, dtype=F64)
    with torch.no_grad():
        for p in boom.parameters():
            p.zero_()
        boom.bias_ih[:] = torch.tensor([20.0, 20.0, 0.0, 20.0])
        boom.weight_hh[2] = 3.0
    g = gradient_through_time(boom, torch.zeros(12, 1, 1, dtype=F64))
    assert_close(g[:-1] / g[1:], torch.full((11,), 4.0, dtype=F64))
    assert_close(g[-1], torch.tensor(10.0, dtype=F64).sqrt())  # |[3, 1]|


@pytest.mark.parametrize("k", [1, 2, 3, 4, 7])
def test_truncation_cuts_gradients_at_the_cuts_only(k):
    torch.manual_seed(k)
    rnn = nn.RNN(3, 4, dtype=F64)
    w = (rnn.weight_ih_l0, rnn.weight_hh_l0, rnn.bias_ih_l0, rnn.bias_hh_l0)
    x = torch.randn(10, 2, 3, dtype=F64, requires_grad=True)
    out, h = unroll_rnn(x, None, *w)
    out_k, h_k = unroll_rnn(x, None, *w, truncate=k)
    assert_close(out_k, out)
    (g,) = torch.autograd.grad(h.sum(), x)
    (g_k,) = torch.autograd.grad(h_k.sum(), x)
    start = (9 // k) * k  # the last window begins at the last cut
    assert_close(g_k[start:], g[start:])
    assert bool((g_k[:start] == 0).all())


def test_shared_weight_gradient_is_the_sum_over_steps():
    torch.manual_seed(0)
    rnn = nn.RNN(3, 4, dtype=F64)
    w = [rnn.weight_ih_l0, rnn.weight_hh_l0, rnn.bias_ih_l0, rnn.bias_hh_l0]
    x = torch.randn(6, 2, 3, dtype=F64)
    copies = [[p.detach().clone().requires_grad_() for p in w] for _ in range(6)]
    h = None
    for x_t, ws in zip(x, copies):
        h = rnn_cell(x_t, h, *ws)
    grads = torch.autograd.grad(h.sum(), [p for ws in copies for p in ws])
    _, h_ref = unroll_rnn(x, None, *w)
    ref = torch.autograd.grad(h_ref.sum(), w)
    for j in range(4):
        assert_close(sum(grads[4 * t + j] for t in range(6)), ref[j])


@pytest.mark.parametrize("seed", range(3))
def test_teacher_forcing(seed):
    torch.manual_seed(seed)
    cell, emb, out = nn.RNNCell(4, 8), nn.Embedding(5, 4), nn.Linear(8, 5)
    tokens = torch.randint(0, 5, (7, 3))
    tf = decode(cell, emb, out, tokens)
    free = decode(cell, emb, out, tokens, teacher_forcing=False)
    assert tf.shape == free.shape == (6, 3, 5)
    assert_close(tf[0], free[0])
    own = torch.cat([tokens[:1], free.argmax(-1)])
    assert_close(decode(cell, emb, out, own), free)
    # changing a target changes only the later teacher-forced steps
    changed = tokens.clone()
    changed[3] = (changed[3] + 1) % 5
    tf2 = decode(cell, emb, out, changed)
    assert_close(tf2[:3], tf[:3])
    assert not torch.allclose(tf2[3:], tf[3:])
    # free-running ignores every target but the start token
    assert_close(decode(cell, emb, out, changed, teacher_forcing=False), free)


def test_dependency_depth_counts_sequential_steps():
    torch.manual_seed(0)
    rnn = nn.RNN(4, 4)
    w = (rnn.weight_ih_l0, rnn.weight_hh_l0, rnn.bias_ih_l0, rnn.bias_hh_l0)
    depths = []
    for T in (1, 2, 4, 8):
        x = torch.randn(T, 1, 4, requires_grad=True)
        depths.append(dependency_depth(unroll_rnn(x, None, *w)[1], x))
    per_step = depths[1] - depths[0]
    assert per_step > 0
    assert depths == [depths[0] + per_step * (T - 1) for T in (1, 2, 4, 8)]
    att = []
    for T in (2, 8, 32):
        x = torch.randn(1, T, 4, requires_grad=True)
        att.append(dependency_depth(F.scaled_dot_product_attention(x, x, x), x))
    assert len(set(att)) == 1
    # a chain of n additions has depth n; independent branches do not add up
    a = torch.ones(1, requires_grad=True)
    y = a
    for _ in range(5):
        y = y + 1
    assert dependency_depth(y, a) == 5
    assert dependency_depth((a * 2) + (a * 3), a) == 2
    assert dependency_depth(torch.ones(2), a) == 0


# --- bad input -----------------------------------------------------------------------------------

x3, h4 = torch.randn(2, 3), torch.randn(2, 4)
rnn_w = weights(nn.RNNCell(3, 4))
lstm_w = weights(nn.LSTMCell(3, 4))
gru_w = weights(nn.GRUCell(3, 4))


@pytest.mark.parametrize(
    ("fn", "name"),
    [
        (lambda: rnn_cell(torch.randn(2, 5), h4, *rnn_w), "w_ih"),
        (lambda: rnn_cell(x3, torch.randn(2, 5), *rnn_w), "hx"),
        (lambda: rnn_cell(x3, torch.randn(3, 4), *rnn_w), "hx"),
        (lambda: rnn_cell(torch.randn(1, 2, 3), h4, *rnn_w), "input"),
        (lambda: rnn_cell(x3, h4, rnn_w[0], torch.randn(4, 3), *rnn_w[2:]), "w_hh"),
        (lambda: rnn_cell(x3, h4, *rnn_w[:2], torch.randn(5), None), "b_ih"),
        (lambda: rnn_cell(x3, h4, *rnn_w, nonlinearity="sigmoid"), "nonlinearity"),
        (lambda: rnn_cell(x3.double(), h4, *rnn_w), "w_ih"),
        (lambda: lstm_cell(x3, h4, *lstm_w), "hx"),
        (lambda: lstm_cell(x3, (h4, torch.randn(2, 5)), *lstm_w), "hx[1]"),
        (lambda: lstm_cell(x3, (h4, h4), *rnn_w), "w_hh"),
        (lambda: gru_cell(x3, h4, *lstm_w), "w_hh"),
        (lambda: gru_cell(x3, h4, gru_w[0], gru_w[1], gru_w[2], torch.randn(4)), "b_hh"),
        (lambda: gradient_through_time(nn.RNN(3, 4), torch.randn(5, 2, 3)), "cell"),
        (lambda: gradient_through_time(nn.RNNCell(3, 4), torch.randn(5, 3)), "input"),
        (lambda: gradient_through_time(nn.RNNCell(3, 4), torch.randn(0, 2, 3)), "input"),
        (lambda: gradient_through_time(nn.LSTMCell(3, 4), torch.randn(5, 2, 3), h4), "hx"),
        (lambda: unroll_rnn(x3, None, *rnn_w), "input"),
        (lambda: unroll_rnn(torch.randn(0, 2, 3), None, *rnn_w), "input"),
        (lambda: unroll_rnn(torch.randn(4, 2, 3), None, *rnn_w, truncate=0), "truncate"),
        (lambda: decode(nn.LSTMCell(4, 8), nn.Embedding(5, 4), nn.Linear(8, 5), torch.zeros(3, 2).long()), "cell"),
        (lambda: decode(nn.RNNCell(4, 8), nn.Linear(5, 4), nn.Linear(8, 5), torch.zeros(3, 2).long()), "embedding"),
        (lambda: decode(nn.RNNCell(4, 8), nn.Embedding(5, 4), 3, torch.zeros(3, 2).long()), "readout"),
        (lambda: decode(nn.RNNCell(4, 8), nn.Embedding(5, 4), nn.Linear(8, 5), torch.zeros(3, 2)), "tokens"),
        (lambda: decode(nn.RNNCell(4, 8), nn.Embedding(5, 4), nn.Linear(8, 5), torch.zeros(1, 2).long()), "tokens"),
        (lambda: decode(nn.RNNCell(4, 8), nn.Embedding(5, 4), nn.Linear(8, 5), torch.full((3, 2), 5)), "tokens"),
        (lambda: dependency_depth(torch.ones(2), torch.ones(2)), "input"),
        (lambda: dependency_depth(torch.ones(2), [1.0]), "input"),
    ],
)
def test_rejects_bad_arguments(fn, name):
    rejects(name, fn)
