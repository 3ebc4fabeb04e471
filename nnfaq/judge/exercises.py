"""The exercises: what to write, for which question, and what the judge compares it with.

One :class:`Exercise` per coding task. The table is plain data and imports neither torch nor the
topic modules, so listing exercises and writing starters start as fast as Python; the checks that
judge an exercise (its input generators, claims, edge cases and bad input) live in
:mod:`nnfaq.judge.suites`, under the same id.

The function to write takes PyTorch's name, argument names and order where PyTorch has the
operation (``signature``); ``solution`` names nnfaq's reference implementation, shown as the
solution on the site; ``oracle`` is what the judge compares with.

Examples
--------
>>> ex = get_exercise("softmax")
>>> ex.function, ex.signature, ex.part, ex.filename
('softmax', 'input, dim', 'foundations', 'softmax.py')
>>> len(EXERCISES) >= 30 and all(e.level in ("basic", "intermediate", "advanced") for e in EXERCISES)
True
"""

from __future__ import annotations

from typing import NamedTuple

__all__ = ["EXERCISES", "Exercise", "exercises", "get_exercise"]


class Exercise(NamedTuple):
    """One coding exercise.

    Fields: ``id`` (kebab-case, stable), ``title``, ``level`` (one of :data:`nnfaq.LEVELS`),
    ``question`` (the id of the question it practises), ``function`` (the name to write),
    ``signature`` (its parameters as Python source, PyTorch's names and order where PyTorch has
    the operation), ``parameters`` (``(name, description)`` pairs, shapes included), ``returns``,
    ``task`` (the specification, rst), ``hints`` (from gentle to nearly the answer), ``solution``
    (dotted path of nnfaq's reference implementation, or None), ``oracle`` (what the judge
    compares with) and ``free_defaults`` (parameters whose default value is not checked).
    """

    id: str
    title: str
    level: str
    question: str
    function: str
    signature: str
    parameters: tuple[tuple[str, str], ...]
    returns: str
    task: str
    hints: tuple[str, ...]
    solution: str | None
    oracle: str
    free_defaults: tuple[str, ...] = ()

    @property
    def part(self) -> str:
        """The part it belongs to: the part of its solution's module, else of its question."""
        if self.solution:
            return self.solution.split(".")[1]
        from nnfaq import get_question

        return get_question(self.question).part

    @property
    def filename(self) -> str:
        """The starter's default file name, e.g. ``"log_softmax.py"``."""
        return self.id.replace("-", "_") + ".py"

    @property
    def judge_command(self) -> str:
        """The command that judges the starter file."""
        return f"nnfaq judge {self.filename}"

    def __repr__(self) -> str:
        return f"Exercise({self.id!r}: {self.function}({self.signature}))"


_INPUT = ("input", "Tensor of any shape ``(*)``, floating point.")
_ACT = "Same shape and dtype as ``input``."
_OPT = ("param, grad, state", "The parameter, its gradient (same shape) and this parameter's state dict.")
_ATT = (
    ("query", "``(B, H, T, D)``: ``T`` queries of dimension ``D`` (any leading dims)."),
    ("key", "``(B, H, S, D)``: ``S`` keys."),
    ("value", "``(B, H, S, Dv)``: one value per key."),
    (
        "attn_mask",
        "None, a bool mask (True = may attend) or a float mask added to the scores; broadcasts to ``(B, H, T, S)``.",
    ),
    ("dropout_p", "Dropout on the attention weights; the judge passes 0."),
    ("is_causal", "Query ``i`` may attend to keys ``j <= i`` only (``attn_mask`` must then be None)."),
    ("scale", "Multiplies the scores; None means ``1 / sqrt(D)``."),
)

EXERCISES: tuple[Exercise, ...] = (
    # --- foundations: activations ------------------------------------------------------------------
    Exercise(
        "sigmoid",
        "The sigmoid, stable for large inputs",
        "basic",
        "sigmoid-tanh-hidden-layers",
        "sigmoid",
        "input",
        (_INPUT,),
        _ACT,
        "Compute the logistic sigmoid ``1 / (1 + exp(-x))`` element-wise, as ``torch.sigmoid``. The judge "
        "also checks its gradient ``sigma(x) (1 - sigma(x))`` (at most 1/4) and inputs near +-1000, where "
        "the naive formula overflows and its gradient becomes NaN.",
        (
            "For very negative x, exp(-x) overflows to inf; autograd then multiplies 0 by inf.",
            "Use exp(x) / (1 + exp(x)) where x < 0 and 1 / (1 + exp(-x)) where x >= 0 (torch.where on exp(-|x|)).",
        ),
        "nnfaq.foundations.activations.activation",
        "torch.sigmoid",
    ),
    Exercise(
        "tanh",
        "tanh, stable for large inputs",
        "basic",
        "sigmoid-tanh-hidden-layers",
        "tanh",
        "input",
        (_INPUT,),
        _ACT,
        "Compute the hyperbolic tangent element-wise, as ``torch.tanh``, without calling ``torch.tanh``. "
        "The judge checks the derivative ``1 - tanh(x)^2`` (1 at 0, below 0.01 at 3) and inputs near "
        "+-1000, where ``(e^x - e^-x) / (e^x + e^-x)`` is inf/inf.",
        (
            "tanh(x) = 2 sigmoid(2x) - 1, and tanh is odd: tanh(-x) = -tanh(x).",
            "Write it with exp(-2|x|), which never overflows: sign(x) (1 - e) / (1 + e).",
        ),
        "nnfaq.foundations.activations.activation",
        "torch.tanh",
    ),
    Exercise(
        "relu",
        "ReLU and its derivative at 0",
        "basic",
        "dying-relu",
        "relu",
        "input",
        (_INPUT,),
        _ACT,
        "Compute ``max(x, 0)`` element-wise, as ``torch.nn.functional.relu``. Its derivative is 1 for "
        "``x > 0`` and 0 for ``x <= 0``: PyTorch's convention at exactly 0 is 0, and the judge checks it.",
        (
            "torch.where(x > 0, x, 0): a strict comparison.",
            "x * (x >= 0) and x.clamp(min=0) have gradient 1 at x = 0, torch.maximum(x, 0) has 0.5.",
        ),
        "nnfaq.foundations.activations.activation",
        "torch.nn.functional.relu",
    ),
    Exercise(
        "leaky-relu",
        "Leaky ReLU",
        "basic",
        "dying-relu",
        "leaky_relu",
        "input, negative_slope=0.01",
        (_INPUT, ("negative_slope", "Slope for negative inputs.")),
        _ACT,
        "Compute ``x`` for ``x > 0`` and ``negative_slope * x`` otherwise, as "
        "``torch.nn.functional.leaky_relu``. The derivative at exactly 0 is ``negative_slope``; negative "
        "units keep a gradient, so they cannot die.",
        ("torch.where(x > 0, x, negative_slope * x).", "max(x, a x) is only right for a <= 1."),
        "nnfaq.foundations.activations.activation",
        "torch.nn.functional.leaky_relu",
    ),
    Exercise(
        "gelu",
        "GELU, the exact one",
        "intermediate",
        "sigmoid-tanh-hidden-layers",
        "gelu",
        "input",
        (_INPUT,),
        _ACT,
        "Compute ``x Phi(x)``, where ``Phi`` is the standard normal CDF, as ``torch.nn.functional.gelu`` "
        "(``approximate='none'``). The tanh approximation (GPT-2's) differs by up to about 5e-4 and fails "
        "the judge; its derivative is ``Phi(x) + x phi(x)``.",
        (
            "Phi(x) = (1 + erf(x / sqrt(2))) / 2; torch.erf exists.",
            "Do not use 0.5 x (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3))): that is approximate='tanh'.",
        ),
        "nnfaq.foundations.activations.activation",
        "torch.nn.functional.gelu",
    ),
    Exercise(
        "silu",
        "SiLU (swish)",
        "basic",
        "sigmoid-tanh-hidden-layers",
        "silu",
        "input",
        (_INPUT,),
        _ACT,
        "Compute ``x sigma(x)`` element-wise, as ``torch.nn.functional.silu``. Its minimum is about "
        "-0.2785 (at x near -1.278), it is not monotonic, and it must stay finite, with a finite "
        "gradient, for inputs near +-1000.",
        ("x * torch.sigmoid(x) is stable; x / (1 + exp(-x)) gives a NaN gradient at -1000.",),
        None,
        "torch.nn.functional.silu",
    ),
    # --- foundations: output layers and losses -----------------------------------------------------
    Exercise(
        "softmax",
        "Numerically stable softmax",
        "basic",
        "sigmoid-vs-softmax",
        "softmax",
        "input, dim",
        (_INPUT, ("dim", "The dimension along which the outputs sum to 1 (negative counts from the end).")),
        "Same shape and dtype as ``input``; non-negative, summing to 1 along ``dim``.",
        "Compute ``exp(x_i) / sum_j exp(x_j)`` along ``dim``, as ``torch.nn.functional.softmax``, without "
        "calling ``softmax``, ``log_softmax`` or ``logsumexp``. It must work for logits near 1000 (no "
        "overflow) and rows containing ``-inf`` (a masked entry gets probability 0).",
        (
            "softmax(x) = softmax(x - c) for any constant c per row.",
            "Subtract the maximum along dim (keepdim=True) before exp: every exponent is then <= 0.",
        ),
        "nnfaq.foundations.output_layers.softmax",
        "torch.nn.functional.softmax",
    ),
    Exercise(
        "log-softmax",
        "log-softmax without log(softmax)",
        "intermediate",
        "cross-entropy-takes-logits",
        "log_softmax",
        "input, dim",
        (_INPUT, ("dim", "The dimension to normalize over.")),
        "Same shape and dtype as ``input``; ``exp`` of it sums to 1 along ``dim``.",
        "Compute ``x_i - log sum_j exp(x_j)`` along ``dim``, as ``torch.nn.functional.log_softmax``, "
        "without calling ``log_softmax``, ``softmax`` or ``logsumexp``. ``log(softmax(x))`` is wrong in "
        "floating point: for a logit 1000 below the maximum, softmax underflows to 0 and its log is -inf, "
        "while the answer is about -1000.",
        (
            "log_softmax(x) = x - m - log(sum exp(x - m)) with m the maximum along dim.",
            "Never take the log of a probability; work with x - m directly.",
        ),
        "nnfaq.foundations.output_layers.log_softmax",
        "torch.nn.functional.log_softmax",
    ),
    Exercise(
        "cross-entropy",
        "Cross-entropy with class indices, weights and ignore_index",
        "intermediate",
        "categorical-vs-sparse-cross-entropy",
        "cross_entropy",
        "input, target, weight=None, ignore_index=-100, reduction='mean'",
        (
            ("input", "Logits ``(B, C)``."),
            ("target", "Class indices ``(B,)``, int64, in ``[0, C)`` or equal to ``ignore_index``."),
            ("weight", "``(C,)`` class weights, or None."),
            ("ignore_index", "Targets equal to it contribute nothing (not even to the mean's count)."),
            ("reduction", "'mean', 'sum' or 'none'."),
        ),
        "A scalar, or ``(B,)`` for ``reduction='none'``.",
        "Compute ``-w[y_i] log softmax(x_i)[y_i]`` per example, as ``torch.nn.functional.cross_entropy`` "
        "with integer targets. With weights, ``'mean'`` divides by the sum of the weights of the counted "
        "targets, not by ``B``; ignored targets give 0 and are left out of the count. Large logits must "
        "not overflow.",
        (
            "Use a stable log-softmax (subtract the row maximum), then pick log_p[i, target[i]] with gather.",
            "Mask the ignored rows before indexing (target may hold -100), and use weight[target] for the "
            "mean's denominator.",
        ),
        "nnfaq.foundations.classification_losses.cross_entropy",
        "torch.nn.functional.cross_entropy",
    ),
    Exercise(
        "cross-entropy-soft-targets",
        "Cross-entropy with probability targets and label smoothing",
        "intermediate",
        "label-smoothing",
        "cross_entropy",
        "input, target, weight=None, reduction='mean', label_smoothing=0.0",
        (
            ("input", "Logits ``(B, C)``."),
            ("target", "Class probabilities ``(B, C)``, floating point, each row summing to 1."),
            ("weight", "``(C,)`` class weights, or None."),
            ("reduction", "'mean', 'sum' or 'none'."),
            ("label_smoothing", "``eps`` in ``[0, 1]``: the target becomes ``(1 - eps) t + eps / C``."),
        ),
        "A scalar, or ``(B,)`` for ``reduction='none'``.",
        "Compute ``-sum_c w_c t_ic log softmax(x_i)_c`` per example, as "
        "``torch.nn.functional.cross_entropy`` with a floating target of the input's shape. Unlike index "
        "targets, ``'mean'`` divides by ``B`` even with weights. With one-hot targets it equals the "
        "index version; its minimum over the logits is the entropy of the target, not 0.",
        (
            "Smooth the target first: t = (1 - eps) t + eps / C.",
            "loss_i = -(weight * t * log_softmax(x)).sum(1); then mean over the batch.",
        ),
        "nnfaq.foundations.classification_losses.cross_entropy",
        "torch.nn.functional.cross_entropy",
    ),
    Exercise(
        "cross-entropy-grad",
        "The gradient of softmax cross-entropy, by hand",
        "intermediate",
        "softmax-cross-entropy-gradient",
        "cross_entropy_grad",
        "input, target",
        (("input", "Logits ``(B, C)``."), ("target", "Class indices ``(B,)``, int64.")),
        "``(B, C)``: the gradient of ``cross_entropy(input, target)`` (mean) with respect to ``input``.",
        "Return ``(softmax(x) - onehot(y)) / B`` without autograd. The judge compares it with autograd's "
        "gradient of ``torch.nn.functional.cross_entropy``; each row sums to 0 and the entries lie in "
        "``[-1/B, 1/B]``.",
        (
            "The softmax Jacobian and the log's 1/p cancel: d loss_i / d x_i = p_i - y_i.",
            "Build the one-hot with torch.zeros_like(x).scatter_(1, target[:, None], 1.0), and divide by B "
            "for the mean.",
        ),
        "nnfaq.foundations.classification_losses.cross_entropy_grad",
        "autograd of torch.nn.functional.cross_entropy",
    ),
    Exercise(
        "bce-with-logits",
        "Binary cross-entropy from logits, stable",
        "intermediate",
        "bce-with-logits",
        "binary_cross_entropy_with_logits",
        "input, target, weight=None, reduction='mean', pos_weight=None",
        (
            ("input", "Logits, any shape ``(*)``."),
            ("target", "Same shape, values in ``[0, 1]``."),
            ("weight", "Broadcasts to ``input``: a weight per element, or None."),
            ("reduction", "'mean', 'sum' or 'none'."),
            ("pos_weight", "Broadcasts to ``input`` (usually ``(C,)``): weight of the positive term, or None."),
        ),
        "A scalar, or the input's shape for ``reduction='none'``.",
        "Compute ``-w [p y log sigma(x) + (1 - y) log(1 - sigma(x))]`` element-wise, as "
        "``torch.nn.functional.binary_cross_entropy_with_logits``, without forming ``sigma(x)``: for "
        "logits near +-1000 the loss must stay finite (about 1000 when wrong) and the gradient must be "
        "``sigma(x) - y``.",
        (
            "log sigma(x) = -softplus(-x) and log(1 - sigma(x)) = -softplus(x).",
            "softplus(z) = max(z, 0) + log1p(exp(-|z|)) never overflows.",
        ),
        "nnfaq.foundations.output_layers.binary_cross_entropy_with_logits",
        "torch.nn.functional.binary_cross_entropy_with_logits",
    ),
    Exercise(
        "huber-loss",
        "Huber loss",
        "basic",
        "huber-loss",
        "huber_loss",
        "input, target, reduction='mean', delta=1.0",
        (
            ("input", "Predictions, any shape ``(*)``."),
            ("target", "Same shape."),
            ("reduction", "'mean', 'sum' or 'none'."),
            ("delta", "Where the loss turns from quadratic to linear, > 0."),
        ),
        "A scalar, or the input's shape for ``reduction='none'``.",
        "With ``e = |input - target|``: ``e^2 / 2`` where ``e < delta``, else ``delta (e - delta / 2)``, as "
        "``torch.nn.functional.huber_loss``. The two pieces meet with equal value and slope at "
        "``delta``, and the gradient is the error clipped to ``[-delta, delta]``.",
        ("torch.where(e < delta, 0.5 * e**2, delta * (e - 0.5 * delta)).",),
        "nnfaq.foundations.regression_losses.huber_loss",
        "torch.nn.functional.huber_loss",
    ),
    Exercise(
        "kl-div",
        "KL divergence, PyTorch's convention",
        "intermediate",
        "kl-divergence",
        "kl_div",
        "input, target, reduction='mean', log_target=False",
        (
            ("input", "Log-probabilities ``log q``, any shape (usually ``(B, C)``)."),
            ("target", "Probabilities ``p`` (or ``log p`` if ``log_target``), same shape."),
            ("reduction", "'mean', 'batchmean', 'sum' or 'none'."),
            ("log_target", "Whether ``target`` holds log-probabilities."),
        ),
        "A scalar, or the input's shape for ``reduction='none'``.",
        "Compute the pointwise ``p (log p - input)``, as ``torch.nn.functional.kl_div``: note the order, "
        "``KL(target || exp(input))``, and that ``input`` is already a log. A target of exactly 0 "
        "contributes 0 (not NaN). ``'batchmean'`` divides the sum by the batch size (the true KL per "
        "example); ``'mean'`` divides by the number of elements.",
        (
            "Use torch.xlogy(p, p) - p * input so that 0 log 0 = 0.",
            "'batchmean' is the sum divided by input.size(0); 'mean' is the sum divided by input.numel().",
        ),
        "nnfaq.foundations.regression_losses.kl_div",
        "torch.nn.functional.kl_div",
    ),
    # --- foundations: gradients and initialization -------------------------------------------------
    Exercise(
        "clip-grad-norm",
        "Clip gradients by their total norm",
        "intermediate",
        "gradient-clipping",
        "clip_grad_norm_",
        "parameters, max_norm, norm_type=2.0",
        (
            ("parameters", "A tensor or an iterable of tensors; those whose ``.grad`` is None are skipped."),
            ("max_norm", "The largest total norm allowed, > 0."),
            ("norm_type", "p of the p-norm (``float('inf')`` for the max norm)."),
        ),
        "The total norm before clipping, a 0-d tensor; the gradients are scaled in place.",
        "Treat all gradients as one vector: its norm is the p-norm of the per-parameter p-norms. If it "
        "exceeds ``max_norm``, multiply every ``.grad`` in place by ``max_norm / (norm + 1e-6)``, as "
        "``torch.nn.utils.clip_grad_norm_`` does; otherwise leave them unchanged. The direction is kept.",
        (
            "Collect the parameters first (a generator can be consumed only once).",
            "Clip by the global norm, not each parameter by its own: the scale is the same for all.",
            "coef = max_norm / (total + 1e-6); if coef < 1: g.mul_(coef) for every gradient.",
        ),
        "nnfaq.foundations.gradient_flow.clip_grad_norm_",
        "torch.nn.utils.clip_grad_norm_",
    ),
    Exercise(
        "kaiming-uniform",
        "He (Kaiming) uniform initialization",
        "intermediate",
        "xavier-vs-he-init",
        "kaiming_uniform_",
        "tensor, a=0.0, mode='fan_in', nonlinearity='leaky_relu'",
        (
            ("tensor", "Weight ``(C_out, C_in, *K)``, at least 2-D; filled in place."),
            ("a", "Negative slope of the leaky ReLU that follows (0 for ReLU)."),
            ("mode", "'fan_in' (preserve the forward pass) or 'fan_out' (the backward pass)."),
            (
                "nonlinearity",
                "'relu', 'leaky_relu', 'linear' or 'tanh' (their gains: sqrt(2), sqrt(2 / (1 + a^2)), 1, 5/3).",
            ),
        ),
        "``tensor`` itself, filled from ``U(-b, b)``.",
        "Fill ``tensor`` in place from ``U(-b, b)`` with ``b = gain * sqrt(3 / fan)``, as "
        "``torch.nn.init.kaiming_uniform_``, so that ``Var(w) = gain^2 / fan``. ``fan_in`` is "
        "``C_in * prod(K)`` and ``fan_out`` is ``C_out * prod(K)``. The judge checks the bound and the "
        "variance on large tensors, statistically.",
        (
            "For a conv weight (C_out, C_in, kH, kW), the receptive field size kH * kW multiplies both fans.",
            "The uniform distribution U(-b, b) has variance b^2 / 3, hence the sqrt(3).",
            "with torch.no_grad(): return tensor.uniform_(-b, b)",
        ),
        "nnfaq.foundations.initialization.kaiming_uniform_",
        "torch.nn.init.kaiming_uniform_ (statistics)",
    ),
    # --- training ----------------------------------------------------------------------------------
    Exercise(
        "dropout",
        "Inverted dropout, forward and backward",
        "basic",
        "dropout-train-vs-eval",
        "dropout",
        "input, p=0.5, training=True",
        (
            _INPUT,
            ("p", "Probability of zeroing an element, in ``[0, 1)``."),
            ("training", "Apply dropout (True) or return ``input`` unchanged (False)."),
        ),
        _ACT,
        "In training, zero each element independently with probability ``p`` and multiply the survivors "
        "by ``1 / (1 - p)``, as ``torch.nn.functional.dropout``; in evaluation return the input "
        "unchanged. The judge checks that every output is 0 or ``x / (1 - p)``, that about a fraction "
        "``p`` is dropped, that the mean is kept, and that the gradient is ``mask / (1 - p)``.",
        (
            "mask = (torch.rand_like(input) >= p) keeps each element with probability 1 - p.",
            "Without the 1 / (1 - p) scale the expected output shrinks by (1 - p), and evaluation would "
            "then need a rescaling.",
        ),
        "nnfaq.training.regularization.dropout",
        "torch.nn.functional.dropout (statistics; the mask is random)",
    ),
    Exercise(
        "batch-norm",
        "Batch normalization, train and eval",
        "intermediate",
        "batch-norm-train-vs-eval",
        "batch_norm",
        "input, running_mean, running_var, weight=None, bias=None, training=False, momentum=0.1, eps=1e-05",
        (
            ("input", "``(B, C)`` or ``(B, C, *)``: statistics over every dimension but ``C``."),
            (
                "running_mean, running_var",
                "``(C,)`` running statistics (or None in training); updated in place in training.",
            ),
            ("weight, bias", "``(C,)`` scale and shift, or None."),
            ("training", "Normalize with batch statistics and update the running ones, or use the running ones."),
            ("momentum", "``running = (1 - momentum) running + momentum batch_stat``."),
            ("eps", "Added to the variance."),
        ),
        "Same shape as ``input``.",
        "As ``torch.nn.functional.batch_norm``: in training, normalize each channel with the batch mean "
        "and the *biased* batch variance, and update ``running_mean`` and ``running_var`` in place, the "
        "latter with the *unbiased* variance ``n / (n - 1) var``. In evaluation, normalize with the "
        "running statistics and change nothing; a batch of one works. Training with one value per "
        "channel must raise ValueError.",
        (
            "Reduce over dims = [0, 2, 3, ...]: every dimension except 1.",
            "Two variances: the output uses var(unbiased=False); the running estimate uses var(unbiased=True).",
            "Update the buffers in place (running_mean.mul_(1 - m).add_(m * mu)) under torch.no_grad().",
        ),
        "nnfaq.training.train_eval.batch_norm",
        "torch.nn.functional.batch_norm",
    ),
    Exercise(
        "layer-norm",
        "Layer normalization",
        "intermediate",
        "normalization-layers-compared",
        "layer_norm",
        "input, normalized_shape, weight=None, bias=None, eps=1e-05",
        (
            ("input", "``(*, *normalized_shape)``."),
            ("normalized_shape", "The trailing shape to normalize over (an int or a tuple)."),
            ("weight, bias", "Of shape ``normalized_shape``, or None."),
            ("eps", "Added to the variance."),
        ),
        "Same shape as ``input``.",
        "Normalize each example over its last ``len(normalized_shape)`` dimensions with their mean and "
        "*biased* variance, then scale and shift, as ``torch.nn.functional.layer_norm``. Nothing depends "
        "on the batch, so train and eval are the same; a constant row gives 0, not NaN.",
        (
            "dims = tuple(range(-len(normalized_shape), 0)); mean and var over them with keepdim=True.",
            "var(unbiased=False): the population variance, not the sample one.",
        ),
        "nnfaq.training.normalization.layer_norm",
        "torch.nn.functional.layer_norm",
    ),
    Exercise(
        "rms-norm",
        "RMSNorm",
        "intermediate",
        "rms-norm-vs-layer-norm",
        "rms_norm",
        "input, normalized_shape, weight=None, eps=None",
        (
            ("input", "``(*, *normalized_shape)``."),
            ("normalized_shape", "The trailing shape to normalize over (an int or a tuple)."),
            ("weight", "Of shape ``normalized_shape``, or None."),
            ("eps", "Added to the mean square; None means ``torch.finfo(input.dtype).eps``."),
        ),
        "Same shape as ``input``.",
        "Divide by the root mean square over the last ``len(normalized_shape)`` dimensions, "
        "``x / sqrt(mean(x^2) + eps)``, then scale, as ``torch.nn.functional.rms_norm``. Unlike layer "
        "norm it does not subtract the mean and has no bias: shifting the input changes the output.",
        (
            "eps = torch.finfo(input.dtype).eps when eps is None.",
            "x * torch.rsqrt(x.pow(2).mean(dims, keepdim=True) + eps).",
        ),
        "nnfaq.training.normalization.rms_norm",
        "torch.nn.functional.rms_norm",
    ),
    Exercise(
        "sgd-momentum",
        "One step of SGD with momentum",
        "intermediate",
        "momentum",
        "sgd_step",
        "param, grad, state, lr=0.001, momentum=0.0, dampening=0.0, weight_decay=0.0, nesterov=False",
        (
            _OPT,
            ("lr", "Learning rate."),
            ("momentum", "``mu`` in ``[0, 1)``."),
            ("dampening", "``tau`` in ``[0, 1]``."),
            ("weight_decay", "L2 term added to the gradient."),
            ("nesterov", "Nesterov momentum (needs momentum > 0 and dampening == 0)."),
        ),
        "The updated parameter, same shape as ``param``.",
        "Return the parameter after one step of ``torch.optim.SGD`` with these options, keeping the "
        "velocity in ``state`` between calls (the judge calls it several times with one dict): "
        "``g = grad + wd * param``; ``v = g`` on the first step, then ``v = mu v + (1 - tau) g``; the step "
        "is ``v``, or ``g + mu v`` with Nesterov.",
        (
            "The first step initializes the buffer with g itself, undampened (PyTorch's rule).",
            "state.get('momentum_buffer') is None on the first call.",
        ),
        "nnfaq.training.optimizers.sgd_step",
        "torch.optim.SGD",
    ),
    Exercise(
        "adam",
        "One step of Adam",
        "intermediate",
        "adam-vs-sgd",
        "adam_step",
        "param, grad, state, lr=0.001, betas=(0.9, 0.999), eps=1e-08, weight_decay=0.0",
        (
            _OPT,
            ("lr", "Learning rate."),
            ("betas", "``(beta1, beta2)``, each in ``[0, 1)``."),
            ("eps", "Added to the denominator, > 0."),
            ("weight_decay", "L2 term added to the gradient before the moments (this is not AdamW)."),
        ),
        "The updated parameter, same shape as ``param``.",
        "Return the parameter after one step of ``torch.optim.Adam``, keeping the step count and the two "
        "moments in ``state``: ``m = b1 m + (1 - b1) g``, ``v = b2 v + (1 - b2) g^2``, then step by "
        "``lr m_hat / (sqrt(v_hat) + eps)`` with the bias corrections ``m_hat = m / (1 - b1^t)`` and "
        "``v_hat = v / (1 - b2^t)``. The first step has size about ``lr`` whatever the gradient's scale.",
        (
            "t counts from 1 on the first call.",
            "eps goes outside the square root: sqrt(v_hat) + eps.",
        ),
        "nnfaq.training.optimizers.adam_step",
        "torch.optim.Adam",
    ),
    Exercise(
        "adamw",
        "One step of AdamW (decoupled weight decay)",
        "intermediate",
        "adamw-vs-adam-l2",
        "adamw_step",
        "param, grad, state, lr=0.001, betas=(0.9, 0.999), eps=1e-08, weight_decay=0.01",
        (
            _OPT,
            ("lr", "Learning rate."),
            ("betas", "``(beta1, beta2)``, each in ``[0, 1)``."),
            ("eps", "Added to the denominator, > 0."),
            ("weight_decay", "Decoupled decay: ``param *= 1 - lr * weight_decay`` before the Adam step."),
        ),
        "The updated parameter, same shape as ``param``.",
        "Return the parameter after one step of ``torch.optim.AdamW``: first shrink "
        "``param <- (1 - lr wd) param``, then take a plain Adam step from the moments of ``grad`` alone. "
        "Adding ``wd * param`` to the gradient (Adam's L2) is a different optimizer and fails.",
        (
            "The decay never enters m or v.",
            "param = param * (1 - lr * weight_decay); then the Adam update with bias corrections.",
        ),
        "nnfaq.training.optimizers.adamw_step",
        "torch.optim.AdamW",
    ),
    # --- convnets ----------------------------------------------------------------------------------
    Exercise(
        "conv2d",
        "2-D convolution from scratch",
        "intermediate",
        "conv2d-im2col",
        "conv2d",
        "input, weight, bias=None, stride=1, padding=0, dilation=1, groups=1",
        (
            ("input", "``(B, C_in, H, W)``."),
            ("weight", "``(C_out, C_in / groups, kH, kW)``."),
            ("bias", "``(C_out,)`` or None."),
            ("stride, padding, dilation", "An int or a pair ``(h, w)``; padding is zeros on both sides."),
            ("groups", "Split the channels into this many independent convolutions."),
        ),
        "``(B, C_out, H_out, W_out)``, ``H_out = (H + 2p - d (k - 1) - 1) // s + 1``.",
        "Compute ``torch.nn.functional.conv2d`` without calling any convolution (``conv*``, ``unfold`` "
        "is allowed). It is a cross-correlation: the kernel is not flipped. An asymmetric kernel "
        "catches a flip, and channel counts that do not fit must raise ValueError.",
        (
            "im2col: torch.nn.functional.unfold(input, k, dilation, padding, stride) gives "
            "(B, C_in kH kW, L); one matrix product with weight.view(C_out, -1) does the rest.",
            "With groups, split both the unfolded channels and the weight into groups and multiply per group.",
        ),
        "nnfaq.convnets.convolution.conv2d",
        "torch.nn.functional.conv2d",
    ),
    Exercise(
        "max-pool2d",
        "Max pooling with indices",
        "intermediate",
        "pooling",
        "max_pool2d",
        "input, kernel_size, stride=None, padding=0, dilation=1, ceil_mode=False, return_indices=False",
        (
            ("input", "``(B, C, H, W)``."),
            ("kernel_size, stride, padding, dilation", "An int or a pair; stride None means kernel_size."),
            ("ceil_mode", "Round the output size up (a last window may start in the padding-free input)."),
            ("return_indices", "Also return the position of each maximum, flattened over ``H * W``."),
        ),
        "``(B, C, H_out, W_out)``, and with ``return_indices`` a pair (values, int64 indices).",
        "Compute ``torch.nn.functional.max_pool2d``. Padding is implicit ``-inf``, not zeros: an "
        "all-negative input must not pool to 0. Indices count positions in each channel's unpadded "
        "``H x W`` map, row-major; the gradient of each window goes to its maximum only.",
        (
            "Pad with float('-inf') (torch.nn.functional.pad(..., value=-inf)) and unfold windows.",
            "For indices, pool an index map (torch.arange(H * W)) with the same windows and gather it at the argmax.",
        ),
        "nnfaq.convnets.resampling.max_pool2d",
        "torch.nn.functional.max_pool2d",
    ),
    # --- sequences ---------------------------------------------------------------------------------
    Exercise(
        "scaled-dot-product-attention",
        "Scaled dot-product attention with masks",
        "intermediate",
        "scaled-dot-product-attention",
        "scaled_dot_product_attention",
        "query, key, value, attn_mask=None, dropout_p=0.0, is_causal=False, scale=None",
        _ATT,
        "``(B, H, T, Dv)``.",
        "Compute ``softmax(scale q k^T + mask) v``, as ``torch.nn.functional.scaled_dot_product_attention``. "
        "A bool mask's True means *may attend* (the opposite of ``nn.MultiheadAttention``'s masks); a "
        "float mask is added. The causal mask is ``tril(ones(T, S))``. A query whose keys are all masked "
        "gets zeros, as PyTorch returns, not NaN.",
        (
            "scores = scale * q @ k.transpose(-2, -1); scale = 1 / sqrt(D) where D = query.shape[-1].",
            "masked_fill(~mask, -inf) before the softmax; then zero the rows that are all -inf.",
        ),
        "nnfaq.sequences.attention.scaled_dot_product_attention",
        "torch.nn.functional.scaled_dot_product_attention",
    ),
    Exercise(
        "multi-head-attention",
        "Multi-head attention, nn.MultiheadAttention's weights",
        "advanced",
        "multi-head-attention",
        "multi_head_attention",
        "query, key, value, num_heads, in_proj_weight, in_proj_bias, out_proj_weight, out_proj_bias, "
        "key_padding_mask=None, attn_mask=None",
        (
            ("query", "``(T, B, d)`` (sequence first, as the module's default)."),
            ("key, value", "``(S, B, d)``."),
            ("num_heads", "``H``; must divide ``d``."),
            ("in_proj_weight, in_proj_bias", "``(3d, d)`` and ``(3d,)`` (or None): ``W_q, W_k, W_v`` stacked."),
            ("out_proj_weight, out_proj_bias", "``(d, d)`` and ``(d,)`` (or None)."),
            ("key_padding_mask", "``(B, S)`` bool, True = padding (ignored), or None."),
            ("attn_mask", "``(T, S)`` bool, True = NOT allowed, or float (added), or None."),
        ),
        "A pair: the output ``(T, B, d)`` and the weights averaged over heads ``(B, T, S)``.",
        "Project with ``in_proj_weight``, split ``d`` into ``H`` heads of ``D = d / H`` (head ``h`` is "
        "columns ``h D`` to ``(h + 1) D``), attend in each head with ``1 / sqrt(D)``, concatenate and "
        "project with ``out_proj_weight``, as ``torch.nn.functional.multi_head_attention_forward`` "
        "(no dropout, no bias_k, no zero attention). Here True in a mask means *ignore*.",
        (
            "q, k, v = F.linear(query, in_proj_weight, in_proj_bias).chunk(3, -1) (for self-attention; "
            "in general split the weight and project query, key and value separately).",
            "(T, B, d) -> (B, H, T, D): reshape to (T, B, H, D) then permute(1, 2, 0, 3).",
        ),
        "nnfaq.sequences.attention.multi_head_attention",
        "torch.nn.functional.multi_head_attention_forward",
    ),
    Exercise(
        "rotary-embedding",
        "Rotary position embedding (RoPE)",
        "advanced",
        "rotary-positional-embedding",
        "rotary_embedding",
        "x, positions=None, base=10000.0",
        (
            ("x", "``(*, T, D)`` queries or keys, ``D`` even."),
            ("positions", "``(T,)`` integer positions, or None for ``0, 1, ..., T - 1``."),
            ("base", "``theta_i = base^(-2i / D)``."),
        ),
        "Same shape as ``x``.",
        "Rotate each pair of neighbouring features ``(x_2i, x_2i+1)`` of the vector at position ``m`` by "
        "the angle ``m theta_i`` (the RoFormer layout; the stated math is the judge's oracle). Norms are "
        "kept, position 0 is unchanged, and the score between a rotated query at ``m`` and key at ``n`` "
        "depends on ``n - m`` only.",
        (
            "x1, x2 = x[..., 0::2], x[..., 1::2]; out = (x1 cos - x2 sin, x1 sin + x2 cos), interleaved back.",
            "Rotating the halves x[..., :D/2] and x[..., D/2:] (GPT-NeoX's rotate_half) is another layout "
            "and fails here.",
        ),
        "nnfaq.sequences.positional_encoding.rotary_embedding",
        "the stated math (complex multiplication by exp(i m theta))",
    ),
    Exercise(
        "sinusoidal-encoding",
        "Sinusoidal positional encoding",
        "basic",
        "sinusoidal-positional-encoding",
        "sinusoidal_encoding",
        "T, d, base=10000.0, dtype=torch.float64",
        (
            ("T", "Number of positions, >= 1."),
            ("d", "Model dimension, even."),
            ("base", "``omega_i = base^(-2i / d)``."),
            ("dtype", "Floating dtype of the result."),
        ),
        "``(T, d)``.",
        "Return ``PE[t, 2i] = sin(omega_i t)`` and ``PE[t, 2i+1] = cos(omega_i t)`` with "
        "``omega_i = base^(-2i / d)`` (Vaswani et al., interleaved). Every value lies in [-1, 1], row 0 "
        "is ``(0, 1, 0, 1, ...)``, and the dot product of rows ``t`` and ``t + k`` depends on ``k`` only.",
        ("omega = base ** (-torch.arange(0, d, 2) / d); angles = t[:, None] * omega.",),
        "nnfaq.sequences.positional_encoding.sinusoidal_encoding",
        "the stated math",
    ),
    Exercise(
        "lstm-cell",
        "An LSTM cell, nn.LSTMCell's weights",
        "intermediate",
        "lstm-gates-and-parameters",
        "lstm_cell",
        "input, hx, w_ih, w_hh, b_ih=None, b_hh=None",
        (
            ("input", "``(B, C)``."),
            ("hx", "A pair ``(h, c)``, each ``(B, Hd)``."),
            ("w_ih", "``(4 Hd, C)``: the input weights of the gates i, f, g, o, stacked in that order."),
            ("w_hh", "``(4 Hd, Hd)``."),
            ("b_ih, b_hh", "``(4 Hd,)`` each, or None (PyTorch has two bias vectors)."),
        ),
        "A pair ``(h', c')``, each ``(B, Hd)``.",
        "One step of ``torch.nn.LSTMCell``: ``z = x W_ih^T + b_ih + h W_hh^T + b_hh`` split into "
        "``i, f, g, o``; ``c' = sigma(f) c + sigma(i) tanh(g)`` and ``h' = sigma(o) tanh(c')``. With "
        "the forget gate open and the input gate shut, the cell state passes unchanged.",
        (
            "i, f, g, o = z.chunk(4, dim=1): PyTorch's gate order.",
            "g goes through tanh, the other three through the sigmoid.",
        ),
        "nnfaq.sequences.recurrent.lstm_cell",
        "torch.nn.LSTMCell",
    ),
    # --- representations ---------------------------------------------------------------------------
    Exercise(
        "embedding",
        "An embedding lookup with padding_idx",
        "basic",
        "embedding-is-one-hot-matmul",
        "embedding",
        "input, weight, padding_idx=None",
        (
            ("input", "Integer indices, any shape ``(*)``, in ``[0, V)``."),
            ("weight", "``(V, C)`` table."),
            ("padding_idx", "A row whose gradient stays 0 (negative counts from the end), or None."),
        ),
        "``(*, C)``.",
        "Return the rows of ``weight`` selected by ``input``, as ``torch.nn.functional.embedding``: the "
        "same as one-hot vectors times ``weight``. The gradient of row ``v`` is the sum of the output "
        "gradients at the positions holding ``v``; the ``padding_idx`` row gets no gradient.",
        (
            "weight[input] already does the lookup and its gradient.",
            "For padding_idx, mask the output where input == padding_idx with a detached copy, or multiply by a mask.",
        ),
        "nnfaq.representations.embeddings.embedding",
        "torch.nn.functional.embedding",
    ),
    # --- transformers ------------------------------------------------------------------------------
    Exercise(
        "grouped-query-attention",
        "Grouped-query attention (SDPA with enable_gqa)",
        "advanced",
        "gqa-kv-head-order",
        "scaled_dot_product_attention",
        "query, key, value, attn_mask=None, dropout_p=0.0, is_causal=False, scale=None, enable_gqa=False",
        (
            *_ATT,
            ("enable_gqa", "``key`` and ``value`` may have fewer heads ``Hkv`` dividing the query's ``H``."),
        ),
        "``(B, H, T, Dv)``.",
        "As ``torch.nn.functional.scaled_dot_product_attention(..., enable_gqa=True)``: ``H`` query heads "
        "share ``Hkv`` key/value heads in groups of ``g = H / Hkv`` consecutive query heads, so query head "
        "``h`` uses key head ``h // g``. Tiling the key heads in the wrong order (``h % Hkv``) is the "
        "classic bug. With ``Hkv = 1`` it is multi-query attention.",
        (
            "key.repeat_interleave(g, dim=-3) puts copies of each head next to each other.",
            "key.repeat(1, g, 1, 1) cycles through the heads instead: wrong grouping.",
        ),
        "nnfaq.transformers.grouped_query.scaled_dot_product_attention",
        "torch.nn.functional.scaled_dot_product_attention",
    ),
    Exercise(
        "kv-cache-decoding",
        "Token-by-token decoding with a KV cache",
        "advanced",
        "kv-cache-decoding",
        "decode_with_cache",
        "query, key, value",
        (
            ("query", "``(B, H, T, D)``: the queries of ``T`` tokens, one decoding step each."),
            ("key, value", "``(B, H, T, D)``: their keys and values."),
        ),
        "``(B, H, T, D)``: equal to causal attention over the whole sequence.",
        "Decode one token at a time: at step ``t`` append key ``t`` and value ``t`` to a cache and attend "
        "with query ``t`` over the cache (``1 / sqrt(D)``). The new query needs no mask: the cache holds "
        "only the past. The outputs equal ``scaled_dot_product_attention(q, k, v, is_causal=True)``, and "
        "output ``t`` never depends on later tokens.",
        (
            "cache_k = torch.cat([cache_k, key[..., t:t+1, :]], dim=-2) each step.",
            "Collect the T outputs in a list and torch.cat them along dim -2.",
        ),
        "nnfaq.transformers.kv_cache.decode_with_cache",
        "torch.nn.functional.scaled_dot_product_attention(is_causal=True)",
    ),
    Exercise(
        "online-softmax",
        "Online softmax (FlashAttention's running max)",
        "advanced",
        "online-softmax",
        "online_softmax",
        "input, dim=-1, block_size=4",
        (
            _INPUT,
            ("dim", "The dimension to normalize over."),
            ("block_size", "Read ``dim`` in blocks of this many entries (the last may be shorter)."),
        ),
        "Same shape and dtype as ``input``.",
        "Compute the softmax in one pass over blocks along ``dim``, keeping a running maximum ``m`` and a "
        "running sum ``l`` rescaled by ``exp(m_old - m_new)`` when the maximum grows; then normalize. "
        "It equals ``torch.nn.functional.softmax`` exactly (not an approximation) for every block size, "
        "for large logits, and when a whole first block is ``-inf``.",
        (
            "l = l * exp(m_old - m_new) + sum(exp(x_block - m_new)).",
            "While every value seen is -inf, m is -inf and exp(-inf - (-inf)) is NaN: treat that case "
            "as a rescaling by 0 (or keep m finite).",
        ),
        "nnfaq.transformers.flash_attention.online_softmax",
        "torch.nn.functional.softmax",
        ("block_size",),
    ),
    Exercise(
        "top-p-filter",
        "Top-p (nucleus) filtering",
        "advanced",
        "top-p-sampling",
        "top_p_filter",
        "logits, p",
        (
            ("logits", "``(*, V)`` next-token logits."),
            ("p", "Nucleus mass in ``(0, 1]``."),
        ),
        "Same shape as ``logits``: the kept logits unchanged, the others ``-inf``.",
        "Keep the smallest set of most probable tokens whose softmax mass reaches ``p`` (the token that "
        "crosses ``p`` is kept), set the other logits to ``-inf``; at least one token is always kept and "
        "``p = 1`` keeps everything. The judge's oracle is the stated rule: keep a token when the mass of "
        "the tokens more probable than it is below ``p``.",
        (
            "Sort descending, cumsum the probabilities, and keep where cumsum - prob < p.",
            "Scatter the keep mask back to the original order (or compare each token with a threshold logit).",
        ),
        "nnfaq.transformers.decoding.top_p_filter",
        "the stated rule",
    ),
    # --- efficiency --------------------------------------------------------------------------------
    Exercise(
        "lora-linear",
        "A LoRA linear layer",
        "intermediate",
        "lora-initialization",
        "lora_linear",
        "input, weight, lora_A, lora_B, alpha, bias=None",
        (
            ("input", "``(*, C_in)``."),
            ("weight", "``(C_out, C_in)`` frozen base weight."),
            ("lora_A", "``(r, C_in)``, the down projection."),
            ("lora_B", "``(C_out, r)``, the up projection (initialized to zero in LoRA)."),
            ("alpha", "Scale: the update is ``(alpha / r) B A``."),
            ("bias", "``(C_out,)`` or None."),
        ),
        "``(*, C_out)``.",
        "Compute ``x W^T + b + (alpha / r) x A^T B^T`` (Hu et al., 2021; the stated math is the oracle), "
        "without forming ``B A``. With ``B = 0`` it is the base layer (LoRA's initialization changes "
        "nothing) and ``A`` gets no gradient; merging ``W + (alpha / r) B A`` gives the same outputs.",
        (
            "r = lora_A.shape[0]; the scale is alpha / r, not alpha.",
            "F.linear(F.linear(x, lora_A), lora_B) costs r (C_in + C_out) per row instead of C_in C_out.",
        ),
        "nnfaq.efficiency.lora.lora_linear",
        "the stated math",
    ),
    Exercise(
        "int8-absmax-quantize",
        "Symmetric (absmax) int8 quantization",
        "advanced",
        "absmax-quantization",
        "absmax_quantize",
        "input, dim=None",
        (
            ("input", "Floating tensor, any shape."),
            (
                "dim",
                "None for one scale for the whole tensor; an int for one scale per index of that "
                "dimension (per channel, like ``torch.quantize_per_channel``'s ``axis``).",
            ),
        ),
        "A pair ``(q, scale)``: ``q`` int8 of the input's shape, ``scale`` float (0-d, or 1-D of length "
        "``input.shape[dim]``).",
        "``scale = max |x| / 127`` (over everything, or over every dimension but ``dim``), "
        "``q = clamp(round(x / scale), -127, 127)`` as int8, matching "
        "``torch.quantize_per_tensor(x, scale, 0, torch.qint8)``. ``q * scale`` is within ``scale / 2`` "
        "of ``x``, the largest magnitude maps to +-127, and an all-zero slice must not divide by 0.",
        (
            "torch.round rounds half to even, as PyTorch's quantizer does.",
            "Per channel: amax over all dims except dim, then view the scale so it broadcasts along dim.",
        ),
        "nnfaq.efficiency.quantization.absmax_quantize",
        "torch.quantize_per_tensor / torch.quantize_per_channel (qint8)",
    ),
)


def get_exercise(id: str) -> Exercise:
    """The exercise with this id; a KeyError suggests the closest ids.

    >>> get_exercise("softmx")
    Traceback (most recent call last):
    ...
    KeyError: "no exercise with id 'softmx'; did you mean softmax, log-softmax, online-softmax?"
    """
    for ex in EXERCISES:
        if ex.id == id:
            return ex
    import difflib

    close = difflib.get_close_matches(str(id), [e.id for e in EXERCISES], n=3, cutoff=0.5)
    hint = f"; did you mean {', '.join(close)}?" if close else "; `nnfaq exercise --list` lists them"
    raise KeyError(f"no exercise with id {id!r}{hint}")


def exercises(part: str | None = None, level: str | None = None) -> tuple[Exercise, ...]:
    """The exercises, optionally only those of one part and/or one level, in table order.

    >>> [e.id for e in exercises(part="convnets")]
    ['conv2d', 'max-pool2d']
    """
    return tuple(e for e in EXERCISES if (part is None or e.part == part) and (level is None or e.level == level))
