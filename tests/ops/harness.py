"""The op-sweep machinery: spec and argument types, input generation, and the checks.

A :class:`Spec` names a chainrule callable and its PyTorch counterpart (usually one
lambda ``lambda m, x: m.exp(x)`` run with ``m`` = chainrule and ``m`` = torch), and
a list of :class:`Case` s: the arguments. Arguments are described, not given:

* a tuple ``(2, 3)``                 a float tensor of that shape (differentiable),
  drawn from the spec's ``domain``, in the dtype under test;
* ``F(shape, dtype=..., grad=...)``   a float tensor with a fixed dtype or no grad;
* ``V(values)``                       a float tensor with exactly these values;
* ``I(shape, high)``                  an int64 tensor of indices in [0, high) (repeats!);
* ``IV(values)``                      an int64 tensor with these values;
* ``B(shape)``                        a random bool tensor;
* ``L(value)``                        a literal (a dim tuple, a size …);
* anything else (numbers, None …)     passed to both libraries as it is.
"""
from __future__ import annotations

import dataclasses
import importlib.util
import pathlib
import re
import zlib
from typing import Any, Callable

import numpy as np
import torch

import chainrule as cr


# ------------------------------------------------------------ argument kinds --
@dataclasses.dataclass(frozen=True)
class F:
    shape: tuple
    dtype: str | None = None   # None: the dtype under test
    grad: bool = True
    domain: Any = None         # None: the spec's


@dataclasses.dataclass(frozen=True)
class V:
    values: Any
    grad: bool = True
    dtype: str | None = None


@dataclasses.dataclass(frozen=True)
class I:  # noqa: E742 - short on purpose, it is used in tables
    shape: tuple
    high: int
    low: int = 0


@dataclasses.dataclass(frozen=True)
class IV:
    values: Any


@dataclasses.dataclass(frozen=True)
class B:
    shape: tuple


@dataclasses.dataclass(frozen=True)
class L:
    """A literal argument that would otherwise read as a shape (dim tuples, sizes …)."""
    value: Any


@dataclasses.dataclass
class Case:
    args: tuple
    kwargs: dict = dataclasses.field(default_factory=dict)
    id: str | None = None
    fd: bool = True        # finite differences make sense here (no ties, no kinks)
    torch: bool = True     # compare with PyTorch
    second: bool = True    # take part in the second-order check when the spec is smooth


def C(*args, kw: dict | None = None, id: str | None = None, fd: bool = True,
      torch: bool = True, second: bool = True) -> Case:
    return Case(tuple(args), dict(kw or {}), id, fd, torch, second)


@dataclasses.dataclass
class Spec:
    name: str
    fn: Callable                      # chainrule: fn(*args, **kwargs)
    tfn: Callable                     # torch: tfn(*args, **kwargs)
    cases: list
    grad: bool = True                 # differentiable at all
    smooth: bool = True               # run the second-order check
    domain: Any = (-2.0, 2.0)         # (lo, hi), or callable(rng, shape) -> float64 array
    dtypes: tuple = ("float32", "float64")
    tol32: dict | None = None         # float32 tolerance vs torch, when the default is too tight
    ops: tuple = ()                   # registry ops this spec is about (documentation)
    # why PyTorch cannot be the second-order oracle (it has no double backward for the op):
    # the comparison with its double backward is skipped, gradgradcheck still runs
    torch_second: str | None = None


def both(f: Callable) -> tuple[Callable, Callable]:
    """``f(m, *args)`` run as chainrule (m=cr) and as torch (m=torch)."""
    return (lambda *a, **k: f(cr, *a, **k)), (lambda *a, **k: f(torch, *a, **k))


def S(name: str, pair, cases, **options) -> Spec:
    fn, tfn = pair
    return Spec(name, fn, tfn, list(cases), **options)


# domains
def away_from(points, lo=-2.0, hi=2.0, gap=0.05):
    """Uniform on [lo, hi], pushed at least ``gap`` away from each of ``points`` (kinks)."""
    def draw(rng, shape):
        x = rng.uniform(lo, hi, size=shape)
        for p in points:
            close = np.abs(x - p) < gap
            x = np.where(close, p + np.where(x >= p, gap, -gap) * 2, x)
        return x
    return draw


def distinct(lo=-2.0, hi=2.0, gap=0.02):
    """Values with pairwise gaps (no ties for max/min/sort-like ops): a shuffled grid."""
    def draw(rng, shape):
        n = int(np.prod(shape, dtype=np.int64))
        grid = np.linspace(lo, hi, max(n, 2))[:n] + rng.uniform(0, gap / 4, size=n)
        return rng.permutation(grid).reshape(shape)
    return draw


POS = (0.3, 3.0)
UNIT = (-0.9, 0.9)


# ----------------------------------------------------------------- inputs --
def _seed(*parts) -> int:
    # (a domain function's repr holds its address, which changes from run to run: dropped,
    # or the inputs of every case with F(domain=...) would too)
    text = re.sub(r" at 0x[0-9a-fA-F]+", "", "/".join(str(p) for p in parts))
    return zlib.crc32(text.encode())


def make_inputs(spec: Spec, case: Case, dtype: str, seed_extra: str = ""):
    """Host arrays for every argument: list of (kind, array-or-value, differentiable)."""
    rng = np.random.default_rng(_seed(spec.name, case.id, case.args, seed_extra))
    out = []
    for a in case.args:
        if isinstance(a, tuple) and all(isinstance(s, int) for s in a):
            a = F(a)
        if isinstance(a, F):
            arr = _draw(rng, a.domain if a.domain is not None else spec.domain, a.shape)
            out.append(("t", arr.astype(a.dtype or dtype), a.grad))
        elif isinstance(a, V):
            out.append(("t", np.asarray(a.values, dtype=a.dtype or dtype), a.grad))
        elif isinstance(a, I):
            out.append(("t", rng.integers(a.low, a.high, size=a.shape).astype(np.int64), False))
        elif isinstance(a, IV):
            out.append(("t", np.asarray(a.values, dtype=np.int64), False))
        elif isinstance(a, B):
            out.append(("t", rng.random(a.shape) < 0.5, False))
        elif isinstance(a, L):
            out.append(("v", a.value, False))
        else:
            out.append(("v", a, False))
    return out


def _draw(rng, domain, shape):
    if callable(domain):
        return np.asarray(domain(rng, shape), dtype=np.float64)
    lo, hi = domain
    return rng.uniform(lo, hi, size=shape)


# where chainrule's tensors are made: None (the CPU), or "cuda" while a test runs the sweep on
# the device (the CPU stand-in without a GPU; see tests/ops/test_op_sweep_cuda.py)
DEVICE = None
# where PyTorch's tensors are made (None: the CPU; "cuda" when a GPU run compares with PyTorch CUDA)
TORCH_DEVICE = None


def crt(value: np.ndarray, requires_grad: bool = False):
    """A chainrule tensor of a host array, on :data:`DEVICE`."""
    return cr.tensor(value.copy(), requires_grad=requires_grad, device=DEVICE)


def to_cr(inputs, requires_grad=True):
    return [crt(v, requires_grad=requires_grad and g and v.dtype.kind == "f")
            if k == "t" else v for k, v, g in inputs]


def to_torch(inputs, requires_grad=True):
    return [torch.tensor(v.copy(), device=TORCH_DEVICE).requires_grad_(requires_grad and g and v.dtype.kind == "f")
            if k == "t" else v for k, v, g in inputs]


def as_list(out) -> list:
    if isinstance(out, (cr.Tensor, torch.Tensor)):
        return [out]
    return list(out)


def host(t) -> np.ndarray:
    if isinstance(t, torch.Tensor):  # (force: torch's double backward may give a ZeroTensor)
        return t.detach().numpy(force=t._is_zerotensor())
    return t.detach().cpu().numpy()


def dtype_name(t) -> str:
    return str(t.dtype).replace("torch.", "").replace("chainrule.", "")


TOL = {"float64": dict(rtol=1e-7, atol=1e-9), "float32": dict(rtol=1e-4, atol=1e-5)}


def tolerance(spec: Spec, dtype: str) -> dict:
    if dtype == "float32" and spec.tol32:
        return spec.tol32
    return TOL[dtype]


# ----------------------------------------------------------------- checks --
def check_against_torch(spec: Spec, case: Case, dtype: str) -> None:
    """Forward values, output dtypes and gradients (random cotangents) equal PyTorch's.

    The gradients come from a plain first-order walk, which runs the ops' rules on
    arrays (``defgrad``) where they have them: :func:`check_tensor_rules_against_torch`
    checks the Tensor rules."""
    inputs, xs, ts, out, tout = _run_both(spec, case, dtype)
    tol = tolerance(spec, dtype)
    for k, (o, t) in enumerate(zip(out, tout)):
        assert tuple(o.shape) == tuple(t.shape), f"output {k}: shape {tuple(o.shape)} != torch {tuple(t.shape)}"
        assert dtype_name(o) == dtype_name(t), f"output {k}: dtype {dtype_name(o)} != torch {dtype_name(t)}"
        a, b = host(o), host(t)
        if a.dtype.kind == "f":
            np.testing.assert_allclose(a, b, **tol, err_msg=f"output {k} value")
        else:
            np.testing.assert_array_equal(a, b, err_msg=f"output {k} value")
    if not spec.grad:
        return
    diff, pairs, gos = _differentiable(spec, case, inputs, out, tout)
    if not diff or not pairs:
        return
    grads = cr.autograd.grad([o for o, _ in pairs], [xs[i] for i in diff],
                             [crt(g) for g in gos], allow_unused=True)
    tgrads = torch.autograd.grad([t for _, t in pairs], [ts[i] for i in diff],
                                 [torch.tensor(g.copy(), device=TORCH_DEVICE) for g in gos], allow_unused=True)
    # the same gradients through backward() (the engine's plain walk, on arrays) on a fresh graph
    xs2 = to_cr(inputs, spec.grad)
    outs2 = [o for o in as_list(spec.fn(*xs2, **case.kwargs)) if o.requires_grad]
    cr.autograd.backward(outs2, [crt(g) for g in gos])
    refs = [_reference(tg, inputs[i][1]) for i, tg in zip(diff, tgrads)]
    _compare_grads(grads, refs, diff, tol, "gradient")
    for i, g, ref in zip(diff, grads, refs):
        if g is None:
            continue
        g2 = xs2[i].grad
        assert g2 is not None, f"input {i}: backward() left no .grad"
        assert dtype_name(g2) == str(ref.dtype), f"input {i}: backward() grad dtype {dtype_name(g2)}"
        np.testing.assert_allclose(host(g2), ref, **tol, err_msg=f"backward() gradient of input {i}")


def check_tensor_rules_against_torch(spec: Spec, case: Case, dtype: str) -> None:
    """First-order gradients through the ops' Tensor rules (``create_graph=True``, the
    path of every higher-order gradient) equal PyTorch's, with the tolerances of
    :func:`check_against_torch` (which sees the rules run on arrays instead)."""
    inputs, xs, ts, out, tout = _run_both(spec, case, dtype)
    diff, pairs, gos = _differentiable(spec, case, inputs, out, tout)
    if not diff or not pairs:
        return
    grads = cr.autograd.grad([o for o, _ in pairs], [xs[i] for i in diff],
                             [crt(g) for g in gos], create_graph=True,
                             allow_unused=True)
    tgrads = torch.autograd.grad([t for _, t in pairs], [ts[i] for i in diff],
                                 [torch.tensor(g.copy(), device=TORCH_DEVICE) for g in gos], allow_unused=True)
    refs = [_reference(tg, inputs[i][1]) for i, tg in zip(diff, tgrads)]
    _compare_grads(grads, refs, diff, tolerance(spec, dtype), "create_graph gradient")


def check_second_order_against_torch(spec: Spec, case: Case, dtype: str = "float64") -> None:
    """A double-backward vector product equals PyTorch's: the gradient of
    ``<first-order grads, v>`` (random ``v``) with respect to the inputs and to the
    cotangents (the first-order grads are linear in them, so a Tensor rule whose
    derivative in ``g`` is wrong shows there even for ops linear in their inputs)."""
    inputs, xs, ts, out, tout = _run_both(spec, case, dtype)
    diff, pairs, gos = _differentiable(spec, case, inputs, out, tout)
    if not diff or not pairs:
        return
    cr_gos = [crt(g, requires_grad=True) for g in gos]
    t_gos = [torch.tensor(g.copy(), requires_grad=True, device=TORCH_DEVICE) for g in gos]
    cr_wrt, t_wrt = [xs[i] for i in diff] + cr_gos, [ts[i] for i in diff] + t_gos
    grads = cr.autograd.grad([o for o, _ in pairs], cr_wrt[:len(diff)], cr_gos,
                             create_graph=True, allow_unused=True)
    tgrads = torch.autograd.grad([t for _, t in pairs], t_wrt[:len(diff)], t_gos,
                                 create_graph=True, allow_unused=True)
    rng = np.random.default_rng(_seed(spec.name, case.id, "second-order"))
    vs = [rng.standard_normal(inputs[i][1].shape).astype(inputs[i][1].dtype) for i in diff]
    tsecond = _vector_product_grad(torch, tgrads, vs, t_wrt)
    arrays = [inputs[i][1] for i in diff] + gos
    refs = [_reference(tg, a) for tg, a in zip(tsecond, arrays)]
    # the second step both ways: through the Tensor rules of the ops that the first step
    # recorded (a backward op's rule runs on Tensors only here), then the plain walk on arrays
    for create_graph in (True, False):
        second = _vector_product_grad(cr, grads, vs, cr_wrt, create_graph)
        what = f"second-order gradient{' (create_graph)' if create_graph else ''}"
        # an input of a fixed narrower dtype (float32 in a float64 case) is compared at its
        # own precision: its second-order terms are rounded to float32 in both libraries
        for k, (g, ref) in enumerate(zip(second, refs)):
            _compare_grads([g], [ref], [k], tolerance(spec, str(ref.dtype)),
                           f"{what} (inputs, then cotangents)")


def torch_second_order_applies(spec: Spec, case: Case) -> bool:
    """Whether :func:`check_second_order_against_torch` runs on this case: PyTorch's double
    backward is the oracle wherever both are defined, for ops that are not smooth too away
    from their kinks (cases fit for finite differences). At a kink the conventions differ
    (elu's second derivative at 0, PyTorch's nan for norm and pow at 0)."""
    return bool(spec.grad and not spec.torch_second and case.torch and case.second
                and (spec.smooth or case.fd))


def _vector_product_grad(m, grads, vs, wrt, create_graph: bool = False) -> list:
    """d<grads, vs>/d wrt in library ``m``; None where nothing depends on an input. The
    first-order graph is kept (``retain_graph``) for another call."""
    terms = [(g * (crt(v) if m is cr else m.tensor(v.copy(), device=TORCH_DEVICE))).sum() for g, v in zip(grads, vs)
             if g is not None and g.requires_grad]
    if not terms:
        return [None] * len(wrt)
    total = terms[0]
    for t in terms[1:]:
        total = total + t
    return list(m.autograd.grad(total, wrt, retain_graph=True, create_graph=create_graph,
                                allow_unused=True))


def _run_both(spec: Spec, case: Case, dtype: str):
    """Inputs, chainrule and torch arguments, and both libraries' outputs (same count)."""
    inputs = make_inputs(spec, case, dtype)
    xs, ts = to_cr(inputs, spec.grad), to_torch(inputs, spec.grad)
    out, tout = as_list(spec.fn(*xs, **case.kwargs)), as_list(spec.tfn(*ts, **case.kwargs))
    assert len(out) == len(tout), f"{len(out)} outputs, torch gives {len(tout)}"
    return inputs, xs, ts, out, tout


def _differentiable(spec: Spec, case: Case, inputs, out, tout):
    """Indices of differentiable inputs, (chainrule, torch) outputs that require grad,
    and one random cotangent (host array) per such output."""
    diff = [i for i, (k, v, g) in enumerate(inputs) if k == "t" and g and v.dtype.kind == "f"]
    pairs = [(o, t) for o, t in zip(out, tout) if t.requires_grad]
    assert len(pairs) == sum(o.requires_grad for o in out), \
        "outputs that require grad differ from torch's: " \
        f"{[o.requires_grad for o in out]} vs {[t.requires_grad for t in tout]}"
    rng = np.random.default_rng(_seed(spec.name, case.id, "cotangent"))
    gos = [rng.standard_normal(tuple(t.shape)).astype(host(t).dtype) for _, t in pairs]
    return diff, pairs, gos


def _reference(tg, like: np.ndarray) -> np.ndarray:
    """torch's gradient as an array; zeros where torch reports none (an unused input)."""
    return np.zeros(like.shape, like.dtype) if tg is None else host(tg)


def _compare_grads(grads, refs, labels, tol: dict, what: str) -> None:
    for label, g, ref in zip(labels, grads, refs):
        assert g is not None or not np.any(ref), f"input {label}: no {what}, torch gives {ref}"
        if g is None:
            continue
        assert tuple(g.shape) == ref.shape, f"input {label}: {what} shape {tuple(g.shape)} != {ref.shape}"
        assert dtype_name(g) == str(ref.dtype), f"input {label}: {what} dtype {dtype_name(g)} != {ref.dtype}"
        np.testing.assert_allclose(host(g), ref, **tol, err_msg=f"{what} of input {label}")


def _float64(inputs):
    """Finite differences need float64: fixed-dtype float arguments are widened too."""
    return [(k, v.astype("float64") if k == "t" and v.dtype.kind == "f" else v, g)
            for k, v, g in inputs]


def _fd_function(spec: Spec, case: Case, inputs):
    """A function of the differentiable inputs only (others fixed), and those inputs."""
    inputs = _float64(inputs)
    diff = [i for i, (k, v, g) in enumerate(inputs) if k == "t" and g and v.dtype.kind == "f"]
    fixed = to_cr(inputs, requires_grad=False)

    def f(*ts):
        args = list(fixed)
        for i, t in zip(diff, ts):
            args[i] = t
        return tuple(o for o in as_list(spec.fn(*args, **case.kwargs)))
    diff_inputs = tuple(crt(inputs[i][1], requires_grad=True) for i in diff)
    return f, diff_inputs


def _small(inputs, limit=40) -> bool:
    return sum(v.size for k, v, g in inputs if k == "t" and g) <= limit


def check_finite_differences(spec: Spec, case: Case) -> None:
    inputs = make_inputs(spec, case, "float64")
    f, diff_inputs = _fd_function(spec, case, inputs)
    if not diff_inputs:
        return
    assert cr.autograd.gradcheck(f, diff_inputs, fast_mode=not _small(inputs))


def check_second_order(spec: Spec, case: Case) -> None:
    inputs = make_inputs(spec, case, "float64")
    f, diff_inputs = _fd_function(spec, case, inputs)
    if not diff_inputs:
        return
    assert cr.autograd.gradgradcheck(f, diff_inputs, fast_mode=not _small(inputs, 12))


def run_for_coverage(spec: Spec, case: Case) -> None:
    """Forward, backward, and a backward of the backward (create_graph): what TRACE sees."""
    inputs = make_inputs(spec, case, "float64")
    xs = to_cr(inputs, spec.grad)
    out = [o for o in as_list(spec.fn(*xs, **case.kwargs)) if o.requires_grad]
    diff = [x for x in xs if isinstance(x, cr.Tensor) and x.requires_grad]
    if not out or not diff:
        return
    gos = [cr.ones_like(o).requires_grad_(True) for o in out]
    grads = cr.autograd.grad(out, diff, gos, create_graph=True, allow_unused=True)
    live = [g for g in grads if g is not None and g.requires_grad]
    if live and spec.smooth:
        cr.autograd.grad([g.sum() for g in live], diff + gos, allow_unused=True)


# ------------------------------------------------------------ spec tables --
def all_specs() -> list[Spec]:
    """SPECS of tests/ops/specs.py and of every tests/ops/specs_*.py (contributed tables)."""
    here = pathlib.Path(__file__).parent
    specs = []
    for path in [here / "specs.py", *sorted(here.glob("specs_*.py"))]:
        module_name = f"_chainrule_op_specs_{path.stem}"
        spec = importlib.util.spec_from_file_location(module_name, path)
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        specs.extend(module.SPECS)
    names = [s.name for s in specs]
    dupes = {n for n in names if names.count(n) > 1}
    assert not dupes, f"spec names used twice: {sorted(dupes)}"
    return specs


def case_id(spec: Spec, k: int, case: Case) -> str:
    return f"{spec.name}-{case.id or k}"
