"""The machinery of a check: calling the user's function, comparing, searching inputs, failing clearly.

A :class:`Suite` is an exercise's list of :class:`Check` objects, built in order: forward values,
gradients, claims, edge cases, bad input (the signature is checked first by
:mod:`nnfaq.judge.runner`, before torch is imported). A check returns a line of detail or raises
:class:`Failure`, whose message says in words what is wrong, with the smallest failing input and a
hint.

Random inputs come from hypothesis, from a fixed seed (the same inputs on every run and machine),
float64 and float32, with its shrinking: the input reported is the smallest one hypothesis finds
that still fails. Known wrong versions of an exercise (:class:`Mistake`) are recognised by
running them on the failing input and comparing.

Examples
--------
>>> compare(torch.ones(2), torch.ones(3))
'the output has shape (2,), expected (3,)'
>>> print(compare(torch.tensor([1.0, 2.0]), torch.tensor([1.0, 2.5])))
the output is wrong at index (1,): got 2, expected 2.5 (largest error 0.5)
>>> Case(input=torch.tensor([[1000.0, 999.0]], dtype=torch.float64), dim=-1).describe()
'input = [[1000.0, 999.0]] (float64), dim=-1'
"""

from __future__ import annotations

import copy
import math
import traceback
import warnings
from collections.abc import Callable
from typing import NamedTuple

import torch
from hypothesis import HealthCheck, Phase, Verbosity, given, seed, settings
from hypothesis import strategies as st

from nnfaq.judge.runner import TimeLimit, UserExit

__all__ = [
    "KINDS",
    "Case",
    "Check",
    "Failure",
    "Mistake",
    "Suite",
    "call",
    "compare",
    "expect",
]

#: The kinds of check, in the order they run.
KINDS = ("signature", "forward", "gradient", "claim", "edge case", "bad input")
F64, F32 = torch.float64, torch.float32
#: Tolerances per dtype: generous next to rounding, far below any real mistake.
TOL = {F64: (1e-6, 1e-7), F32: (1e-4, 1e-5)}
SHOW_VALUES = 8  # tensors with at most this many elements are shown with their values
#: Scales the number of random inputs of every check (the tests lower it; 1 for a judgement).
EXAMPLES = 1.0

#: The seed of every check's random inputs.
SEED = 0

_SETTINGS = settings(
    derandomize=True,
    database=None,
    deadline=None,
    verbosity=Verbosity.quiet,
    report_multiple_bugs=False,
    phases=(Phase.explicit, Phase.generate, Phase.shrink),
    suppress_health_check=[
        HealthCheck.too_slow,
        HealthCheck.filter_too_much,
        HealthCheck.data_too_large,
        HealthCheck.large_base_example,
        HealthCheck.function_scoped_fixture,
        HealthCheck.differing_executors,
    ],
)


class Failure(Exception):
    """A property the user's function lacks: ``message`` in words, an optional ``hint`` and ``input``."""

    def __init__(self, message: str, hint: str | None = None, input: str | None = None, no_input: bool = False):
        super().__init__(message)
        self.message, self.hint, self.input, self.no_input = message, hint, input, no_input
        self.smallest = False  # the input is the smallest that hypothesis found failing


class Check(NamedTuple):
    """One line of a judgement: its ``kind`` (one of :data:`KINDS`), ``label`` and ``run(fn)``."""

    kind: str
    label: str
    run: Callable


class Mistake(NamedTuple):
    """A known wrong version (``fn``, same arguments as the oracle) and what to tell its author."""

    fn: Callable
    message: str
    hint: str | None = None


def expect(condition, message: str, hint: str | None = None, input: str | None = None) -> None:
    """Raise :class:`Failure` unless ``condition`` holds."""
    if not bool(condition):
        raise Failure(message, hint, input)


# --- inputs --------------------------------------------------------------------------------------


def _describe(value) -> str:
    if isinstance(value, torch.Tensor):
        dtype = str(value.dtype).replace("torch.", "")
        if value.numel() <= SHOW_VALUES:
            values = value.detach().to(torch.float64) if value.is_floating_point() else value
            rounded = values.tolist() if not value.is_floating_point() else _round(values.tolist())
            return f"{rounded} ({dtype})"
        return f"of shape {tuple(value.shape)} ({dtype})"
    if isinstance(value, (list, tuple)) and value and all(isinstance(v, torch.Tensor) for v in value):
        inner = ", ".join(_describe(v) for v in value)
        return f"({inner})" if isinstance(value, tuple) else f"[{inner}]"
    if isinstance(value, torch.dtype):
        return str(value)
    return repr(value)


def _round(values):
    if isinstance(values, list):
        return [_round(v) for v in values]
    return float(f"{values:.4g}") if math.isfinite(values) else values


def _clone(value, leaf: bool):
    if isinstance(value, torch.Tensor):
        out = value.detach().clone()
        return out.requires_grad_(True) if leaf and out.is_floating_point() else out
    if isinstance(value, (tuple, list)) and any(isinstance(v, torch.Tensor) for v in value):
        return type(value)(_clone(v, leaf) for v in value)
    return copy.deepcopy(value)


def flat(values) -> list:
    """The tensors in ``values`` (a list of tensors or tuples of tensors), flattened."""
    out = []
    for v in values:
        out.extend(flat(v) if isinstance(v, (tuple, list)) else [v])
    return out


class Case:
    """The arguments of one call, by name (the judge calls with keywords)."""

    def __init__(self, **args):
        self.args = args

    def fresh(self, grad=()) -> dict:
        """A copy of the arguments: tensors cloned (also inside tuples and lists), those named in
        ``grad`` as leaves requiring grad."""
        return {name: _clone(value, name in grad) for name, value in self.args.items()}

    def describe(self) -> str:
        parts = []
        for name, value in self.args.items():
            text = _describe(value)
            parts.append(f"{name} {text}" if text.startswith("of shape") else f"{name}={text}")
        return ", ".join(parts).replace("=[", " = [").replace("=(", " = (")

    def __repr__(self) -> str:
        return f"Case({self.describe()})"


def seeded(shape, seed: int, dtype=F64, scale: float = 1.0, low=None, high=None) -> torch.Tensor:
    """Standard normal values (times ``scale``), or uniform in ``[low, high)``, from ``seed``."""
    g = torch.Generator().manual_seed(seed)
    if low is not None:
        return torch.rand(shape, generator=g, dtype=F64).mul_(high - low).add_(low).to(dtype)
    return (torch.randn(shape, generator=g, dtype=F64) * scale).to(dtype)


seeds = st.integers(0, 2**31 - 1)
dtypes = st.sampled_from([F64, F32])


def shapes(min_dims=1, max_dims=3, min_side=1, max_side=5):
    """Tensor shapes: between ``min_dims`` and ``max_dims`` sides, each in ``[min_side, max_side]``."""
    return st.lists(st.integers(min_side, max_side), min_size=min_dims, max_size=max_dims).map(tuple)


# --- calling and comparing -----------------------------------------------------------------------


def _where(exc: BaseException, filename: str | None) -> str:
    frames = [f for f in traceback.extract_tb(exc.__traceback__) if filename and f.filename == filename]
    if not frames:
        return ""
    f = frames[-1]
    return f" (line {f.lineno}, in {f.name})"


def call(fn: Callable, args: dict):
    """``fn(**args)``; an exception inside it becomes a :class:`Failure` that says where it came from."""
    filename = getattr(getattr(fn, "__code__", None), "co_filename", None)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return fn(**args)
    except NotImplementedError as exc:
        raise Failure(
            f"{fn.__name__} is not written yet: it raises NotImplementedError{_where(exc, filename)}",
            "replace the `raise NotImplementedError` line with your implementation",
            no_input=True,
        ) from None
    except (TimeLimit, UserExit, KeyboardInterrupt):
        raise
    except SystemExit as exc:
        raise UserExit(f"called sys.exit({exc.code!r})") from None
    except Exception as exc:
        text = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
        raise Failure(f"raised {type(exc).__name__}: {text}{_where(exc, filename)}") from None


def oracle_call(fn: Callable, args: dict):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return fn(**args)


def _fmt(x: float) -> str:
    return f"{x:.6g}"


def compare(ours, ref, what: str = "the output", tol=None) -> str | None:
    """None if ``ours`` matches ``ref`` (tensors, numbers, tuples of them), else what differs, in words."""
    if isinstance(ref, (tuple, list)):
        if not isinstance(ours, (tuple, list)) or len(ours) != len(ref):
            got = f"a {type(ours).__name__}" + (f" of {len(ours)}" if isinstance(ours, (tuple, list)) else "")
            return f"{what} is {got}, expected a tuple of {len(ref)}"
        for i, (o, r) in enumerate(zip(ours, ref)):
            msg = compare(o, r, f"{what}[{i}]", tol)
            if msg:
                return msg
        return None
    if ref is None:
        return None if ours is None else f"{what} is {type(ours).__name__}, expected None"
    if not isinstance(ref, torch.Tensor):
        if isinstance(ours, torch.Tensor) and ours.numel() == 1:
            ours = ours.item()
        if not isinstance(ours, (int, float)) or isinstance(ours, bool) != isinstance(ref, bool):
            return f"{what} is {type(ours).__name__}, expected {type(ref).__name__} {ref!r}"
        ours, ref = torch.tensor(float(ours), dtype=F64), torch.tensor(float(ref), dtype=F64)
    if not isinstance(ours, torch.Tensor):
        return f"{what} is a {type(ours).__name__}, expected a tensor"
    if ours.shape != ref.shape:
        return f"{what} has shape {tuple(ours.shape)}, expected {tuple(ref.shape)}"
    if ours.dtype != ref.dtype:
        return f"{what} has dtype {ours.dtype}, expected {ref.dtype}"
    o, r = ours.detach(), ref.detach()
    if not r.is_floating_point():
        bad = o != r
    else:
        rtol, atol = tol or TOL.get(r.dtype, TOL[F32])
        both_nan = torch.isnan(o) & torch.isnan(r)
        same_inf = torch.isinf(r) & (o == r)
        close = (o - r).abs() <= atol + rtol * r.abs()
        bad = ~(close | both_nan | same_inf)
    if not bool(bad.any()):
        return None
    idx = tuple(int(i) for i in bad.nonzero()[0])
    got, exp = o[idx].item(), r[idx].item()
    where = f" at index {idx}" if o.dim() else ""
    text = f"{what} is wrong{where}: got {_fmt(got)}, expected {_fmt(exp)}"
    if r.is_floating_point():
        finite = bad & torch.isfinite(o) & torch.isfinite(r)
        if bool(finite.any()):
            err = (o - r).abs()[finite].max().item()
            text += f" (largest error {_fmt(err)})"
    return text


def _float_outputs(out) -> list:
    items = list(out) if isinstance(out, (tuple, list)) else [out]
    return [t for t in items if isinstance(t, torch.Tensor) and t.is_floating_point()]


def _names(wrt, args) -> list[str]:
    """A name per tensor of ``flat([args[w] for w in wrt])``: ``hx[0]`` for the parts of a tuple."""
    out = []
    for w in wrt:
        v = args[w]
        out.extend([f"{w}[{i}]" for i in range(len(flat([v])))] if isinstance(v, (tuple, list)) else [w])
    return out


def _backward(out, ups, inputs, ours: bool = True) -> list:
    """The gradients of the float outputs (weighted by ``ups``) with respect to ``inputs``; zeros where unused."""
    inputs = flat(inputs)
    pairs = [(o, u) for o, u in zip(_float_outputs(out), ups)]
    if ours and pairs and all(not o.requires_grad for o, _ in pairs):
        raise Failure(
            "the output does not depend on the inputs through autograd (no gradient flows)",
            "do not call .detach(), .item(), .numpy() or use torch.no_grad() on the way to the output",
        )
    pairs = [(o, u) for o, u in pairs if o.requires_grad]
    if not pairs:
        return [torch.zeros_like(x) for x in inputs]
    try:
        grads = torch.autograd.grad([o for o, _ in pairs], inputs, [u for _, u in pairs], allow_unused=True)
    except Exception as exc:
        if not ours:
            raise
        raise Failure(f"the backward pass raised {type(exc).__name__}: {str(exc).splitlines()[0]}") from None
    return [torch.zeros_like(x) if g is None else g for x, g in zip(inputs, grads)]


def _examples(n: int) -> int:
    return max(3, round(n * EXAMPLES))


def search(strategy, test: Callable, n: int):
    """Run ``test(case)`` on ``n`` cases drawn from ``strategy``; the smallest failing ``(case, Failure)``, or None.

    A time limit that strikes while hypothesis is shrinking a failure reports the smallest failure
    found so far.
    """
    found: list = []

    # a fixed seed, the same inputs on every run and machine: with ``derandomize`` instead, hypothesis
    # would derive one from the source of ``run`` (tokenising it) at every check
    @seed(SEED)
    @settings(_SETTINGS, max_examples=_examples(n))
    @given(strategy)
    def run(case):
        try:
            test(case)
        except Failure as failure:
            found.append((case, failure))
            raise

    # no example database (``database=None``): without this key hypothesis tokenises ``run`` again for one
    run._hypothesis_internal_database_key = None

    try:
        run()
    except TimeLimit:
        if found:
            return found[-1]
        raise
    except Exception:
        if found:
            return found[-1]
        raise
    return None


# --- suites --------------------------------------------------------------------------------------


class Suite:
    """The checks of one exercise, built by its ``suites`` function and run in :data:`KINDS` order."""

    def __init__(self, name: str, oracle: Callable | None = None, oracle_name: str = "PyTorch"):
        self.name, self.oracle, self.oracle_name = name, oracle, oracle_name
        self.checks: list[Check] = []

    def add(self, kind: str, label: str, run: Callable) -> None:
        self.checks.append(Check(kind, label, run))

    def ordered(self) -> list[Check]:
        return sorted(self.checks, key=lambda c: KINDS.index(c.kind))

    def searched(self, kind: str, label: str, cases, test: Callable, n: int, done: str, diagnose=None) -> None:
        """A check over ``n`` random cases: ``test(case, fn)`` raises :class:`Failure`; on the smallest failing
        case, ``diagnose(case, fn)`` may return a better failure (a known mistake's message)."""

        def run(fn):
            found = search(cases, lambda case: test(case, fn), n)
            if not found:
                return done.format(n=_examples(n))
            case, failure = found
            try:
                better = diagnose(case, fn) if diagnose else None
            except Failure:
                better = None
            failure = better or failure
            if failure.input is None and not failure.no_input:
                failure.input, failure.smallest = case.describe(), True
            raise failure

        self.add(kind, label, run)

    def forward(self, cases, mistakes=(), n: int = 30, tol=None, hint=None) -> None:
        """Values equal the oracle's on ``n`` random cases; a known mistake is named."""

        def test(case: Case, fn):
            out = call(fn, case.fresh())
            msg = compare(out, oracle_call(self.oracle, case.fresh()), tol=tol)
            if msg:
                raise Failure(msg, hint)

        def diagnose(case: Case, fn):
            out = call(fn, case.fresh())
            for m in mistakes:
                try:
                    wrong = oracle_call(m.fn, case.fresh())
                except Exception:
                    continue
                if compare(out, wrong, tol=tol) is None:
                    return Failure(m.message, m.hint or hint)
            return None

        self.searched(
            "forward", "values", cases, test, n, f"matches {self.oracle_name} on {{n}} random inputs", diagnose
        )

    def _gradients(self, fn, case: Case, wrt, user: bool = True, tol=None):
        """``(output, gradients, names)`` of ``fn`` on ``case`` for a fixed random upstream gradient."""
        args = case.fresh(wrt)
        out = call(fn, args) if user else oracle_call(fn, args)
        used = tuple(w for w in wrt if args[w] is not None)
        g = torch.Generator().manual_seed(1)
        ups = [torch.randn(t.shape, generator=g, dtype=F64).to(t.dtype) for t in _float_outputs(out)]
        return out, _backward(out, ups, [args[w] for w in used], ours=user), _names(used, args)

    def gradient(self, cases, wrt=("input",), mistakes=(), n: int = 15, tol=None, hint=None) -> None:
        """Gradients with respect to ``wrt`` equal the oracle's (the same random upstream gradient)."""

        def test(case: Case, fn):
            out, ours, names = self._gradients(fn, case, wrt, tol=tol)
            ref, refs, _ = self._gradients(self.oracle, case, wrt, user=False)
            msg = compare(out, ref, tol=tol)
            for name, o, r in zip(names, ours, refs):
                msg = msg or compare(o, r, f"the gradient with respect to {name}", tol=tol)
            if msg:
                raise Failure(msg, hint)

        def diagnose(case: Case, fn):
            _, ours, _ = self._gradients(fn, case, wrt)
            for m in mistakes:
                try:
                    _, wrong, _ = self._gradients(m.fn, case, wrt, user=False)
                except Exception:
                    continue
                if all(compare(a, b, tol=tol) is None for a, b in zip(ours, wrong)):
                    return Failure(m.message, m.hint or hint)
            return None

        self.searched(
            "gradient",
            "gradients",
            cases,
            test,
            n,
            f"gradients with respect to {', '.join(wrt)} match on {{n}} random inputs",
            diagnose,
        )

    def claim(self, label: str, fn: Callable) -> None:
        """A property of the concept: ``fn(user_fn)`` raises :class:`Failure` (via :func:`expect`) if it fails."""
        self.add("claim", label, fn)

    def edge(
        self, label: str, case: Callable[[], Case], message: str, hint: str | None = None, grad=(), tol=None
    ) -> None:
        """On this one input (``case()``), values (and the gradients in ``grad``) equal the oracle's."""

        def run(fn):
            c = case()
            args, ref_args = c.fresh(grad), c.fresh(grad)
            out = call(fn, args)
            ref = oracle_call(self.oracle, ref_args)
            msg = compare(out, ref, tol=tol)
            used = tuple(w for w in grad if args[w] is not None)
            if not msg and used:
                ups = [torch.ones_like(r) for r in _float_outputs(ref)]
                try:
                    ours = _backward(out, ups, [args[w] for w in used])
                except Failure as f:
                    raise Failure(f"{message}: {f.message}", hint, c.describe()) from None
                refs = _backward(ref, ups, [ref_args[w] for w in used], ours=False)
                for name, o, r in zip(_names(used, args), ours, refs):
                    msg = msg or compare(o, r, f"the gradient with respect to {name}", tol=tol)
            if msg:
                raise Failure(f"{message}: {msg}", hint, c.describe())

        self.add("edge case", label, run)

    def refuse(self, cases: list[tuple[str, Callable[[], Case]]], hint: str | None = None) -> None:
        """Each bad input (``(what is wrong, case)``) raises ValueError or TypeError."""

        def run(fn):
            filename = getattr(getattr(fn, "__code__", None), "co_filename", None)
            for what, make in cases:
                c = make()
                try:
                    with warnings.catch_warnings():
                        warnings.simplefilter("ignore")
                        out = fn(**c.fresh())
                except (ValueError, TypeError):
                    continue
                except (TimeLimit, UserExit, KeyboardInterrupt):
                    raise
                except SystemExit as exc:
                    raise UserExit(f"called sys.exit({exc.code!r})") from None
                except NotImplementedError:
                    raise Failure(f"{fn.__name__} is not written yet: it raises NotImplementedError") from None
                except Exception as exc:
                    raise Failure(
                        f"bad input ({what}) raised {type(exc).__name__}{_where(exc, filename)}, "
                        "not ValueError or TypeError",
                        hint
                        or "check the argument at the top of the function and raise ValueError (a bad "
                        "value) or TypeError (a bad type) with a message naming the argument",
                        c.describe(),
                    ) from None
                shown = "a value" if out is not None else "None"
                raise Failure(
                    f"bad input ({what}) returned {shown} instead of raising ValueError or TypeError",
                    hint
                    or "check the argument at the top of the function and raise ValueError (a bad value) "
                    "or TypeError (a bad type) with a message naming the argument",
                    c.describe(),
                )
            return f"{len(cases)} bad inputs raise ValueError or TypeError"

        self.add("bad input", "bad input", run)
