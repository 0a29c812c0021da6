"""The op-spec table: every chainrule op, its PyTorch counterpart, and sample inputs.

Read with ``harness.py`` (argument kinds: a shape tuple is a differentiable float
tensor; ``F``/``V``/``I``/``IV``/``B`` are described there). Other files may add
specs: any ``tests/ops/specs_*.py`` exporting ``SPECS`` is swept too.
"""
from __future__ import annotations

import math

import torch
import torch.nn.functional as TF

import chainrule as cr
from chainrule.ops import elementwise as E
from chainrule.ops import activations as ACT
from harness import (B, F, I, IV, L, POS, UNIT, V, C, S, away_from, both, distinct)

SPECS = []


def add(*specs):
    SPECS.extend(specs)


# shapes shared by many specs
UNARY = [C(()), C((3,)), C((2, 3)), C((1, 4)), C((0,)), C((2, 0, 3))]
BINARY = [C((2, 3), (2, 3)), C((2, 3), (3,)), C((2, 1), (1, 3)), C((), (2, 3)), C((3,), ()),
          C((0, 3), (1, 3)), C((2, 1, 3), (4, 1)), C((1,), (1,))]
NONZERO = away_from([0.0], 0.3, 2.0)  # magnitude in [0.3, 2]; sign random below
SIGNED_NONZERO = away_from([0.0], -2.0, 2.0, gap=0.3)
KINK0 = away_from([0.0])
NO_TIES = distinct()


def scalar_cases(dom_b=None):
    """Tensor with Python scalars on either side, integer and float scalars."""
    return [C((2, 3), 2.5, id="tensor-float"), C((2, 3), 3, id="tensor-int"),
            C((), -1.5, id="0d-float")]


# ------------------------------------------------------------ arithmetic --
add(
    S("add", both(lambda m, a, b: a + b), BINARY + scalar_cases()),
    S("radd", both(lambda m, a, b: b + a), scalar_cases()),
    S("add_alpha", both(lambda m, a, b: m.add(a, b, alpha=-2)), BINARY[:3]),
    S("sub", both(lambda m, a, b: a - b), BINARY + scalar_cases()),
    S("rsub", both(lambda m, a, b: b - a), scalar_cases()),
    S("mul", both(lambda m, a, b: a * b), BINARY + scalar_cases()),
    S("rmul", both(lambda m, a, b: b * a), scalar_cases()),
    S("div", both(lambda m, a, b: a / b),
      [C((2, 3), F((2, 3), domain=SIGNED_NONZERO)), C((2, 3), F((3,), domain=SIGNED_NONZERO)),
       C((), F((2, 3), domain=SIGNED_NONZERO)), C((0, 3), F((1, 3), domain=SIGNED_NONZERO)),
       C((2, 3), 2.5), C((2, 3), 3)]),
    S("rdiv", both(lambda m, a, b: b / a), [C((2, 3), 2.5), C((), -3)], domain=SIGNED_NONZERO),
    S("neg", both(lambda m, a: -a), UNARY),
    S("pos", both(lambda m, a: +a), [C((2, 3))]),
    S("abs", both(lambda m, a: m.abs(a)), UNARY + [C(V([-1.0, 0.0, 2.0]), id="at0", fd=False)],
      domain=KINK0),
    # // and % are piecewise: FD away from the jumps (random inputs are)
    S("floor_divide", (lambda a, b: a // b, lambda a, b: torch.div(a, b, rounding_mode="floor")),
      [C((2, 3), F((2, 3), domain=SIGNED_NONZERO)), C((2, 3), 0.7), C((3,), F((2, 1), domain=SIGNED_NONZERO))],
      smooth=False),
    S("rfloordiv", (lambda a, b: b // a, lambda a, b: torch.div(b, a, rounding_mode="floor")),
      [C((2, 3), 1.7)], domain=SIGNED_NONZERO, smooth=False),
    S("div_floor", both(lambda m, a, b: m.div(a, b, rounding_mode="floor")),
      [C((2, 3), F((2, 3), domain=SIGNED_NONZERO))], smooth=False),
    S("div_trunc", both(lambda m, a, b: m.div(a, b, rounding_mode="trunc")),
      [C((2, 3), F((2, 3), domain=SIGNED_NONZERO)), C((3,), -0.7)], smooth=False),
    S("remainder", both(lambda m, a, b: a % b),
      [C((2, 3), F((2, 3), domain=SIGNED_NONZERO)), C((2, 3), 0.7), C((2, 3), -0.7),
       C((), F((3,), domain=SIGNED_NONZERO))], smooth=False),
    # torch has no derivative for Scalar % Tensor: compare with a filled tensor instead
    S("rmod", (lambda a, b: b % a, lambda a, b: torch.remainder(torch.full_like(a, b), a)), [C((2, 3), 1.7)], domain=SIGNED_NONZERO, smooth=False),
    S("fmod", both(lambda m, a, b: m.fmod(a, b)),
      [C((2, 3), F((2, 3), domain=SIGNED_NONZERO)), C((2, 3), 0.7)], smooth=False),
    # integer arithmetic: forward values and dtypes (no grad)
    S("int_arith", both(lambda m, a, b: (a // b, a % b, m.div(a, b, rounding_mode="trunc"),
                                         m.fmod(a, b), a * b, a - b, a + b, a / b)),
      [C(I((2, 3), 10, -10), IV([[3, -3, 2], [-4, 5, 7]])), C(I((4,), 10, -10), 3),
       C(I((4,), 10, -10), -4)], grad=False),
    S("promotion", both(lambda m, a, b: (a + b, a * b, a - b, a / b, b / a)),
      [C(I((2, 3), 5, 1), 2.5, id="int-float"), C(I((2, 3), 5, 1), 2, id="int-int"),
       C(F((3,), "float32"), F((), "float64"), id="f32-0d-f64"),
       C(F((3,), "float32"), F((3,), "float64"), id="f32-f64"),
       C(I((3,), 5, 1), F((3,), "float32"), id="int-f32"),
       C(I((3,), 5, 1), F((), "float64"), id="int-0d-f64")], domain=POS),
    S("promotion_bool", both(lambda m, a, b: (a + b, a * b, b * a)),
      [C(I((3,), 5, 1), True), C(B((3,)), 2), C(B((3,)), 1.5), C(B((3,)), F((3,), grad=False))], grad=False),
)

# ------------------------------------------------------------------ pow --
add(
    S("pow_scalar", both(lambda m, a, p: a ** p),
      [C((2, 3), 2), C((2, 3), 3), C((2, 3), 0), C((2, 3), 1), C((2, 3), 0.5), C((2, 3), -1.5),
       C((), 2.5), C((0, 2), 2)], domain=POS),
    S("pow_scalar_negbase", both(lambda m, a, p: a ** p), [C((2, 3), 2), C((2, 3), 3), C((4,), -2)],
      domain=SIGNED_NONZERO),
    S("rpow", both(lambda m, a, p: p ** a), [C((2, 3), 2.0), C((3,), 0.5), C((), 3)]),
    S("pow_tensor", both(lambda m, a, b: m.pow(a, b)),
      [C((2, 3), (2, 3)), C((2, 3), (3,)), C((2, 1), ()), C((), (2, 2))], domain=POS),
    S("pow_int", both(lambda m, a, p: (a ** p, m.pow(a, a))),
      [C(I((2, 3), 5, 1), 2), C(I((2, 3), 5, 1), 0.5)], grad=False),
)

# ------------------------------------------------------------- unary math --
UNARY_MATH = [
    ("exp", (-2, 2)), ("log", POS), ("log1p", (-0.7, 2.0)), ("expm1", (-2, 2)), ("log2", POS),
    ("log10", POS), ("exp2", (-2, 2)), ("sqrt", POS), ("rsqrt", POS), ("sin", (-3, 3)),
    ("cos", (-3, 3)), ("tan", (-1.2, 1.2)), ("tanh", (-2, 2)), ("sigmoid", (-4, 4)),
    ("erf", (-2, 2)), ("erfinv", UNIT), ("reciprocal", SIGNED_NONZERO), ("square", (-2, 2)),
    ("asin", UNIT), ("acos", UNIT), ("atan", (-2, 2)), ("sinh", (-2, 2)), ("cosh", (-2, 2)),
]
for _name, _dom in UNARY_MATH:
    add(S(_name, both(lambda m, a, _n=_name: getattr(m, _n)(a)), UNARY, domain=_dom))
    add(S(f"{_name}_method", both(lambda m, a, _n=_name: getattr(a, _n)()), [C((2, 3))],
          domain=_dom))
add(
    S("unary_int_input", both(lambda m, a: (m.exp(a), m.sqrt(a), m.sin(a), m.sigmoid(a))),
      [C(I((2, 3), 5, 1))], grad=False),
    S("square_int", both(lambda m, a: m.square(a)), [C(I((2, 3), 5, -5))], grad=False),
)

# ------------------------------------------------------------ activations --
add(
    S("relu", both(lambda m, a: m.relu(a)), UNARY + [C(V([-1.0, 0.0, 2.0]), id="at0", fd=False)],
      domain=KINK0, smooth=False),
    S("leaky_relu", (lambda a, s=0.01: ACT.leaky_relu(a, s), lambda a, s=0.01: TF.leaky_relu(a, s)),
      UNARY + [C((2, 3), 0.2), C(V([-1.0, 0.0, 2.0]), 0.1, id="at0", fd=False)], domain=KINK0,
      smooth=False),
    S("elu", (lambda a, al=1.0: ACT.elu(a, al), lambda a, al=1.0: TF.elu(a, al)),
      UNARY + [C((2, 3), 0.5), C(V([-1.0, 0.0, 2.0]), 1.5, id="at0", fd=False)], domain=KINK0,
      smooth=False),
    S("gelu", (lambda a: ACT.gelu(a), lambda a: TF.gelu(a)), UNARY, domain=(-3, 3)),
    S("gelu_tanh", (lambda a: ACT.gelu(a, approximate="tanh"), lambda a: TF.gelu(a, approximate="tanh")),
      UNARY, domain=(-3, 3)),
    S("silu", (ACT.silu, TF.silu), UNARY, domain=(-4, 4)),
    S("softplus", (lambda a, **k: ACT.softplus(a, **k), lambda a, **k: TF.softplus(a, **k)),
      UNARY + [C((2, 3), kw=dict(beta=2.0)), C((2, 3), kw=dict(beta=0.5, threshold=1.0), fd=False,
                                                     second=False),
               C(V([-30.0, -1.0, 0.0, 25.0]), id="extremes")], domain=(-4, 4)),
    S("activation_methods", both(lambda m, a: (a.relu(), a.sigmoid(), a.tanh())), [C((2, 3))],
      domain=KINK0, smooth=False),
)

# --------------------------------------------------------- piecewise const --
for _name in ("sign", "floor", "ceil", "trunc", "round", "frac"):
    add(S(_name, both(lambda m, a, _n=_name: getattr(m, _n)(a)) if _name != "frac"
          else both(lambda m, a: m.frac(a)), UNARY, domain=(-3, 3), smooth=_name == "frac"))
add(
    S("round_half_even", both(lambda m, a: m.round(a)),
      [C(V([0.5, 1.5, 2.5, -0.5, -1.5, -2.5, 0.49, 3.51]), fd=False)]),
    S("round_decimals", both(lambda m, a: m.round(a, decimals=1)),
      [C((2, 3)), C(V([0.25, 0.35, -0.15, 1.05]), fd=False, id="halves")], domain=(-3, 3)),
    S("rounding_int", both(lambda m, a: (m.floor(a), m.ceil(a), m.round(a), m.trunc(a), m.sign(a))),
      [C(I((4,), 5, -5))], grad=False),
)

# ------------------------------------------------------------- clamp etc. --
CLAMP_DOM = away_from([-0.5, 0.5])
add(
    S("clamp", both(lambda m, a, lo, hi: m.clamp(a, lo, hi)),
      [C((2, 3), -0.5, 0.5), C((), -0.5, 0.5), C((0, 2), -0.5, 0.5), C((2, 3), None, 0.5),
       C((2, 3), -0.5, None), C(V([-1.0, -0.5, 0.0, 0.5, 1.0]), -0.5, 0.5, id="at-bounds", fd=False)],
      domain=CLAMP_DOM, smooth=False),
    S("clip", both(lambda m, a: m.clip(a, min=-0.5, max=0.5)), [C((2, 3))], domain=CLAMP_DOM,
      smooth=False),
    S("clamp_int", both(lambda m, a: (m.clamp(a, -2, 2), m.clamp(a, -1.5, 2.5))),
      [C(I((5,), 5, -5))], grad=False),
    S("clamp_tensor", both(lambda m, a, lo, hi: m.clamp(a, lo, hi)),
      [C((2, 3), F((2, 3), domain=(-1.5, -0.1)), F((3,), domain=(0.1, 1.5))),
       C((2, 3), F((3,), domain=(-1.5, -0.1)), None)], smooth=False),
)

# ------------------------------------------------------ maximum / minimum --
add(
    S("maximum", both(lambda m, a, b: m.maximum(a, b)), BINARY, smooth=False),
    S("minimum", both(lambda m, a, b: m.minimum(a, b)), BINARY, smooth=False),
    S("maximum_ties", both(lambda m, a, b: (m.maximum(a, b), m.minimum(a, b))),
      [C(V([1.0, 2.0, 3.0]), V([1.0, 0.0, 3.0]), fd=False)], smooth=False),
    S("max_binary", both(lambda m, a, b: (m.max(a, b), m.min(a, b))), [C((2, 3), (3,))],
      smooth=False),
)

# ------------------------------------------------------------ where, lerp --
add(
    S("where", both(lambda m, c, a, b: m.where(c, a, b)),
      [C(B((2, 3)), (2, 3), (2, 3)), C(B((2, 3)), (3,), ()), C(B((2, 1)), (1, 3), (2, 3)),
       C(B((0, 3)), (3,), (0, 3))]),
    S("where_scalar", both(lambda m, c, a, s: (m.where(c, a, s), m.where(c, s, a))),
      [C(B((2, 3)), (2, 3), 0.5), C(B((3,)), (2, 3), 2)]),
    S("lerp", both(lambda m, a, b, w: m.lerp(a, b, w)),
      [C((2, 3), (2, 3), 0.3), C((2, 3), (3,), (2, 3)), C((2, 1), (1, 3), ()), C((3,), (3,), (3,))]),
)

# ------------------------------------------------------------ comparisons --
for _name in ("eq", "ne", "lt", "le", "gt", "ge"):
    add(S(_name, both(lambda m, a, b, _n=_name: getattr(m, _n)(a, b)),
          [C((2, 3), (2, 3)), C((2, 3), (3,)), C((2, 3), 0.5), C(I((4,), 3), I((4,), 3)),
           C(V([1.0, 2.0, 3.0]), V([1.0, 3.0, 2.0]))], grad=False))
add(
    S("compare_ops", both(lambda m, a, b: (a == b, a != b, a < b, a <= b, a > b, a >= b)),
      [C(V([1.0, 2.0, 3.0]), 2.0), C(I((5,), 4), 2)], grad=False),
    S("logical", both(lambda m, a, b: (m.logical_and(a, b), m.logical_or(a, b),
                                       m.logical_xor(a, b), m.logical_not(a))),
      [C(B((2, 3)), B((2, 3))), C(I((2, 3), 3), B((3,))), C((2, 3), (2, 3))], grad=False),
    S("bitwise", both(lambda m, a, b: (a & b, a | b, a ^ b, ~a)),
      [C(B((2, 3)), B((2, 3))), C(I((2, 3), 8), I((3,), 8))], grad=False),
    S("isnan_isinf", both(lambda m, a: (m.isnan(a), m.isinf(a), m.isfinite(a))),
      [C(V([1.0, float("nan"), float("inf"), -float("inf"), 0.0]))], grad=False),
    S("bool_add_mul", both(lambda m, a, b: (a + b, a * b)), [C(B((2, 3)), B((2, 3)))], grad=False),
)

# ----------------------------------------------------------------- matmul --
add(
    S("matmul", both(lambda m, a, b: a @ b),
      [C((3,), (3,), id="1d-1d"), C((2, 3), (3,), id="2d-1d"), C((3,), (3, 4), id="1d-2d"),
       C((2, 3), (3, 4), id="2d-2d"), C((5, 2, 3), (3, 4), id="batch-2d"),
       C((3,), (2, 3, 4), id="1d-batch"), C((2, 1, 2, 3), (3, 3, 4), id="bcast-batch"),
       C((0, 3), (3, 2), id="empty-rows"), C((2, 0), (0, 3), id="empty-inner"),
       C((1, 2, 3), (2, 3, 1), id="size1")], tol32=dict(rtol=1e-4, atol=1e-5)),
    S("matmul_fn", both(lambda m, a, b: (m.matmul(a, b), m.mm(a, b), a.matmul(b))), [C((2, 3), (3, 2))]),
    S("bmm", both(lambda m, a, b: m.bmm(a, b)), [C((2, 2, 3), (2, 3, 4))]),
    S("mv_dot_outer", both(lambda m, a, v: (m.mv(a, v), m.dot(v, v), m.outer(v, v))), [C((2, 3), (3,))]),
)

# -------------------------------------------------------------- reductions --
RED = [C((2, 3, 4)), C((2, 3, 4), 1), C((2, 3, 4), -1, True), C((2, 3, 4), L((0, 2))),
       C((2, 3, 4), L((0, 2)), True), C((), None), C((), 0), C((1, 3), 0), C((0, 3), 0), C((0, 3), 1),
       C((0, 3)), C((2, 3), L((0, 1)), True)]


def _red(name, **options):
    def f(m, x, dim=None, keepdim=False):
        fn = getattr(m, name)
        return fn(x) if dim is None and not keepdim else fn(x, dim, keepdim)
    return both(f)


add(
    S("sum", _red("sum"), RED),
    S("sum_method", both(lambda m, x: (x.sum(), x.sum(dim=1), x.sum(-1, keepdim=True))), [C((2, 3))]),
    S("sum_int", both(lambda m, x: (m.sum(x), m.sum(x, 0), m.sum(x > 0))), [C(I((2, 3), 5, -5))],
      grad=False),
    S("mean", _red("mean"), [c for c in RED if not (c.args[0] == (0, 3))]),
    S("mean_empty", both(lambda m, x: (m.mean(x), m.mean(x, 0))), [C((0, 3), fd=False)]),
    S("prod", both(lambda m, x, *a: m.prod(x, *a)),
      [C((2, 3)), C((2, 3), 1), C((2, 3), 0, True), C((), 0), C((0, 3), 0), C((4,)),
       C(V([[1.0, 0.0, 2.0], [0.0, 0.0, 3.0], [1.5, 2.0, -1.0]]), 1, id="zeros"),
       C(V([[1.0, 0.0, 2.0], [0.5, 0.5, 3.0]]), id="zero-all")], domain=away_from([0.0], -1.5, 1.5, 0.2)),
    S("var", both(lambda m, x, *a, **k: m.var(x, *a, **k)),
      [C((2, 3, 4)), C((2, 3, 4), 1), C((2, 3, 4), L((0, 2)), kw=dict(keepdim=True)),
       C((2, 3, 4), 1, kw=dict(correction=0)), C((2, 3, 4), -1, kw=dict(correction=2)),
       C((5,), kw=dict(unbiased=False)), C((1, 3), 1)]),
    S("std", both(lambda m, x, *a, **k: m.std(x, *a, **k)),
      [C((2, 3, 4)), C((2, 3, 4), 1), C((2, 3, 4), L((0, 2)), kw=dict(keepdim=True)),
       C((2, 3, 4), 1, kw=dict(correction=0)), C((5,), kw=dict(unbiased=False))]),
    S("amax", _red("amax"), [c for c in RED if c.args[0] != (0, 3) and c.args[1:2] != (None,)]
      + [C((2, 3))], domain=NO_TIES, smooth=False),
    S("amin", _red("amin"), [c for c in RED if c.args[0] != (0, 3) and c.args[1:2] != (None,)]
      + [C((2, 3))], domain=NO_TIES, smooth=False),
    S("amax_ties", both(lambda m, x: (m.amax(x, 1), m.amin(x, 0), m.amax(x), m.max(x), m.min(x))),
      [C(V([[1.0, 3.0, 3.0], [2.0, 2.0, 0.0]]), fd=False), C(V([[2.0, 2.0, 2.0]]), fd=False)],
      smooth=False),
    S("max_all", both(lambda m, x: (m.max(x), m.min(x), x.max())), [C((2, 3)), C(())],
      domain=NO_TIES, smooth=False),
    S("max_dim", both(lambda m, x, d, k=False: tuple(m.max(x, d, k))),
      [C((2, 3), 1), C((2, 3), 0, True), C((2, 3, 4), -1), C((), 0), C((1, 3), 0)],
      domain=NO_TIES, smooth=False),
    S("min_dim", both(lambda m, x, d, k=False: tuple(m.min(x, d, k))),
      [C((2, 3), 1), C((2, 3), 0, True), C((2, 3, 4), -1), C((), 0)], domain=NO_TIES, smooth=False),
    S("max_dim_ties", both(lambda m, x: (*m.max(x, 1), *m.min(x, 0))),
      [C(V([[1.0, 3.0, 3.0], [2.0, 2.0, 0.0]]), fd=False)], smooth=False),
    S("argmax", both(lambda m, x, *a: (m.argmax(x, *a), m.argmin(x, *a))),
      [C((2, 3)), C((2, 3), 1), C((2, 3), 0, True), C(()), C(V([[1.0, 3.0, 3.0], [0.0, 0.0, -1.0]]), 1)],
      grad=False),
    S("logsumexp", both(lambda m, x, d, k=False: m.logsumexp(x, d, k)),
      [C((2, 3), 1), C((2, 3), 0, True), C((2, 3, 4), L((0, 2))), C((), 0), C((1, 3), 1),
       C(V([[1000.0, 1000.0], [-1000.0, 0.0]]), 1, id="large"), C((0, 3), 0, id="empty"),
       C((0, 3), 1, id="empty-other")]),
    S("norm", both(lambda m, x, *a, **k: m.norm(x, *a, **k)),
      [C((2, 3)), C((2, 3), 2, 1), C((2, 3), 1, 0, True), C((2, 3), float("inf"), 1),
       C((2, 3), 3), C((2, 3), 0.5, 1), C((2, 3), -float("inf"))],
      domain=away_from([0.0], -2.0, 2.0, 0.1), smooth=False),
    S("norm_smooth", both(lambda m, x, *a: m.norm(x, *a)), [C((2, 3)), C((2, 3), 2, 1), C((3,), 3)],
      domain=away_from([0.0], -2.0, 2.0, 0.1)),
    S("norm_zero", both(lambda m, x: (m.norm(x), m.norm(x, 1), m.norm(x, 3))),
      [C(V([0.0, 0.0, 0.0]), fd=False)], smooth=False),
    S("cumsum", both(lambda m, x, d: m.cumsum(x, d)),
      [C((2, 3), 1), C((2, 3), 0), C((4,), -1), C((), 0), C((0, 3), 1)]),
    S("cumprod", both(lambda m, x, d: m.cumprod(x, d)),
      [C((2, 3), 1), C((2, 3), 0), C((4,), -1), C(V([[1.0, 0.0, 2.0, 3.0], [0.0, 2.0, 0.0, 1.5]]), 1,
                                                  id="zeros")],
      domain=away_from([0.0], -1.5, 1.5, 0.2)),
    S("all_any", both(lambda m, x, *a: (m.all(x, *a), m.any(x, *a))),
      [C(B((2, 3))), C(B((2, 3)), 1), C(B((2, 3)), 0, True), C(I((2, 3), 2)), C((2, 3), 1),
       C(B((0, 3)), 0), C(B((0, 3)))], grad=False),
)

# ---------------------------------------------------------------- softmax --
add(
    S("softmax", both(lambda m, x, d: m.softmax(x, d)),
      [C((2, 3), 1), C((2, 3), 0), C((3,), 0), C((2, 3, 4), -1), C((0, 3), 1), C((), 0),
       C(V([[1000.0, 0.0, -1000.0]]), 1, id="large")]),
    S("log_softmax", both(lambda m, x, d: m.log_softmax(x, d)),
      [C((2, 3), 1), C((2, 3), 0), C((3,), 0), C((2, 3, 4), -1), C((0, 3), 1), C((), 0),
       C(V([[1000.0, 0.0, -1000.0]]), 1, id="large")]),
    S("softmax_method", both(lambda m, x: (x.softmax(-1), x.log_softmax(dim=0))), [C((2, 3))]),
)

# ------------------------------------------------------------------ shape --
add(
    S("reshape", both(lambda m, x, *s: x.reshape(*s)),
      [C((2, 3), 3, 2), C((2, 3), -1), C((2, 3), L((1, 6))), C((), 1), C((1,), L(())), C((0, 3), 3, 0),
       C((2, 3, 4), 4, -1)]),
    S("view", both(lambda m, x, *s: x.view(*s)), [C((2, 3), 6), C((2, 3), 3, -1)]),
    S("reshape_fn", both(lambda m, x: m.reshape(x, (3, 2))), [C((2, 3))]),
    S("flatten", both(lambda m, x, *a: m.flatten(x, *a)),
      [C((2, 3, 4)), C((2, 3, 4), 1), C((2, 3, 4), 0, 1), C(()), C((2, 0, 3), 1)]),
    S("unflatten", both(lambda m, x, d, s: m.unflatten(x, d, s)),
      [C((6, 2), 0, L((2, 3))), C((2, 6), -1, L((3, -1))), C((2, 0), 1, L((0, 4)))]),
    S("squeeze", both(lambda m, x, *d: m.squeeze(x, *d)),
      [C((1, 3, 1)), C((1, 3, 1), 0), C((1, 3, 1), -1), C((1, 3, 1), 1), C(()), C((1, 3, 1), L((0, 2)))]),
    S("unsqueeze", both(lambda m, x, d: m.unsqueeze(x, d)), [C((2, 3), 0), C((2, 3), -1), C((), 0),
                                                              C((2, 3), 1)]),
    S("permute", both(lambda m, x, *d: x.permute(*d)), [C((2, 3, 4), 2, 0, 1), C((2, 3, 4), L((1, 0, 2))),
                                                        C((2, 3), -1, 0), C((0, 3, 1), 2, 1, 0)]),
    S("transpose", both(lambda m, x, a, b: m.transpose(x, a, b)),
      [C((2, 3), 0, 1), C((2, 3, 4), -1, 0), C((3,), 0, 0)]),
    S("swapaxes", both(lambda m, x, a, b: m.swapaxes(x, a, b)), [C((2, 3, 4), 0, 2)]),
    S("t_T_mT", both(lambda m, x: (x.t(), x.T, x.mT)), [C((2, 3))]),
    S("movedim", both(lambda m, x, s, d: m.movedim(x, s, d)), [C((2, 3, 4), 0, -1), C((2, 3, 4), L((0, 1)), L((2, 0)))]),
    S("expand", both(lambda m, x, *s: x.expand(*s)),
      [C((3, 1), 3, 4), C((3, 1), -1, 4), C((3,), 2, 3), C((), 2, 2), C((1, 3), 0, 3)]),
    S("broadcast_to", both(lambda m, x, s: m.broadcast_to(x, s)),
      [C((3, 1), L((2, 3, 4))), C((), L((2,))), C((1,), L((3,)))]),
    S("broadcast_tensors", both(lambda m, a, b: tuple(m.broadcast_tensors(a, b))), [C((3, 1), (4,))]),
    S("repeat", both(lambda m, x, *r: x.repeat(*r)),
      [C((2, 3), 2, 1), C((2, 3), 1, 2, 2), C((3,), 0), C((), 3), C((2, 1), 1, 3)]),
    S("tile", both(lambda m, x, r: m.tile(x, r)), [C((2, 3), L((2,))), C((2, 3), L((2, 1, 2))), C((3,), L((2, 2)))]),
    S("repeat_interleave", both(lambda m, x, r, d=None: m.repeat_interleave(x, r, d)),
      [C((2, 3), 2, 1), C((2, 3), 3)]),
    S("cat", both(lambda m, a, b, c, d=0: m.cat([a, b, c], d)),
      [C((2, 3), (1, 3), (4, 3)), C((2, 3), (2, 1), (2, 2), 1), C((2, 3), (2, 0), (2, 2), -1),
       C((3,), (0,), (2,))]),
    S("cat_mixed", both(lambda m, a, b: m.cat([a, b])), [C(F((2,), "float32"), F((3,), "float64"))]),
    S("stack", both(lambda m, a, b, d=0: m.stack([a, b], d)),
      [C((2, 3), (2, 3)), C((2, 3), (2, 3), -1), C((), ()), C((0, 2), (0, 2), 1)]),
    S("split", both(lambda m, x, s, d=0: tuple(m.split(x, s, d))),
      [C((5, 2), 2), C((5, 2), [1, 4]), C((2, 6), 3, 1), C((2, 6), [2, 0, 4], -1), C((0, 2), 1)]),
    S("chunk", both(lambda m, x, c, d=0: tuple(m.chunk(x, c, d))),
      [C((5, 2), 2), C((6, 2), 3), C((2, 5), 3, 1), C((2, 3), 5, 1)]),
    S("unbind", both(lambda m, x, d=0: tuple(m.unbind(x, d))), [C((3, 2)), C((2, 3), 1), C((2, 3), -1)]),
    S("narrow_select", both(lambda m, x: (m.narrow(x, 1, 1, 2), m.select(x, 0, -1), x.narrow(0, 0, 1))),
      [C((2, 3))]),
    S("flip", both(lambda m, x, d: m.flip(x, d)), [C((2, 3), L((0,))), C((2, 3), L((0, 1))), C((2, 3), [-1]),
                                                  C((0, 2), L((0,)))]),
    S("roll", both(lambda m, x, s, d=None: m.roll(x, s, d)),
      [C((2, 3), 1, 1), C((2, 3), -4, 0), C((2, 3), 2), C((2, 3), L((1, 2)), L((0, 1))), C((3,), 5, 0)]),
    S("pad", (lambda x, p, v=0.0: cr.ops.shape.pad(x, p, value=v), lambda x, p, v=0.0: TF.pad(x, p, value=v)),
      [C((2, 3), L((1, 2))), C((2, 3), L((1, 0, 0, 2)), 1.5), C((2, 3), L((-1, 1))),
       C((2, 3, 4), L((0, 1, 2, 0, 1, 1))), C((2, 3), L((0, 0))), C((0, 3), L((1, 1)))]),
    S("contiguous", both(lambda m, x: x.transpose(0, 1).contiguous() * 1.0), [C((2, 3))]),
    S("clone", both(lambda m, x: m.clone(x)), [C((2, 3)), C(())]),
    S("cast", both(lambda m, x: (x.double() * 2, x.to(m.float64).sum())), [C((2, 3))]),
    # a float32 result: finite differences would see float32 rounding, torch is the oracle
    S("cast_down", both(lambda m, x: x.float() * 2), [C((2, 3), fd=False)]),
    S("cast_int", both(lambda m, x: (x.long(), x.int(), x.bool())), [C((2, 3))], grad=False),
    S("sum_to_size", both(lambda m, x: x.sum_to_size(1, 3)), [C((2, 3)), C((4, 2, 3))]),
)

# --------------------------------------------------------------- indexing --
add(
    S("getitem_basic", both(lambda m, x: (x[1], x[-1, 1:3], x[None, ..., ::2], x[:, None, 1],
                                          x[..., -1], x[1:1], x[0, 0])),
      [C((3, 4))]),
    S("getitem_3d", both(lambda m, x: (x[1, :, 0], x[..., 1:], x[::2, 1:, None], x[:, -1])), [C((3, 2, 4))]),
    S("getitem_int_tensor", both(lambda m, x, i: x[i]), [C((4, 3), I((6,), 4)), C((4, 3), I((2, 3), 4)),
                                                         C((4,), IV([0, 0, 3, 0])), C((4, 3), IV([], ))]),
    S("getitem_int_tensor_pairs", both(lambda m, x, i, j: (x[i, j], x[i, 1:], x[1:, j], x[..., j])),
      [C((4, 3), I((5,), 3), I((5,), 3))]),
    S("getitem_bool", both(lambda m, x, b: x[b]), [C((2, 3), B((2, 3))), C((2, 3), B((2,))), C((3,), B((3,)))]),
    S("getitem_list", both(lambda m, x: (x[[0, 2, 2]], x[[0, 1], [1, 2]])), [C((3, 4))]),
    S("gather", both(lambda m, x, d, i: m.gather(x, d, i)),
      [C((3, 4), 1, I((3, 5), 4)), C((3, 4), 0, I((2, 4), 3)), C((3, 4), -1, I((2, 2), 4)),
       C((3,), 0, I((6,), 3)), C((3, 4), 1, I((3, 0), 4))]),
    S("scatter", both(lambda m, x, d, i, s: m.scatter(x, d, i, s)),
      [C((3, 4), 0, IV([[2, 0, 1, 2], [0, 2, 2, 0]]), (2, 4)),
       C((3, 4), 1, IV([[3, 1], [0, 2], [1, 0]]), (3, 2)),
       # src larger than index: torch's backward rejects it, so finite differences only
       C((3, 4), 1, IV([[3], [0]]), (2, 5), torch=False)]),
    S("scatter_value", both(lambda m, x, i: m.scatter(x, 1, i, 2.5)), [C((3, 4), IV([[3, 1], [0, 2], [1, 0]]))]),
    S("scatter_add", both(lambda m, x, d, i, s: m.scatter_add(x, d, i, s)),
      [C((3, 4), 0, I((5, 4), 3), (5, 4)), C((3, 4), 1, I((3, 6), 4), (3, 6)),
       C((3, 4), 1, I((2, 3), 4), (3, 5), torch=False), C((3,), 0, IV([1, 1, 1]), (3,))]),
    S("index_select", both(lambda m, x, d, i: m.index_select(x, d, i)),
      [C((3, 4), 0, IV([2, 0, 2])), C((3, 4), 1, IV([3, 3])), C((3, 4), -1, IV([], )),
       C((3,), 0, IV([1, 1, 0, 2]))]),
    S("masked_fill", both(lambda m, x, b, v: m.masked_fill(x, b, v)),
      [C((2, 3), B((2, 3)), 0.5), C((2, 3), B((3,)), -1.0), C((2, 3), B((2, 1)), 2)]),
    S("masked_fill_tensor_value", both(lambda m, x, b, v: x.masked_fill(b, v)),
      [C((2, 3), B((2, 3)), ())]),
    S("take_along_dim", both(lambda m, x, i, d=None: m.take_along_dim(x, i, d)),
      [C((3, 4), I((3, 2), 4), 1), C((3, 4), I((5, 4), 3), 0), C((3, 4), I((1, 2), 4), 1),
       C((3, 4), I((5,), 12)), C((3, 1), I((3, 2), 1), 1)]),
    S("nonzero", both(lambda m, x: (m.nonzero(x), *m.nonzero(x, as_tuple=True))),
      [C(B((3, 4))), C(I((5,), 3)), C(V([[0.0, 1.5], [2.0, 0.0]]))], grad=False),
    S("nonzero_0d", both(lambda m, x: m.nonzero(x)), [C(V(1.0)), C(V(0.0))], grad=False),
    S("index_put", both(lambda m, x, v, i: x.index_put((i,), v)),
      [C((4, 3), (2, 3), IV([3, 1])), C((4, 3), (3,), IV([0, 2]))]),
    S("index_put_accumulate", both(lambda m, x, v, i: x.index_put((i,), v, accumulate=True)),
      [C((4, 3), (3, 3), IV([3, 1, 3])), C((4,), (), IV([0, 0, 2]))]),
)

# ------------------------------------------------------------ edge cases --
NEG_INF = float("-inf")
add(
    S("softmax_masked", both(lambda m, x, d: (m.softmax(x, d), m.log_softmax(x, d))),
      [C(V([[0.0, NEG_INF, 1.0], [NEG_INF, 2.0, 2.0]]), 1, fd=False)], smooth=False),
    S("round_neg_decimals", both(lambda m, a: m.round(a, decimals=-1)),
      [C(V([14.0, 15.0, 25.0, -35.0, 123.4]), fd=False)]),
    S("clamp_min_gt_max", both(lambda m, a: m.clamp(a, 1.0, -1.0)), [C((2, 3), fd=False)], smooth=False),
    S("reduce_dtype", both(lambda m, x: (m.sum(x, dtype=m.float64), m.mean(x, 0, dtype=m.float64),
                                        m.sum(x, 1, True, dtype=m.float64))),
      [C(F((2, 3), "float32"))]),
    S("reduce_dim_list", both(lambda m, x: (m.sum(x, [0, 1]), m.mean(x, [-1]), m.sum(x, []))),
      [C((2, 3))]),
    S("var_std_all_keepdim", both(lambda m, x: (m.var(x, None, keepdim=True), m.std(x, None, keepdim=True),
                                               m.var(x, correction=0))), [C((2, 3))]),
    S("argmax_keepdim_all", both(lambda m, x: (m.argmax(x, keepdim=True), m.argmin(x, None, True))),
      [C((2, 3))], grad=False),
    S("getitem_negative_index", both(lambda m, x, i: (x[i], x[:, i])), [C((4, 4), IV([-1, 0, -4, -1]))]),
    S("getitem_bool_list", both(lambda m, x: x[[True, False, True]]), [C((3, 2))]),
    S("index_select_0d", both(lambda m, x, i: m.index_select(x, 0, i)), [C((3, 2), IV(1))]),
    S("matmul_int", both(lambda m, a, b: a @ b), [C(I((2, 3), 4), I((3, 2), 4))], grad=False),
    S("cumsum_bool", both(lambda m, x: (m.cumsum(x, 0), m.sum(x, 0))), [C(B((4, 2)))], grad=False),
    S("where_int_scalar", both(lambda m, c, a: (m.where(c, a, 2.5), m.where(c, a, 2))),
      [C(B((3,)), I((3,), 5))], grad=False),
    S("pow_int_negative", both(lambda m, a: (a ** 2, 2 ** a, a ** 0.5)), [C(I((3,), 4, 1))], grad=False),
)

# special points: zeros and infinities in values and gradients follow PyTorch
add(
    S("special_points", both(lambda m, x: (m.sqrt(x), m.log(x), x ** 0.5, x ** 2, x ** 0, m.rsqrt(x),
                                           m.reciprocal(x), m.abs(x), m.sign(x))),
      [C(V([0.0, 1.0, 4.0]), fd=False)], smooth=False),
    S("pow_tensor_zero_base", both(lambda m, a, b: m.pow(a, b)),
      [C(V([0.0, 0.0, 0.0, 2.0]), V([2.0, 0.0, 0.5, 0.0]), fd=False)], smooth=False),
    S("nan_propagation", both(lambda m, a, b: (m.maximum(a, b), m.minimum(a, b), m.clamp(a, -1.0, 1.0),
                                               m.relu(a), a.sum(), a.amax())),
      [C(V([float("nan"), 1.0, -2.0]), V([0.0, float("nan"), 3.0]), fd=False)], smooth=False),
)

# 0-d inputs with dim 0 (PyTorch accepts dim 0 / -1 for a 0-d tensor)
add(
    S("zero_dim_ops", both(lambda m, x: (m.cumprod(x, 0), m.cumsum(x, 0), m.flip(x, (0,)),
                                         m.softmax(x, 0), m.logsumexp(x, 0), m.amax(x, 0),
                                         m.argmax(x, 0, True), m.mean(x, 0, True), m.prod(x, 0, True),
                                         *m.max(x, 0, True), m.gather(x, 0, m.tensor(0)),
                                         m.take_along_dim(x, m.tensor(0)), x[None], x[...], x[True],
                                         x.squeeze(0), x.unsqueeze(-1), m.sum(x, -1))),
      [C(())]),
)
