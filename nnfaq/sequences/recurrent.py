"""Recurrent networks

The RNN, LSTM and GRU cells from scratch with PyTorch's weight layout, what the gates do and cost,
why the LSTM's cell state eases vanishing gradients (and what still explodes), backpropagation
through time and its truncation, teacher forcing, and why recurrence is hard to parallelise.
"""

from __future__ import annotations

import torch

from nnfaq import _validate as check
from nnfaq._registry import question

__all__ = [
    "decode",
    "dependency_depth",
    "gradient_through_time",
    "gru_cell",
    "lstm_cell",
    "rnn_cell",
    "unroll_rnn",
]


def _check_cell(input, hx, w_ih, w_hh, b_ih, b_hh, gates: int, hx_names=("hx",)):
    """Check the shapes of one cell call (``gates`` blocks of ``H`` rows); return ``H``."""
    check.tensor("input", input, ndim=(1, 2))
    check.tensor("w_ih", w_ih, ndim=2)
    check.tensor("w_hh", w_hh, ndim=2)
    rows, H = w_hh.shape
    if rows != gates * H:
        raise ValueError(f"w_hh must have shape ({gates} * hidden_size, hidden_size), got {tuple(w_hh.shape)}")
    check.same_shape("w_ih", w_ih, (gates * H, input.shape[-1]), f"{gates} * hidden_size rows, input's features")
    for name, b in (("b_ih", b_ih), ("b_hh", b_hh)):
        if b is not None:
            check.tensor(name, b, ndim=1)
            check.same_shape(name, b, (gates * H,), f"{gates} * hidden_size")
    expected = (*input.shape[:-1], H)
    for name, h in zip(hx_names, hx):
        if h is not None:
            check.tensor(name, h)
            check.same_shape(name, h, expected, "input's batch and hidden_size")
    check.same_dtype("input", input, w_ih=w_ih, w_hh=w_hh, b_ih=b_ih, b_hh=b_hh, **dict(zip(hx_names, hx)))
    return H


def _affine(x, W, b):
    # x W^T + b, the one matrix product of every gate block at once
    y = x @ W.T  # (B, G*H)
    return y + b if b is not None else y


def _zeros(input, H):
    return input.new_zeros((*input.shape[:-1], H))  # (B, H)


@question(
    "rnn-cell",
    level="basic",
    short=(
        "At each step a vanilla RNN computes h_t = tanh(W_ih x_t + W_hh h_(t-1) + biases): the new state mixes "
        "the input with the previous state. The same weights serve every step, so the parameter count "
        "(H*I + H*H + 2H in PyTorch) does not grow with the sequence length, and any length can be read."
    ),
    followups=("lstm-gates-and-parameters", "bptt-and-truncation", "exploding-gradients"),
)
def rnn_cell(
    input: torch.Tensor,
    hx: torch.Tensor | None,
    w_ih: torch.Tensor,
    w_hh: torch.Tensor,
    b_ih: torch.Tensor | None = None,
    b_hh: torch.Tensor | None = None,
    nonlinearity: str = "tanh",
) -> torch.Tensor:
    r"""One step of a vanilla (Elman) RNN, exactly as ``torch.nn.RNNCell``; returns the new hidden state.

    **What does a recurrent cell compute at each time step, and what is shared across time?**

    A recurrent network keeps a hidden state :math:`h` and updates it once per input:
    :math:`h_t = \tanh(W_{ih} x_t + b_{ih} + W_{hh} h_{t-1} + b_{hh})`, the state so far mixed with
    the new input. The same weights are applied at every step (weight sharing over time, as a
    convolution shares them over space), so a network with ``H*I + H*H + 2H`` parameters (PyTorch
    keeps two bias vectors) reads sequences of any length, and the last state summarizes the
    whole sequence. The price is the chain of :math:`T` dependent steps, through which the gradient
    must also flow back.

    .. math::

        h_t = \phi(W_{ih} x_t + b_{ih} + W_{hh} h_{t-1} + b_{hh}), \qquad \phi \in \{\tanh, \mathrm{ReLU}\}

    Parameters
    ----------
    input : torch.Tensor
        ``(B, I)`` or unbatched ``(I,)``.
    hx : torch.Tensor or None
        ``(B, H)`` (or ``(H,)``) previous hidden state; None means zeros.
    w_ih, w_hh : torch.Tensor
        ``(H, I)`` and ``(H, H)``, as ``nn.RNNCell``'s ``weight_ih`` and ``weight_hh``.
    b_ih, b_hh : torch.Tensor, optional
        ``(H,)`` each.
    nonlinearity : {"tanh", "relu"}, default "tanh"

    Returns
    -------
    torch.Tensor
        ``(B, H)`` (or ``(H,)``), the new hidden state.

    See Also
    --------
    torch.nn.RNNCell, torch.nn.RNN, lstm_cell, gru_cell

    References
    ----------
    .. [1] J. L. Elman, "Finding Structure in Time", Cognitive Science 14, 1990.

    Examples
    --------
    A torch cell's weights drop in:

    >>> _ = torch.manual_seed(0)
    >>> cell = nn.RNNCell(3, 5, dtype=torch.float64)
    >>> x, h = torch.randn(4, 3, dtype=torch.float64), torch.randn(4, 5, dtype=torch.float64)
    >>> w = (cell.weight_ih, cell.weight_hh, cell.bias_ih, cell.bias_hh)
    >>> torch.allclose(rnn_cell(x, h, *w), cell(x, h)), torch.allclose(rnn_cell(x, None, *w), cell(x))
    (True, True)

    The parameter count does not depend on the sequence length: ``H*I + H*H + 2H``:

    >>> sum(p.numel() for p in cell.parameters()) == 5 * 3 + 5 * 5 + 2 * 5
    True

    Unrolled over a sequence with the same weights at every step, it is ``nn.RNN``:

    >>> rnn = nn.RNN(3, 5, dtype=torch.float64)
    >>> seq = torch.randn(7, 4, 3, dtype=torch.float64)  # (T, B, I)
    >>> h_t = None
    >>> for x_t in seq:
    ...     h_t = rnn_cell(x_t, h_t, rnn.weight_ih_l0, rnn.weight_hh_l0, rnn.bias_ih_l0, rnn.bias_hh_l0)
    >>> torch.allclose(h_t, rnn(seq)[1][0])
    True
    """
    H = _check_cell(input, (hx,), w_ih, w_hh, b_ih, b_hh, gates=1)
    nonlinearity = check.choice("nonlinearity", nonlinearity, ("tanh", "relu"))
    h = _zeros(input, H) if hx is None else hx
    # W_ih x + b_ih + W_hh h + b_hh
    z = _affine(input, w_ih, b_ih) + _affine(h, w_hh, b_hh)  # (B, H)
    return torch.tanh(z) if nonlinearity == "tanh" else torch.relu(z)


@question(
    "lstm-gates-and-parameters",
    level="intermediate",
    short=(
        "An LSTM keeps a cell state c beside h. The forget gate f scales the old cell, the input gate i scales "
        "the candidate g, c_t = f*c_(t-1) + i*g, and the output gate o exposes h_t = o*tanh(c_t). The four gate "
        "blocks give PyTorch's 4(H*I + H*H + 2H) parameters, four times a vanilla RNN's."
    ),
    followups=("lstm-cell-state-gradient", "gru-vs-lstm", "rnn-cell"),
)
def lstm_cell(
    input: torch.Tensor,
    hx: tuple[torch.Tensor, torch.Tensor] | None,
    w_ih: torch.Tensor,
    w_hh: torch.Tensor,
    b_ih: torch.Tensor | None = None,
    b_hh: torch.Tensor | None = None,
) -> tuple[torch.Tensor, torch.Tensor]:
    r"""One step of an LSTM, exactly as ``torch.nn.LSTMCell``; returns the new ``(h, c)``.

    **What do the LSTM's gates do, and how many parameters does an LSTM layer have?**

    Besides the hidden state :math:`h` an LSTM keeps a cell state :math:`c`, changed only by
    elementwise gates. The forget gate :math:`f` decides how much of the old cell state to keep,
    the input gate :math:`i` how much of the candidate :math:`g` to write, and the output gate
    :math:`o` how much of :math:`\tanh(c)` to expose as :math:`h`. All four blocks come from one
    matrix product of :math:`[x, h]`, stacked in PyTorch in the order ``i, f, g, o``; with its two
    bias vectors a layer has :math:`4(HI + H^2 + 2H)` parameters, four times a vanilla RNN's.

    .. math::

        \begin{aligned}
        (i, f, g, o) &= \text{chunks of } W_{ih} x + b_{ih} + W_{hh} h_{t-1} + b_{hh} \\
        c_t &= \sigma(f) \odot c_{t-1} + \sigma(i) \odot \tanh(g), \qquad
        h_t = \sigma(o) \odot \tanh(c_t)
        \end{aligned}

    Parameters
    ----------
    input : torch.Tensor
        ``(B, I)`` or unbatched ``(I,)``.
    hx : tuple of torch.Tensor, or None
        ``(h, c)``, each ``(B, H)`` (or ``(H,)``); None means zeros.
    w_ih, w_hh : torch.Tensor
        ``(4H, I)`` and ``(4H, H)``, row blocks in the order input, forget, cell, output gate
        (``nn.LSTMCell``'s ``weight_ih`` and ``weight_hh``).
    b_ih, b_hh : torch.Tensor, optional
        ``(4H,)`` each.

    Returns
    -------
    tuple of torch.Tensor
        ``(h, c)``, each ``(B, H)`` (or ``(H,)``).

    See Also
    --------
    torch.nn.LSTMCell, torch.nn.LSTM, gru_cell, gradient_through_time

    Notes
    -----
    The two bias vectors are redundant (only their sum matters); PyTorch keeps both for cuDNN
    compatibility, which is why its count has :math:`2H` per gate block where a textbook has
    :math:`H`.

    References
    ----------
    .. [1] S. Hochreiter and J. Schmidhuber, "Long Short-Term Memory", Neural Computation 9, 1997.
    .. [2] F. A. Gers, J. Schmidhuber and F. Cummins, "Learning to Forget: Continual Prediction
       with LSTM", Neural Computation 12, 2000 (the forget gate).

    Examples
    --------
    A torch cell's weights drop in:

    >>> _ = torch.manual_seed(0)
    >>> cell = nn.LSTMCell(3, 5, dtype=torch.float64)
    >>> x = torch.randn(4, 3, dtype=torch.float64)
    >>> hc = (torch.randn(4, 5, dtype=torch.float64), torch.randn(4, 5, dtype=torch.float64))
    >>> w = (cell.weight_ih, cell.weight_hh, cell.bias_ih, cell.bias_hh)
    >>> ours, ref = lstm_cell(x, hc, *w), cell(x, hc)
    >>> torch.allclose(ours[0], ref[0]), torch.allclose(ours[1], ref[1])
    (True, True)

    PyTorch's parameter count, four blocks of ``H*I + H*H + 2H``:

    >>> H, I = 20, 10
    >>> sum(p.numel() for p in nn.LSTM(I, H).parameters()) == 4 * (H * I + H * H + 2 * H)
    True
    >>> sum(p.numel() for p in nn.LSTM(I, H).parameters()) == 4 * sum(p.numel() for p in nn.RNN(I, H).parameters())
    True

    The gates act as described: a forget gate shut (very negative bias) and an input gate open
    overwrite the cell with the candidate; forget open and input shut copy the cell unchanged:

    >>> def with_bias(i, f):
    ...     b = torch.zeros(20, dtype=torch.float64); b[:5], b[5:10] = i, f
    ...     return lstm_cell(x, hc, cell.weight_ih, cell.weight_hh, b, None)[1]
    >>> g = torch.tanh((x @ cell.weight_ih.T + hc[0] @ cell.weight_hh.T)[:, 10:15])
    >>> torch.allclose(with_bias(i=50.0, f=-50.0), g), torch.allclose(with_bias(i=-50.0, f=50.0), hc[1])
    (True, True)
    """
    h, c = _lstm_hx(hx)
    H = _check_cell(input, (h, c), w_ih, w_hh, b_ih, b_hh, gates=4, hx_names=("hx[0]", "hx[1]"))
    h = _zeros(input, H) if h is None else h
    c = _zeros(input, H) if c is None else c
    # one product for all four blocks, in PyTorch's order i, f, g, o
    z = _affine(input, w_ih, b_ih) + _affine(h, w_hh, b_hh)  # (B, 4H)
    i, f, g, o = z.chunk(4, dim=-1)  # (B, H) each
    # c_t = f * c_{t-1} + i * g: the cell state changes only elementwise
    c = torch.sigmoid(f) * c + torch.sigmoid(i) * torch.tanh(g)  # (B, H)
    h = torch.sigmoid(o) * torch.tanh(c)  # (B, H)
    return h, c


def _lstm_hx(hx):
    if hx is None:
        return None, None
    if not isinstance(hx, tuple | list) or len(hx) != 2:
        raise TypeError(f"hx must be a pair (h, c) of tensors or None, got {type(hx).__name__}")
    h, c = hx
    for name, t in (("hx[0]", h), ("hx[1]", c)):
        check.tensor(name, t)
    return h, c


@question(
    "gru-vs-lstm",
    level="intermediate",
    short=(
        "A GRU merges the LSTM's cell and hidden state and has two gates: the update gate z interpolates, "
        "h_t = (1-z)*n + z*h_(t-1), and the reset gate r sets how much old state the candidate n sees. Three "
        "blocks instead of four: 3(H*I + H*H + 2H) parameters in PyTorch, 25% fewer than an LSTM."
    ),
    followups=("lstm-gates-and-parameters", "lstm-cell-state-gradient"),
)
def gru_cell(
    input: torch.Tensor,
    hx: torch.Tensor | None,
    w_ih: torch.Tensor,
    w_hh: torch.Tensor,
    b_ih: torch.Tensor | None = None,
    b_hh: torch.Tensor | None = None,
) -> torch.Tensor:
    r"""One step of a GRU, exactly as ``torch.nn.GRUCell``; returns the new hidden state.

    **How does a GRU differ from an LSTM?**

    A GRU has no separate cell state and two gates instead of three. The update gate :math:`z`
    interpolates between the old state and a candidate :math:`n`,
    :math:`h_t = (1 - z) \odot n + z \odot h_{t-1}`, playing the forget and input gates at once
    (they are tied to sum to one); the reset gate :math:`r` decides how much of the old state the
    candidate sees. With three gate blocks (PyTorch's order ``r, z, n``) it has
    :math:`3(HI + H^2 + 2H)` parameters, 25% fewer than an LSTM, and performs comparably on many
    tasks (Chung et al. 2014); neither wins everywhere.

    .. math::

        \begin{aligned}
        r &= \sigma(W_{ir} x + b_{ir} + W_{hr} h + b_{hr}), \quad
        z = \sigma(W_{iz} x + b_{iz} + W_{hz} h + b_{hz}) \\
        n &= \tanh(W_{in} x + b_{in} + r \odot (W_{hn} h + b_{hn})), \quad
        h_t = (1 - z) \odot n + z \odot h
        \end{aligned}

    Parameters
    ----------
    input : torch.Tensor
        ``(B, I)`` or unbatched ``(I,)``.
    hx : torch.Tensor or None
        ``(B, H)`` (or ``(H,)``) previous state; None means zeros.
    w_ih, w_hh : torch.Tensor
        ``(3H, I)`` and ``(3H, H)``, row blocks in the order reset, update, new (``nn.GRUCell``'s
        ``weight_ih`` and ``weight_hh``).
    b_ih, b_hh : torch.Tensor, optional
        ``(3H,)`` each.

    Returns
    -------
    torch.Tensor
        ``(B, H)`` (or ``(H,)``).

    See Also
    --------
    torch.nn.GRUCell, torch.nn.GRU, lstm_cell

    Notes
    -----
    PyTorch applies the reset gate *after* the recurrent product, :math:`r \odot (W_{hn} h + b_{hn})`,
    so :math:`b_{hn}` sits inside the reset and the two biases of the ``n`` block are not
    interchangeable; the original paper writes :math:`W (r \odot h)`. Using that form with PyTorch's
    weights gives different outputs, as the examples show.

    References
    ----------
    .. [1] K. Cho et al., "Learning Phrase Representations using RNN Encoder-Decoder for
       Statistical Machine Translation", EMNLP 2014.
    .. [2] J. Chung et al., "Empirical Evaluation of Gated Recurrent Neural Networks on Sequence
       Modeling", arXiv:1412.3555, 2014.

    Examples
    --------
    A torch cell's weights drop in:

    >>> _ = torch.manual_seed(0)
    >>> cell = nn.GRUCell(3, 5, dtype=torch.float64)
    >>> x, h = torch.randn(4, 3, dtype=torch.float64), torch.randn(4, 5, dtype=torch.float64)
    >>> w = (cell.weight_ih, cell.weight_hh, cell.bias_ih, cell.bias_hh)
    >>> torch.allclose(gru_cell(x, h, *w), cell(x, h))
    True

    Three blocks: 75% of the LSTM's parameters:

    >>> n_gru = sum(p.numel() for p in nn.GRU(10, 20).parameters())
    >>> n_gru == 3 * (20 * 10 + 20 * 20 + 2 * 20), n_gru / sum(p.numel() for p in nn.LSTM(10, 20).parameters())
    (True, 0.75)

    The update gate interpolates: fully closed (very positive bias) the state is copied, so the
    GRU remembers; the paper's form ``W (r * h)`` is not PyTorch's:

    >>> b = torch.zeros(15, dtype=torch.float64); b[5:10] = 50.0
    >>> torch.allclose(gru_cell(x, h, cell.weight_ih, cell.weight_hh, b, None), h)
    True
    >>> W_r, W_z, W_n = cell.weight_hh.chunk(3)
    >>> U_r, U_z, U_n = cell.weight_ih.chunk(3)
    >>> b_r, b_z, b_n = (cell.bias_ih + cell.bias_hh).chunk(3)
    >>> r, z = torch.sigmoid(x @ U_r.T + h @ W_r.T + b_r), torch.sigmoid(x @ U_z.T + h @ W_z.T + b_z)
    >>> paper = (1 - z) * torch.tanh(x @ U_n.T + (r * h) @ W_n.T + b_n) + z * h
    >>> torch.allclose(paper, cell(x, h))
    False
    """
    H = _check_cell(input, (hx,), w_ih, w_hh, b_ih, b_hh, gates=3)
    h = _zeros(input, H) if hx is None else hx
    x_r, x_z, x_n = _affine(input, w_ih, b_ih).chunk(3, dim=-1)  # (B, H) each
    h_r, h_z, h_n = _affine(h, w_hh, b_hh).chunk(3, dim=-1)  # (B, H) each
    r = torch.sigmoid(x_r + h_r)  # (B, H)
    z = torch.sigmoid(x_z + h_z)  # (B, H)
    # PyTorch resets after the product: r * (W_hn h + b_hn)
    n = torch.tanh(x_n + r * h_n)  # (B, H)
    return (1 - z) * n + z * h


_CELLS = {torch.nn.RNNCell: "rnn", torch.nn.LSTMCell: "lstm", torch.nn.GRUCell: "gru"}


def _step(kind: str, cell, x, state):
    w = (cell.weight_ih, cell.weight_hh, cell.bias_ih, cell.bias_hh)
    if kind == "rnn":
        return rnn_cell(x, state, *w, nonlinearity=cell.nonlinearity)
    return lstm_cell(x, state, *w) if kind == "lstm" else gru_cell(x, state, *w)


@question(
    "lstm-cell-state-gradient",
    level="advanced",
    short=(
        "Along the cell state, dc_t/dc_(t-1) is the forget gate itself, elementwise: no weight matrix, no "
        "squashing derivative, so with f near 1 the gradient survives many steps, unlike an RNN's product of "
        "tanh' and W_hh. But f must be learned or initialized near 1, and paths through h still multiply "
        "matrices, so LSTM gradients can explode: clip them."
    ),
    followups=("exploding-gradients", "gradient-clipping", "lstm-gates-and-parameters"),
)
def gradient_through_time(cell: torch.nn.Module, input: torch.Tensor, hx=None) -> torch.Tensor:
    r"""Norm of the gradient of the last hidden state (summed) with respect to the state before each step.

    **Why does the LSTM's cell state ease vanishing gradients, and what can still explode?**

    In a vanilla RNN the gradient from step :math:`t` back to :math:`t-1` is multiplied by
    :math:`\operatorname{diag}(\tanh'(z_t))\,W_{hh}`, a squashing derivative times the same matrix
    every step, so over a long gap it shrinks (or grows) geometrically. Along the LSTM's cell
    state the factor is :math:`\partial c_t/\partial c_{t-1} = \operatorname{diag}(f_t)`: the forget
    gate, elementwise, with no weight matrix and no :math:`\tanh'`. When :math:`f_t \approx 1` the
    gradient is carried almost unchanged across many steps, the constant error carousel. Two
    caveats: the network must learn (or be initialized with) a forget gate near 1, since with
    PyTorch's default initialization :math:`f \approx 0.5` and the cell path vanishes too; and the
    paths through :math:`h` and the gates still multiply matrices, so LSTM gradients can still
    explode and are clipped in practice.

    .. math::

        c_t = f_t \odot c_{t-1} + i_t \odot g_t \implies
        \frac{\partial c_t}{\partial c_{t-1}}\Big|_{h_{t-1}} = \operatorname{diag}(f_t), \qquad
        \frac{\partial c_T}{\partial c_t}\Big|_{\text{cell path}} = \operatorname{diag}\Big(\prod_{s=t+1}^{T} f_s\Big)

    Parameters
    ----------
    cell : torch.nn.RNNCell, torch.nn.LSTMCell or torch.nn.GRUCell
        Its weights are run through :func:`rnn_cell`, :func:`lstm_cell` or :func:`gru_cell`.
    input : torch.Tensor
        ``(T, B, I)``, the sequence.
    hx : optional
        The initial state (``(h, c)`` for an LSTM), ``(B, H)`` each; None means zeros.

    Returns
    -------
    torch.Tensor
        ``(T,)``: entry ``t`` is :math:`\lVert \partial(\mathbf 1^\top h_T) / \partial s_t \rVert_2`,
        where :math:`s_t` is the state before step ``t`` (for an LSTM, ``h`` and ``c`` together) and
        :math:`h_T` the hidden state after the last step.

    See Also
    --------
    torch.nn.LSTM, torch.nn.utils.clip_grad_norm_

    Notes
    -----
    PyTorch initializes every bias uniformly in :math:`\pm 1/\sqrt{H}`, forget gate included;
    Jozefowicz et al. recommend a forget bias of 1. Set it with
    ``lstm.bias_ih_l0.data[H:2*H] = 1`` (remember that ``bias_hh`` adds to it).

    .. admonition:: Common mistake

        "LSTMs solve the vanishing and exploding gradient problems."

        They address vanishing gradients, and only along the cell state and only while the forget
        gate stays near 1: with PyTorch's default initialization the gradient through 40 steps is
        as vanishingly small as a vanilla RNN's, as the examples show. Exploding gradients are not
        solved at all: a one-unit LSTM below grows its gradient about fourfold per step, which is
        why LSTM training clips gradients.

    References
    ----------
    .. [1] S. Hochreiter and J. Schmidhuber, "Long Short-Term Memory", Neural Computation 9, 1997.
    .. [2] R. Jozefowicz, W. Zaremba and I. Sutskever, "An Empirical Exploration of Recurrent
       Network Architectures", ICML 2015.
    .. [3] R. Pascanu, T. Mikolov and Y. Bengio, "On the difficulty of training recurrent neural
       networks", ICML 2013.

    Examples
    --------
    Along the cell state one step multiplies the gradient by the forget gate, exactly:

    >>> from torch.autograd.functional import jacobian
    >>> _ = torch.manual_seed(0)
    >>> cell = nn.LSTMCell(3, 4, dtype=torch.float64)
    >>> w = (cell.weight_ih, cell.weight_hh, cell.bias_ih, cell.bias_hh)
    >>> x, h, c = (torch.randn(n, dtype=torch.float64) for n in (3, 4, 4))
    >>> J = jacobian(lambda c: lstm_cell(x, (h, c), *w)[1], c)
    >>> f = torch.sigmoid((x @ w[0].T + w[2] + h @ w[1].T + w[3])[4:8])
    >>> torch.allclose(J, torch.diag(f))
    True

    A vanilla RNN's one-step factor is ``diag(tanh') W_hh``, the same matrix every step:

    >>> rnn = nn.RNNCell(3, 4, dtype=torch.float64)
    >>> h1 = rnn_cell(x, h, rnn.weight_ih, rnn.weight_hh, rnn.bias_ih, rnn.bias_hh)
    >>> J = jacobian(lambda h: rnn_cell(x, h, rnn.weight_ih, rnn.weight_hh, rnn.bias_ih, rnn.bias_hh), h)
    >>> torch.allclose(J, torch.diag(1 - h1**2) @ rnn.weight_hh)
    True

    Over 40 steps the RNN's gradient vanishes; so does an LSTM's with PyTorch's default
    initialization (forget gate near 0.5); with the forget bias at 5 it survives:

    >>> seq = torch.randn(40, 8, 3, dtype=torch.float64)  # (T, B, I)
    >>> rnn, lstm = nn.RNNCell(3, 16, dtype=torch.float64), nn.LSTMCell(3, 16, dtype=torch.float64)
    >>> first = lambda g: g[0].item()  # the gradient reaching the state before step 0
    >>> bool(first(gradient_through_time(rnn, seq)) < 1e-6), bool(first(gradient_through_time(lstm, seq)) < 1e-6)
    (True, True)
    >>> with torch.no_grad():
    ...     lstm.bias_ih[16:32] = 5.0
    >>> bool(first(gradient_through_time(lstm, seq)) > 0.01)
    True

    What still explodes: a one-unit LSTM with open gates and a recurrent weight of 3 into the
    candidate has the one-step Jacobian ``[[3, 1], [3, 1]]`` at the origin (eigenvalue 4), so over
    ten steps its gradient grows about a million-fold:

    >>> boom = nn.LSTMCell(1, 1, dtype=torch.float64)
    >>> with torch.no_grad():
    ...     _ = boom.weight_ih.zero_(), boom.weight_hh.zero_(), boom.bias_hh.zero_()
    ...     boom.bias_ih[:] = torch.tensor([20.0, 20.0, 0.0, 20.0]); boom.weight_hh[2] = 3.0
    >>> g = gradient_through_time(boom, torch.zeros(10, 1, 1, dtype=torch.float64))
    >>> bool(g[0] > 1e5), round((g[0] / g[1]).item(), 2)
    (True, 4.0)
    """
    kind = _CELLS.get(type(cell))
    if kind is None:
        raise TypeError(f"cell must be a torch.nn.RNNCell, LSTMCell or GRUCell, got {type(cell).__name__}")
    check.tensor("input", input, ndim=3)
    if input.shape[0] < 1:
        raise ValueError(f"input must have at least one time step, got shape {tuple(input.shape)}")
    B, H = input.shape[1], cell.hidden_size
    if kind == "lstm":
        h0, c0 = (None, None) if hx is None else _lstm_hx(hx)
        state = tuple(input.new_zeros(B, H) if t is None else t.detach() for t in (h0, c0))
    else:
        state = (input.new_zeros(B, H) if hx is None else check.tensor("hx", hx).detach(),)
    with torch.enable_grad():
        probes = []
        for x_t in input:
            # a zero probe added to the state fed to this step: d(loss)/d(probe) is the gradient reaching
            # that state (for an LSTM, h and c as two separate inputs of the step)
            probe = tuple(torch.zeros_like(s, requires_grad=True) for s in state)
            probes.append(probe)
            fed = tuple(s + p for s, p in zip(state, probe))
            out = _step(kind, cell, x_t, fed if kind == "lstm" else fed[0])  # (B, H)
            state = out if kind == "lstm" else (out,)
        grads = torch.autograd.grad(state[0].sum(), [p for probe in probes for p in probe], allow_unused=True)
    grads = [torch.zeros(B, H, dtype=input.dtype) if g is None else g for g in grads]
    n = len(state)
    per_step = torch.stack([torch.cat(grads[i : i + n], dim=-1) for i in range(0, len(grads), n)])  # (T, B, n*H)
    return per_step.flatten(1).norm(dim=1).detach()  # (T,)


@question(
    "bptt-and-truncation",
    level="intermediate",
    short=(
        "Backpropagation through time is ordinary backpropagation through the network unrolled over the "
        "sequence; since the weights are shared, each weight's gradient sums its contributions from every step. "
        "Truncated BPTT detaches the hidden state every k steps: the forward pass is unchanged, gradients stop at "
        "the cuts, the backward pass stays short, and dependencies longer than k get no gradient."
    ),
    followups=("teacher-forcing", "lstm-cell-state-gradient", "rnn-vs-attention-parallelism"),
)
def unroll_rnn(
    input: torch.Tensor,
    hx: torch.Tensor | None,
    w_ih: torch.Tensor,
    w_hh: torch.Tensor,
    b_ih: torch.Tensor | None = None,
    b_hh: torch.Tensor | None = None,
    nonlinearity: str = "tanh",
    truncate: int | None = None,
) -> tuple[torch.Tensor, torch.Tensor]:
    r"""A one-layer RNN over a sequence, as ``torch.nn.RNN``, optionally detaching the state every ``truncate`` steps.

    **What is backpropagation through time, and what does truncated BPTT change?**

    Backpropagation through time (BPTT) is plain backpropagation on the graph of the network
    unrolled over the sequence: one copy of the cell per step, all sharing the same weights, so
    the gradient of each weight is the sum of its gradients at every step. Its memory grows with
    the sequence length (every step's activations are kept) and the gradient passes through
    :math:`T` Jacobians. Truncated BPTT runs the forward pass over the whole sequence but detaches
    the hidden state every :math:`k` steps (``h = h.detach()``): the outputs are unchanged, the
    gradient stops at each cut, so an update costs :math:`O(k)` memory, and dependencies longer
    than :math:`k` steps receive no gradient at all.

    .. math::

        \frac{\partial L}{\partial W_{hh}} = \sum_{t=1}^{T} \frac{\partial L}{\partial h_t}
        \frac{\partial h_t}{\partial W_{hh}}\Big|_{\text{step } t}, \qquad
        \text{truncated: } \frac{\partial h_t}{\partial h_{s}} := 0 \text{ across a cut}

    Parameters
    ----------
    input : torch.Tensor
        ``(T, B, I)``.
    hx : torch.Tensor or None
        ``(B, H)`` initial state; None means zeros.
    w_ih, w_hh, b_ih, b_hh : torch.Tensor
        As for :func:`rnn_cell` (``nn.RNN``'s ``weight_ih_l0`` ...).
    nonlinearity : {"tanh", "relu"}, default "tanh"
    truncate : int, optional
        Detach the hidden state after every ``truncate`` steps (counted from the start); None is
        full BPTT.

    Returns
    -------
    output : torch.Tensor
        ``(T, B, H)``, the hidden state after every step (``nn.RNN``'s ``output``).
    h : torch.Tensor
        ``(B, H)``, the last hidden state (``nn.RNN``'s ``h_n[0]``).

    See Also
    --------
    torch.nn.RNN, torch.Tensor.detach

    Notes
    -----
    In language-model training the sequence is cut into chunks of :math:`k` tokens; the state
    carried into the next chunk is detached, which is truncated BPTT with the update taken at each
    cut (Williams and Peng's BPTT(k)).

    References
    ----------
    .. [1] P. J. Werbos, "Backpropagation Through Time: What It Does and How to Do It", Proc.
       IEEE 78, 1990.
    .. [2] R. J. Williams and J. Peng, "An Efficient Gradient-Based Algorithm for On-Line Training
       of Recurrent Network Trajectories", Neural Computation 2, 1990.

    Examples
    --------
    Matches ``nn.RNN``, output and gradients:

    >>> _ = torch.manual_seed(0)
    >>> rnn = nn.RNN(3, 5, dtype=torch.float64)
    >>> w = (rnn.weight_ih_l0, rnn.weight_hh_l0, rnn.bias_ih_l0, rnn.bias_hh_l0)
    >>> x = torch.randn(12, 2, 3, dtype=torch.float64, requires_grad=True)
    >>> out, h = unroll_rnn(x, None, *w)
    >>> ref_out, ref_h = rnn(x)
    >>> torch.allclose(out, ref_out), torch.allclose(h, ref_h[0])
    (True, True)
    >>> g_ours = torch.autograd.grad(out.sum(), [x, w[1]])
    >>> g_ref = torch.autograd.grad(ref_out.sum(), [x, w[1]])
    >>> all(torch.allclose(a, b) for a, b in zip(g_ours, g_ref))
    True

    The shared weight's gradient is the sum of the gradients of one private copy per step:

    >>> copies = [w[1].detach().clone().requires_grad_() for _ in range(12)]
    >>> h_t = None
    >>> for x_t, W in zip(x, copies):
    ...     h_t = rnn_cell(x_t, h_t, w[0], W, w[2], w[3])
    >>> per_step = torch.autograd.grad(h_t.sum(), copies)
    >>> _, h = unroll_rnn(x, None, *w)
    >>> torch.allclose(sum(per_step), torch.autograd.grad(h.sum(), w[1])[0])
    True

    Truncating every 4 steps leaves the forward pass unchanged; the last step's gradient reaches
    the last 4 inputs exactly as in full BPTT and the earlier ones not at all:

    >>> out, h = unroll_rnn(x, None, *w)
    >>> out_k, h_k = unroll_rnn(x, None, *w, truncate=4)
    >>> torch.allclose(out_k, out)
    True
    >>> (g_full,), (g_k,) = torch.autograd.grad(h.sum(), x), torch.autograd.grad(h_k.sum(), x)
    >>> torch.allclose(g_k[8:], g_full[8:]), bool(g_k[:8].abs().max() == 0), bool(g_full[:8].abs().max() > 0)
    (True, True, True)

    The backward pass is correspondingly shorter (:func:`dependency_depth` counts its operations):

    >>> bool(dependency_depth(h_k, x) < dependency_depth(h, x) / 2)
    True
    """
    check.tensor("input", input, ndim=3)
    if truncate is not None:
        truncate = check.integer("truncate", truncate, low=1)
    outputs, h = [], hx
    for t, x_t in enumerate(input):
        if truncate is not None and t > 0 and t % truncate == 0:
            h = h.detach()  # the cut: values flow on, gradients stop
        h = rnn_cell(x_t, h, w_ih, w_hh, b_ih, b_hh, nonlinearity)  # (B, H)
        outputs.append(h)
    if not outputs:
        raise ValueError(f"input must have at least one time step, got shape {tuple(input.shape)}")
    return torch.stack(outputs), h  # (T, B, H), (B, H)


@question(
    "teacher-forcing",
    level="intermediate",
    short=(
        "Teacher forcing trains a decoder by feeding the true previous token at each step, not the model's own "
        "prediction. Every step's input is known in advance, so early errors do not compound in training and a "
        "transformer decoder computes all steps in parallel. The cost is exposure bias: at inference the model "
        "meets its own mistakes, never seen in training."
    ),
    followups=("bptt-and-truncation", "rnn-vs-attention-parallelism"),
)
def decode(
    cell: torch.nn.Module,
    embedding: torch.nn.Embedding,
    readout: torch.nn.Module,
    tokens: torch.Tensor,
    teacher_forcing: bool = True,
) -> torch.Tensor:
    r"""Run a recurrent decoder over ``tokens``, feeding the true previous token or its own greedy prediction.

    **What is teacher forcing, and what is exposure bias?**

    A decoder predicts token :math:`t` from the tokens before it. With teacher forcing the input at
    step :math:`t` is the true token :math:`y_{t-1}`; free-running (as at inference) it is the
    model's own previous prediction :math:`\hat y_{t-1}`. Teacher forcing makes every step's input
    known in advance: one early mistake cannot derail the rest of the sequence during training,
    training converges faster, and a transformer decoder computes all positions in parallel with a
    causal mask. The two modes give the same result exactly when the model's predictions equal
    the targets; otherwise the model is trained only on true prefixes and tested on its own,
    exposure bias, which scheduled sampling and sequence-level training try to reduce.

    .. math::

        \text{teacher forcing: } h_t = \mathrm{cell}(e(y_{t-1}), h_{t-1}), \qquad
        \text{free-running: } h_t = \mathrm{cell}(e(\hat y_{t-1}), h_{t-1}), \
        \hat y_{t} = \arg\max \mathrm{readout}(h_t)

    Parameters
    ----------
    cell : torch.nn.RNNCell or torch.nn.GRUCell
        The recurrent step (state ``h``; an LSTM needs ``(h, c)`` and is not accepted here).
    embedding : torch.nn.Embedding
        Token to input vector, ``V`` tokens of ``I`` features.
    readout : torch.nn.Module
        Hidden state to ``V`` logits, e.g. ``nn.Linear(H, V)``.
    tokens : torch.Tensor
        ``(T + 1, B)`` integer tokens; ``tokens[0]`` is the start token and ``tokens[1:]`` the targets.
    teacher_forcing : bool, default True
        Feed ``tokens[t]`` at step ``t`` (True) or the previous greedy prediction (False).

    Returns
    -------
    torch.Tensor
        ``(T, B, V)`` logits, one step per target.

    See Also
    --------
    torch.nn.RNNCell, torch.nn.GRUCell

    References
    ----------
    .. [1] R. J. Williams and D. Zipser, "A Learning Algorithm for Continually Running Fully
       Recurrent Neural Networks", Neural Computation 1, 1989.
    .. [2] S. Bengio et al., "Scheduled Sampling for Sequence Prediction with Recurrent Neural
       Networks", NeurIPS 2015.

    Examples
    --------
    >>> _ = torch.manual_seed(0)
    >>> cell, emb, out = nn.GRUCell(4, 8), nn.Embedding(6, 4), nn.Linear(8, 6)
    >>> tokens = torch.randint(0, 6, (9, 3))  # (T + 1, B)

    With teacher forcing the decoder is a function of the true tokens alone: step by step it is
    the cell run over the fixed input sequence, so it could be computed without its own outputs:

    >>> tf = decode(cell, emb, out, tokens, teacher_forcing=True)
    >>> h, steps = None, []
    >>> for y_prev in tokens[:-1]:
    ...     h = cell(emb(y_prev), h); steps.append(out(h))
    >>> torch.allclose(tf, torch.stack(steps))
    True

    Free-running, an untrained decoder's own predictions differ from the targets, so its later
    inputs and logits differ: exposure bias:

    >>> free = decode(cell, emb, out, tokens, teacher_forcing=False)
    >>> torch.allclose(free[0], tf[0]), torch.allclose(free, tf)
    (True, False)

    If the targets are the model's own greedy predictions, the two modes agree exactly:

    >>> own = torch.cat([tokens[:1], free.argmax(-1)])
    >>> torch.allclose(decode(cell, emb, out, own, teacher_forcing=True), free)
    True
    """
    if type(cell) not in (torch.nn.RNNCell, torch.nn.GRUCell):
        raise TypeError(f"cell must be a torch.nn.RNNCell or GRUCell, got {type(cell).__name__}")
    if not isinstance(embedding, torch.nn.Embedding):
        raise TypeError(f"embedding must be a torch.nn.Embedding, got {type(embedding).__name__}")
    if not callable(readout):
        raise TypeError(f"readout must be callable, got {type(readout).__name__}")
    check.tensor("tokens", tokens, ndim=2, floating=False)
    if tokens.is_floating_point() or tokens.is_complex() or tokens.dtype == torch.bool:
        raise TypeError(f"tokens must be an integer tensor, got dtype {tokens.dtype}")
    if tokens.shape[0] < 2:
        raise ValueError(f"tokens must hold a start token and at least one target, got shape {tuple(tokens.shape)}")
    if bool((tokens < 0).any() | (tokens >= embedding.num_embeddings).any()):
        raise ValueError(f"tokens must be in [0, {embedding.num_embeddings}), the embedding's vocabulary")
    teacher_forcing = check.flag("teacher_forcing", teacher_forcing)
    h, y_prev, logits = None, tokens[0], []
    for t in range(1, tokens.shape[0]):
        h = cell(embedding(y_prev), h)  # (B, H)
        logits.append(readout(h))  # (B, V)
        # the next input: the true token, or the model's own greedy guess
        y_prev = tokens[t] if teacher_forcing else logits[-1].argmax(-1)
    return torch.stack(logits)  # (T, B, V)


@question(
    "rnn-vs-attention-parallelism",
    level="intermediate",
    short=(
        "An RNN's state at step t needs the state at t-1, so a length-T sequence is a chain of T dependent steps "
        "that cannot run in parallel, and positions i and j are |i-j| steps apart. Self-attention "
        "computes all positions from all inputs at once: constant depth per layer and one step between any two "
        "positions, at O(T^2) cost."
    ),
    followups=("self-attention", "bptt-and-truncation", "scaled-dot-product-attention"),
)
def dependency_depth(output: torch.Tensor, input: torch.Tensor) -> int:
    r"""The longest chain of operations in the autograd graph from ``input`` to ``output`` (0 if unconnected).

    **Why are RNNs hard to parallelise, and what did attention change?**

    Operations that depend on each other must run one after the other; only independent ones can
    run at once. An RNN's state :math:`h_t` needs :math:`h_{t-1}`, so a sequence of length
    :math:`T` is a chain of :math:`T` dependent steps: the critical path grows linearly with
    :math:`T` however many cores there are, and a signal between positions :math:`i` and :math:`j`
    crosses :math:`|i-j|` steps (where the gradient can vanish). Self-attention computes every
    output from all inputs with a few matrix products: its depth per layer is constant in
    :math:`T`, and any two positions are one step apart, at the price of :math:`O(T^2)` work and
    memory. That is why transformers train so much faster on GPUs, not that each step is cheaper.

    Parameters
    ----------
    output : torch.Tensor
        A tensor computed from ``input`` with autograd recording.
    input : torch.Tensor
        A leaf tensor with ``requires_grad=True``.

    Returns
    -------
    int
        The number of operations (autograd nodes) on the longest path from ``input`` to
        ``output``; 0 if ``output`` does not depend on ``input``.

    See Also
    --------
    torch.autograd.graph.Node

    References
    ----------
    .. [1] A. Vaswani et al., "Attention Is All You Need", NeurIPS 2017 (Table 1: sequential
       operations O(n) for recurrent layers, O(1) for self-attention).

    Examples
    --------
    The depth of an RNN grows by the same amount with every step; self-attention's does not change:

    >>> _ = torch.manual_seed(0)
    >>> rnn = nn.RNN(8, 8)
    >>> w = (rnn.weight_ih_l0, rnn.weight_hh_l0, rnn.bias_ih_l0, rnn.bias_hh_l0)
    >>> def rnn_depth(T):
    ...     x = torch.randn(T, 1, 8, requires_grad=True)
    ...     return dependency_depth(unroll_rnn(x, None, *w)[1], x)
    >>> def attention_depth(T):
    ...     x = torch.randn(1, T, 8, requires_grad=True)
    ...     return dependency_depth(F.scaled_dot_product_attention(x, x, x)[:, -1], x)
    >>> d = [rnn_depth(T) for T in (8, 16, 32)]
    >>> d[2] - d[1] == 2 * (d[1] - d[0]), d[1] > d[0]
    (True, True)
    >>> attention_depth(8) == attention_depth(16) == attention_depth(32)
    True

    The path from input ``i`` to the last state crosses one cell per step in between, so the
    first input is 15 cells further from it than the last:

    >>> xs = [torch.randn(1, 8, requires_grad=True) for _ in range(16)]
    >>> h = None
    >>> for x_t in xs:
    ...     h = rnn_cell(x_t, h, *w)
    >>> per_step = (d[1] - d[0]) // 8
    >>> dependency_depth(h, xs[0]) - dependency_depth(h, xs[-1]) == 15 * per_step
    True
    >>> dependency_depth(h, torch.zeros(1, requires_grad=True))
    0
    """
    check.tensor("output", output, floating=False)
    check.tensor("input", input, floating=False)
    if not (input.is_leaf and input.requires_grad):
        raise ValueError("input must be a leaf tensor with requires_grad=True")
    root = output.grad_fn
    if root is None:
        return 0
    # longest path by dynamic programming over the graph, children before parents (iterative DFS)
    depth: dict = {}
    stack = [(root, False)]
    while stack:
        node, expanded = stack.pop()
        if node in depth:
            continue
        children = [child for child, _ in node.next_functions if child is not None]
        if not expanded:
            stack.append((node, True))
            stack.extend((child, False) for child in children if child not in depth)
            continue
        if getattr(node, "variable", None) is input:
            depth[node] = 0
            continue
        reach = [depth[child] for child in children if depth.get(child) is not None]
        depth[node] = 1 + max(reach) if reach else None
    return depth[root] or 0
