"""Training memory: checkpointing and accumulation

Two ways to train a model whose activations or batch do not fit in memory. Gradient checkpointing
keeps only each segment's input and runs the segment's forward again during the backward pass:
the same gradients for about one extra forward. Gradient accumulation adds the gradients of several
micro-batches before one optimizer step: the same gradient as the large batch only if every token
is weighted as in the large batch.
"""

from __future__ import annotations

import torch

from nnfaq import _validate as check
from nnfaq._registry import question

__all__ = ["accumulate_gradients", "checkpoint"]


class _Checkpoint(torch.autograd.Function):
    """Forward without a graph, keeping only the inputs; backward runs ``function`` again with a graph."""

    @staticmethod
    def forward(ctx, function, preserve_rng_state, *args):
        ctx.function = function
        # the RNG state, so that dropout draws the same mask when the forward runs again
        ctx.rng_state = torch.get_rng_state() if preserve_rng_state else None
        ctx.save_for_backward(*args)  # the only tensors kept for backward
        return function(*args)  # autograd records nothing inside a Function's forward

    @staticmethod
    def backward(ctx, *grad_outputs):
        inputs = [x.detach().requires_grad_(x.requires_grad) for x in ctx.saved_tensors]
        with torch.random.fork_rng(devices=[], enabled=ctx.rng_state is not None):
            if ctx.rng_state is not None:
                torch.set_rng_state(ctx.rng_state)
            with torch.enable_grad():
                outputs = ctx.function(*inputs)  # the recomputation: the segment's forward, with a graph
        outputs = (outputs,) if isinstance(outputs, torch.Tensor) else tuple(outputs)
        pairs = [(o, g) for o, g in zip(outputs, grad_outputs) if o.requires_grad and g is not None]
        if pairs:
            # also accumulates into the parameters the function closes over
            torch.autograd.backward([o for o, _ in pairs], [g for _, g in pairs])
        return (None, None, *(x.grad if x.requires_grad else None for x in inputs))


@question(
    "gradient-checkpointing",
    level="advanced",
    short=(
        "Backpropagation normally keeps every intermediate activation until the backward pass. Gradient "
        "checkpointing keeps only the inputs of chosen segments and recomputes each segment's forward "
        "during backward. The gradients are identical; the cost is about one extra forward pass (roughly "
        "a third more compute), and activation memory drops from every layer to the segment inputs plus "
        "one segment."
    ),
    followups=("gradient-accumulation", "fp32-master-weights"),
)
def checkpoint(function, *args: torch.Tensor, preserve_rng_state: bool = True):
    r"""Run ``function(*args)`` keeping only ``args`` for the backward pass, which runs it again.

    **What does gradient checkpointing trade, and how does it work?**

    To compute gradients, autograd keeps the tensors each operation needs for its backward (the input
    of a ``sin``, the input of a matrix product): the activations of every layer, usually the bulk of
    training memory. Checkpointing a segment runs its forward without keeping them, stores only the
    segment's inputs, and during the backward pass runs the forward again, this time with a graph,
    to backpropagate through it. It trades compute for memory: the gradients are exactly the same,
    each checkpointed segment's forward runs twice (about 33% more compute for a whole model, since
    backward costs about two forwards), and the stored activations shrink to the segment inputs
    plus one segment's worth at a time.

    .. math::

        \text{memory} \approx \underbrace{k\,|a|}_{\text{segment inputs}} + \frac{L}{k}\,|a|
        \ \text{ instead of } L\,|a|, \quad \text{minimal at } k = \sqrt{L}; \qquad
        \text{compute} \approx F + F + 2F \ \text{ instead of } F + 2F

    Parameters
    ----------
    function : callable
        Takes the tensors ``args`` and returns a tensor or a tuple of tensors. It may use parameters
        it closes over (a module's); they receive their gradients in the backward pass.
    *args : torch.Tensor
        The segment's inputs, the only tensors kept.
    preserve_rng_state : bool, default True
        Restore the RNG state before recomputing, so that dropout draws the same mask both times.

    Returns
    -------
    torch.Tensor or tuple of torch.Tensor
        ``function(*args)``.

    See Also
    --------
    torch.utils.checkpoint.checkpoint, torch.utils.checkpoint.checkpoint_sequential

    Notes
    -----
    This is the "reentrant" variant: its backward calls ``torch.autograd.backward`` inside the outer
    backward, so the parameters ``function`` closes over receive their gradients in ``.grad`` only
    (``torch.autograd.grad`` can differentiate with respect to ``args`` but not to them), and nothing
    is backpropagated unless at least one of ``args`` requires grad. PyTorch's recommended
    ``use_reentrant=False`` recomputes through saved-tensor hooks and has neither restriction. This
    version takes tensors only (PyTorch also passes other arguments through) and saves the CPU RNG
    state only. The tests count the floating-point operations: a checkpointed MLP costs 4/3 of the
    plain forward and backward.

    .. admonition:: Common mistake

        "Gradient checkpointing saves memory for free" (or "makes training faster").

        It saves activation memory by running each checkpointed forward a second time; the examples
        count the two calls and the saved tensors. It pays off when memory, not compute, is the limit
        (a larger batch or a longer sequence fits).

    References
    ----------
    .. [1] T. Chen, B. Xu, C. Zhang and C. Guestrin, "Training Deep Nets with Sublinear Memory
       Cost", arXiv:1604.06174, 2016.

    Examples
    --------
    The same gradients as no checkpointing and as ``torch.utils.checkpoint``, and the forward runs
    twice:

    >>> from torch.utils.checkpoint import checkpoint as torch_checkpoint
    >>> W1, W2 = (torch.randn(16, 16, dtype=torch.float64, requires_grad=True) for _ in range(2))
    >>> calls = []
    >>> def block(x):
    ...     calls.append(1)
    ...     return torch.tanh(x @ W1) @ W2
    >>> x = torch.randn(4, 16, dtype=torch.float64, requires_grad=True)
    >>> def grads_and_calls(run):
    ...     x.grad = W1.grad = W2.grad = None
    ...     calls.clear()
    ...     run(x).pow(2).sum().backward()
    ...     return [x.grad, W1.grad, W2.grad], len(calls)
    >>> plain, ours, ref = (grads_and_calls(run) for run in (
    ...     block, lambda t: checkpoint(block, t), lambda t: torch_checkpoint(block, t, use_reentrant=False)))
    >>> all(torch.allclose(o, p) and torch.allclose(r, p) for p, o, r in zip(plain[0], ours[0], ref[0]))
    True
    >>> plain[1], ours[1], ref[1]
    (1, 2, 2)

    What is kept for backward (counted with saved-tensor hooks): four ``sin`` keep their four
    inputs; checkpointed, only the segment input is kept, as by PyTorch's checkpoint:

    >>> def kept(run, x):
    ...     n = [0]
    ...     def pack(t):
    ...         n[0] += t.numel()
    ...         return t
    ...     with torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t):
    ...         run(x)
    ...     return n[0]
    >>> four_sins = lambda t: t.sin().sin().sin().sin()
    >>> x = torch.randn(1000, requires_grad=True)
    >>> kept(four_sins, x), kept(lambda t: checkpoint(four_sins, t), x), kept(
    ...     lambda t: torch_checkpoint(four_sins, t, use_reentrant=False), x)
    (4000, 1000, 1000)

    With dropout inside, the RNG state must be restored, or the recomputed mask differs and the
    gradient is wrong:

    >>> def drop(t):
    ...     return F.dropout(t, p=0.5).sin()
    >>> def grad(fn):
    ...     x = torch.ones(200, dtype=torch.float64, requires_grad=True)
    ...     _ = torch.manual_seed(5)
    ...     fn(x).sum().backward()
    ...     return x.grad
    >>> torch.equal(grad(lambda t: checkpoint(drop, t)), grad(drop))
    True
    >>> torch.equal(grad(lambda t: checkpoint(drop, t, preserve_rng_state=False)), grad(drop))
    False
    """
    if not callable(function):
        raise TypeError(f"function must be callable, got {type(function).__name__}")
    if not args:
        raise ValueError("args must hold at least one tensor, the segment's input")
    for i, a in enumerate(args):
        check.tensor(f"args[{i}]", a, floating=False)
    check.flag("preserve_rng_state", preserve_rng_state)
    return _Checkpoint.apply(function, preserve_rng_state, *args)


def _check_micro_batches(loss_fn, params, micro_batches, ignore_index) -> list:
    if not callable(loss_fn):
        raise TypeError(f"loss_fn must be callable, got {type(loss_fn).__name__}")
    if isinstance(params, torch.Tensor) or not isinstance(params, list | tuple) or not params:
        raise TypeError("params must be a non-empty list of tensors that require grad")
    for i, p in enumerate(params):
        check.tensor(f"params[{i}]", p)
        if not p.requires_grad:
            raise ValueError(f"params[{i}] must require grad")
    if not isinstance(micro_batches, list | tuple) or not micro_batches:
        raise TypeError("micro_batches must be a non-empty list of (input, target) pairs")
    for i, mb in enumerate(micro_batches):
        if not isinstance(mb, tuple | list) or len(mb) != 2:
            raise TypeError(f"micro_batches[{i}] must be an (input, target) pair")
        target = check.tensor(f"micro_batches[{i}] target", mb[1], floating=False)
        if target.is_floating_point() or target.is_complex() or target.dtype == torch.bool:
            raise TypeError(f"micro_batches[{i}] target must hold integer class indices, got dtype {target.dtype}")
    check.integer("ignore_index", ignore_index)
    return list(micro_batches)


@question(
    "gradient-accumulation",
    level="intermediate",
    short=(
        "Summing the gradients of n micro-batches before one step equals the large batch's gradient when "
        "every example gets the weight it has in the large batch. With equal-size micro-batches, dividing "
        "each mean loss by n does that. With different token counts the mean of means is wrong: sum each "
        "micro-batch's token losses and divide by the total token count."
    ),
    followups=("gradient-checkpointing", "batch-norm-train-vs-eval"),
)
def accumulate_gradients(
    loss_fn, params, micro_batches, normalize: str = "tokens", ignore_index: int = -100
) -> list[torch.Tensor]:
    r"""Accumulate the gradient of a token-averaged loss over micro-batches, as ``loss.backward()`` in a loop.

    **When does gradient accumulation give the same gradient as one large batch?**

    Accumulation calls ``backward`` on each micro-batch and steps once, so the step uses the *sum* of
    the micro-batch gradients; it equals the large batch's gradient when each example is weighted as
    in the large batch. A language-model loss is a mean over tokens. If the :math:`n` micro-batches
    hold the same number of tokens, dividing each micro-batch's mean loss by :math:`n` gives the
    global mean. If they do not (variable lengths, padding masked out), the mean of means over-weights
    the tokens of short micro-batches; the fix is to sum each micro-batch's token losses and divide
    by the total number of tokens in the whole accumulated batch, counted beforehand.

    .. math::

        \text{large batch: } \frac{1}{N}\sum_{j=1}^{N} \ell_j, \quad N = \sum_i N_i; \qquad
        \text{tokens: } \sum_i \frac{1}{N}\sum_{j \in i} \ell_j \ (= \text{large batch}); \qquad
        \text{micro\_batches: } \sum_i \frac{1}{n}\,\frac{1}{N_i}\sum_{j \in i} \ell_j

    Parameters
    ----------
    loss_fn : callable
        ``loss_fn(input, target)`` returns the per-token losses, shaped like ``target``, and 0 where
        ``target == ignore_index`` (``F.cross_entropy(..., reduction="none")`` does both).
    params : list of torch.Tensor
        The parameters that require grad; their ``.grad`` is reset first, as by
        ``optimizer.zero_grad()``, then accumulated.
    micro_batches : list of (input, target)
        ``target``: integer class indices of any shape ``(*)``; the tokens are its entries other than
        ``ignore_index``.
    normalize : {'tokens', 'micro_batches'}, default 'tokens'
        ``'tokens'``: divide each micro-batch's summed loss by the total token count (exact).
        ``'micro_batches'``: divide each micro-batch's mean loss by the number of micro-batches (the
        common recipe; exact only when all micro-batches hold the same number of tokens).
    ignore_index : int, default -100
        Target value of padding.

    Returns
    -------
    list of torch.Tensor
        The accumulated gradient of each parameter (a copy of its ``.grad``).

    See Also
    --------
    torch.nn.functional.cross_entropy

    Notes
    -----
    Batch normalization also breaks the equivalence: its statistics are those of each micro-batch,
    not of the large batch (the tests show it).

    .. admonition:: Common mistake

        "Accumulating over n micro-batches, each loss divided by n, always equals training with a
        batch n times larger."

        Only when every micro-batch holds the same number of tokens (and no batch norm). With
        different lengths or padding, the mean of the micro-batch means is not the mean over all
        tokens; the examples show the difference and the fix, dividing the summed losses by the
        total token count.

    Examples
    --------
    A linear next-token classifier; micro-batches of 3, 9 and 4 tokens. Only ``'tokens'`` gives the
    large batch's gradient:

    >>> W = torch.randn(8, 5, dtype=torch.float64, requires_grad=True)
    >>> def token_losses(x, t):
    ...     return F.cross_entropy(x @ W, t, reduction="none")
    >>> batches = [(torch.randn(n, 8, dtype=torch.float64), torch.randint(5, (n,))) for n in (3, 9, 4)]
    >>> x_all, t_all = torch.cat([x for x, _ in batches]), torch.cat([t for _, t in batches])
    >>> large = torch.autograd.grad(F.cross_entropy(x_all @ W, t_all), W)[0]
    >>> torch.allclose(accumulate_gradients(token_losses, [W], batches)[0], large)
    True
    >>> torch.allclose(accumulate_gradients(token_losses, [W], batches, normalize="micro_batches")[0], large)
    False

    Equal sizes: both recipes give the large batch's gradient:

    >>> equal = [(torch.randn(4, 8, dtype=torch.float64), torch.randint(5, (4,))) for _ in range(3)]
    >>> x_all, t_all = torch.cat([x for x, _ in equal]), torch.cat([t for _, t in equal])
    >>> large = torch.autograd.grad(F.cross_entropy(x_all @ W, t_all), W)[0]
    >>> all(torch.allclose(accumulate_gradients(token_losses, [W], equal, normalize=m)[0], large)
    ...     for m in ("tokens", "micro_batches"))
    True

    The same shapes with padding: the micro-batches hold 4, 2 and 1 real tokens, and again only
    ``'tokens'`` matches ``F.cross_entropy(..., ignore_index=-100)`` on the whole batch:

    >>> for (_, t), pad in zip(equal, (0, 2, 3)):
    ...     t[4 - pad:] = -100
    >>> t_all = torch.cat([t for _, t in equal])
    >>> large = torch.autograd.grad(F.cross_entropy(x_all @ W, t_all, ignore_index=-100), W)[0]
    >>> [torch.allclose(accumulate_gradients(token_losses, [W], equal, normalize=m)[0], large)
    ...  for m in ("tokens", "micro_batches")]
    [True, False]
    """
    micro_batches = _check_micro_batches(loss_fn, params, micro_batches, ignore_index)
    check.choice("normalize", normalize, ("tokens", "micro_batches"))
    n = len(micro_batches)
    # N: the tokens of the whole accumulated batch, counted before any backward
    N = sum(int((t != ignore_index).sum()) for _, t in micro_batches)
    if N == 0:
        raise ValueError("micro_batches must hold at least one target that is not ignore_index")
    for p in params:
        p.grad = None  # as optimizer.zero_grad()
    for input, target in micro_batches:
        losses = loss_fn(input, target)  # (*), 0 at padding
        if not isinstance(losses, torch.Tensor) or losses.shape != target.shape:
            raise ValueError("loss_fn must return one loss per target entry (reduction='none'), shaped like target")
        N_i = int((target != ignore_index).sum())
        # 'tokens': this micro-batch's share of the global token mean; else its own mean over n
        loss = losses.sum() / N if normalize == "tokens" else losses.sum() / max(N_i, 1) / n
        loss.backward()  # adds into p.grad
    return [p.grad.clone() if p.grad is not None else torch.zeros_like(p) for p in params]
