"""Property tests (hypothesis): random broadcastable shapes for the binary ops, random
dtype pairs for type promotion, and random chains of 3–8 ops, each compared with
PyTorch (values and gradients). Derandomized, so CI sees the same examples."""
from __future__ import annotations

import numpy as np
import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import mutually_broadcastable_shapes

import chainrule as cr

SETTINGS = dict(deadline=None, derandomize=True, suppress_health_check=[HealthCheck.too_slow])
F64 = dict(rtol=1e-7, atol=1e-9)


def _pair(a: np.ndarray, requires_grad: bool = True):
    return (cr.tensor(a.copy(), requires_grad=requires_grad),
            torch.tensor(a.copy(), requires_grad=requires_grad))


def _grads_match(out, tout, xs, ts, rng):
    w = rng.standard_normal(tuple(tout.shape))
    gs = cr.autograd.grad(out, xs, cr.tensor(w.copy()), allow_unused=True)
    tgs = torch.autograd.grad(tout, ts, torch.tensor(w.copy()), allow_unused=True)
    for k, (g, tg) in enumerate(zip(gs, tgs)):
        ref = np.zeros(tuple(ts[k].shape)) if tg is None else tg.numpy()
        ours = np.zeros(ref.shape) if g is None else g.numpy()
        assert ours.shape == ref.shape, f"gradient {k}: shape {ours.shape} != torch {ref.shape}"
        np.testing.assert_allclose(ours, ref, **F64, err_msg=f"gradient of input {k}")


# ------------------------------------------------------- binary broadcasting --
BINARY = {
    "add": lambda m, a, b: a + b,
    "sub": lambda m, a, b: a - b,
    "mul": lambda m, a, b: a * b,
    "div": lambda m, a, b: a / (b * b + 0.5),
    "pow": lambda m, a, b: (a * a + 0.5) ** b,
    "maximum": lambda m, a, b: m.maximum(a, b),
    "minimum": lambda m, a, b: m.minimum(a, b),
    "lerp": lambda m, a, b: m.lerp(a, b, 0.3),
    "where": lambda m, a, b: m.where(a > b, a, b * 2),
    "atan_mix": lambda m, a, b: m.atan(a) * m.sigmoid(b),
}


@settings(max_examples=120, **SETTINGS)
@given(shapes=mutually_broadcastable_shapes(num_shapes=2, min_dims=0, max_dims=4, min_side=0,
                                            max_side=3),
       op=st.sampled_from(sorted(BINARY)), seed=st.integers(0, 2**31 - 1))
def test_binary_broadcasting_matches_torch(shapes, op, seed):
    rng = np.random.default_rng(seed)
    sa, sb = shapes.input_shapes
    a, ta = _pair(rng.uniform(-2, 2, sa))
    b, tb = _pair(rng.uniform(-2, 2, sb))
    out, tout = BINARY[op](cr, a, b), BINARY[op](torch, ta, tb)
    assert tuple(out.shape) == tuple(tout.shape) == shapes.result_shape
    np.testing.assert_allclose(out.detach().numpy(), tout.detach().numpy(), **F64)
    _grads_match(out, tout, [a, b], [ta, tb], rng)


# ------------------------------------------------------------ type promotion --
DTYPES = ["float32", "float64", "int64", "int32", "bool"]
OPERAND = st.one_of(
    st.tuples(st.just("tensor"), st.sampled_from(DTYPES), st.sampled_from([(), (3,), (2, 3)])),
    st.tuples(st.just("scalar"), st.sampled_from(["int", "float", "bool"]), st.just(None)),
)
PROMOTING = {
    "add": lambda a, b: a + b, "mul": lambda a, b: a * b, "truediv": lambda a, b: a / b,
    "maximum": None, "eq": lambda a, b: a == b, "lt": lambda a, b: a < b,
    "sub": lambda a, b: a - b, "floordiv": lambda a, b: a // b, "mod": lambda a, b: a % b,
    "pow": lambda a, b: a ** b, "where": None,
}


def _operand(kind, dtype, shape, rng):
    if kind == "scalar":
        return {"int": 3, "float": 1.5, "bool": True}[dtype], None
    values = rng.integers(1, 5, shape) if dtype != "bool" else rng.random(shape) < 0.5
    arr = np.asarray(values).astype(dtype)
    return cr.tensor(arr.copy()), torch.tensor(arr.copy())


@settings(max_examples=200, **SETTINGS)
@given(x=OPERAND, y=OPERAND, op=st.sampled_from(sorted(PROMOTING)), seed=st.integers(0, 2**16))
def test_type_promotion_matches_torch(x, y, op, seed):
    if x[0] == "scalar" and y[0] == "scalar":
        return
    rng = np.random.default_rng(seed)
    a, ta = _operand(*x, rng)
    b, tb = _operand(*y, rng)
    ta = a if ta is None else ta
    tb = b if tb is None else tb
    if op in ("maximum", "where"):
        if op == "maximum" and (x[0] == "scalar" or y[0] == "scalar"):
            return  # torch.maximum takes tensors only
        f = (lambda m: lambda p, q: m.maximum(p, q)) if op == "maximum" else \
            (lambda m: lambda p, q: m.where(m.tensor([True, False, True]), p, q))  # noqa: E731
        ours, theirs = f(cr), f(torch)
    else:
        ours = theirs = PROMOTING[op]
    try:
        expected = theirs(ta, tb)
    except RuntimeError:  # torch refuses (bool subtraction …): chainrule must refuse too
        with pytest.raises(Exception):
            ours(a, b)
        return
    got = ours(a, b)
    assert str(got.dtype).split(".")[-1] == str(expected.dtype).split(".")[-1], \
        f"{x} {op} {y}: dtype {got.dtype} != torch {expected.dtype}"
    np.testing.assert_allclose(got.numpy().astype("float64"), expected.numpy().astype("float64"),
                               rtol=1e-6)


# ------------------------------------------------------- random compositions --
def _const(rng, shape):
    """A constant broadcastable to ``shape`` (sometimes with fewer dims or size-1 dims)."""
    shape = list(shape)
    if shape and rng.random() < 0.5:
        shape = shape[int(rng.integers(0, len(shape) + 1)):]
    shape = [1 if rng.random() < 0.3 else s for s in shape]
    return rng.uniform(-1.5, 1.5, tuple(shape))


def _steps():
    """Ops of a chain: (name, applicable(shape), make(rng, shape) -> f(m, x))."""
    def c(arr):  # one constant in both libraries
        return lambda m: (cr.tensor(arr.copy()) if m is cr else torch.tensor(arr.copy()))

    always = lambda s: True  # noqa: E731
    nd = lambda k: (lambda s: len(s) >= k)  # noqa: E731
    last_gt1 = lambda s: len(s) >= 1 and s[-1] > 1  # noqa: E731
    return [
        ("sin", always, lambda r, s: lambda m, x: m.sin(x)),
        ("tanh", always, lambda r, s: lambda m, x: m.tanh(x) * 2),
        ("sigmoid", always, lambda r, s: lambda m, x: m.sigmoid(x)),
        ("exp_tanh", always, lambda r, s: lambda m, x: m.exp(m.tanh(x))),
        ("log_sq", always, lambda r, s: lambda m, x: m.log(x * x + 1)),
        ("sqrt_sq", always, lambda r, s: lambda m, x: m.sqrt(x * x + 0.5)),
        ("rsqrt_sq", always, lambda r, s: lambda m, x: m.rsqrt(x * x + 0.5)),
        ("pow", always, lambda r, s: lambda m, x: (x * x + 1) ** 1.5 - 1),
        ("square", always, lambda r, s: lambda m, x: m.square(x) * 0.5),
        ("erf", always, lambda r, s: lambda m, x: m.erf(x)),
        ("div", always, lambda r, s: lambda m, x: x / (x * x + 1)),
        ("recip", always, lambda r, s: lambda m, x: m.reciprocal(x * x + 1)),
        ("abs", always, lambda r, s: lambda m, x: m.abs(x) + x),
        ("relu", always, lambda r, s: lambda m, x: m.relu(x) - 0.5 * x),
        ("clamp", always, lambda r, s: lambda m, x: m.clamp(x, -1.0, 1.0) + 0.1 * x),
        ("where", always, lambda r, s: lambda m, x: m.where(x > 0, x, 0.1 * x)),
        ("add_const", always, lambda r, s: (lambda k: lambda m, x: x + k(m))(c(_const(r, s)))),
        ("mul_const", always, lambda r, s: (lambda k: lambda m, x: x * k(m))(c(_const(r, s)))),
        ("maximum_const", always, lambda r, s: (lambda k: lambda m, x: m.maximum(x, k(m)))(c(_const(r, s)))),
        ("scalar_ops", always, lambda r, s: lambda m, x: 1.5 - x * 0.5 + 2 / (x * x + 1)),
        ("softmax", nd(1), lambda r, s: lambda m, x: m.softmax(x, -1)),
        ("log_softmax", nd(1), lambda r, s: lambda m, x: m.log_softmax(x, 0) * 0.3),
        ("logsumexp", nd(1), lambda r, s: lambda m, x: m.logsumexp(x, -1, keepdim=True) - x),
        ("sum_keep", nd(1), lambda r, s: lambda m, x: x.sum(0, keepdim=True) * 0.5 + x),
        ("mean", nd(2), lambda r, s: lambda m, x: x.mean((0, -1), keepdim=True) - x),
        ("var", last_gt1, lambda r, s: lambda m, x: x.var(-1, keepdim=True) + x),
        ("std", last_gt1, lambda r, s: lambda m, x: x.std(-1, keepdim=True, correction=0) * x),
        ("prod", nd(1), lambda r, s: lambda m, x: m.prod(m.tanh(x) + 1.5, -1, keepdim=True) + x),
        ("amax", nd(1), lambda r, s: lambda m, x: m.amax(x, -1, keepdim=True) - x),
        ("max_dim", nd(1), lambda r, s: lambda m, x: m.max(x, 0, keepdim=True)[0] + x),
        ("norm", nd(1), lambda r, s: lambda m, x: m.norm(x, 2, -1, True) + x),
        ("cumsum", nd(1), lambda r, s: lambda m, x: m.cumsum(x, -1) * 0.5),
        ("transpose", nd(2), lambda r, s: lambda m, x: x.transpose(0, -1)),
        ("permute", lambda s: len(s) == 3, lambda r, s: lambda m, x: x.permute(2, 0, 1)),
        ("flip", nd(1), lambda r, s: lambda m, x: m.flip(x, (0,))),
        ("roll", nd(1), lambda r, s: lambda m, x: m.roll(x, 1, -1)),
        ("reshape", always, lambda r, s: (lambda shape: lambda m, x: x.reshape(-1).reshape(shape))(s)),
        ("unsqueeze", lambda s: len(s) < 4, lambda r, s: lambda m, x: x.unsqueeze(0)),
        ("squeeze", always, lambda r, s: lambda m, x: x.squeeze()),
        ("expand", lambda s: len(s) < 4, lambda r, s: lambda m, x: x.unsqueeze(0).expand(2, *s)),
        ("repeat", lambda s: len(s) < 4, lambda r, s: lambda m, x: x.repeat(*([1] * len(s)), 2)
         if s else x.repeat(2)),
        ("cat", nd(1), lambda r, s: lambda m, x: m.cat([x, m.sin(x)], -1)),
        ("stack_unbind", nd(1), lambda r, s: lambda m, x: m.stack(list(m.unbind(x, 0))[::-1], 0)),
        ("split", nd(1), lambda r, s: lambda m, x: m.split(x, 1, -1)[0] * x),
        ("slice", last_gt1, lambda r, s: lambda m, x: x[..., 1:] * x[..., :-1]),
        ("index", nd(1), lambda r, s: (lambda i: lambda m, x: x[(i(m),)])(
            c(r.integers(0, s[0], size=3)) if s and s[0] else c(np.zeros(0, dtype=np.int64)))),
        ("mask", always, lambda r, s: lambda m, x: m.masked_fill(x, x > 0.5, 0.5)),
        ("gather", nd(1), lambda r, s: (lambda i: lambda m, x: m.gather(x, -1, i(m)))(
            c(r.integers(0, max(s[-1], 1), size=s)) if s[-1] else c(np.zeros(s, dtype=np.int64)))),
        ("pad", nd(1), lambda r, s: lambda m, x: (cr.ops.shape.pad if m is cr else
                                                 torch.nn.functional.pad)(x, (1, 0), value=0.3)),
        ("matmul", nd(1), lambda r, s: (lambda w: lambda m, x: x @ w(m))(
            c(r.uniform(-1, 1, (s[-1], 3))))),
    ]


STEPS = _steps()
STEP_NAMES = [name for name, _, _ in STEPS]


@settings(max_examples=160, **SETTINGS)
@given(shape=st.lists(st.integers(1, 3), min_size=0, max_size=3).map(tuple),
       picks=st.lists(st.integers(0, 10**6), min_size=3, max_size=8),
       seed=st.integers(0, 2**31 - 1))
def test_random_op_chains_match_torch(shape, picks, seed):
    rng = np.random.default_rng(seed)
    x, tx = _pair(rng.uniform(-1.5, 1.5, shape))
    y, ty, s, names = x, tx, tuple(shape), []
    for pick in picks:
        usable = [st_ for st_ in STEPS if st_[1](s)]
        name, _, make = usable[pick % len(usable)]
        f = make(rng, s)
        y, ty = f(cr, y), f(torch, ty)
        names.append(name)
        s = tuple(ty.shape)
        assert tuple(y.shape) == s, f"after {names}: shape {tuple(y.shape)} != torch {s}"
        if y.numel() > 200:  # keep chains small
            break
    np.testing.assert_allclose(y.detach().numpy(), ty.detach().numpy(), **F64,
                               err_msg=f"values after {names}")
    _grads_match(y, ty, [x], [tx], rng)
