"""bfloat16 arrays: the optional package ml_dtypes, and computing with it as PyTorch's CPU does.

NumPy has no bfloat16; ml_dtypes adds one (``pip install 'chainrule[bf16]'``). It is
loaded when the first bfloat16 tensor is made or cast, never at ``import chainrule``;
without it, that first use raises :class:`MissingExtraError`, which names the extra.

PyTorch's CPU kernels compute a bfloat16 op in float32 and round its result once (its
"opmath" type): a sum accumulates in float32, a matmul too. ml_dtypes' own loops round
after every step instead (their bfloat16 sum of 1000 ones is 256), so ops do not run on
bfloat16 arrays directly: :func:`forward` widens them to float32, runs the op and rounds
the result back; :func:`widen` does the same for the array-level backward rules. Both
are switched on (``ACTIVE``) once ml_dtypes is loaded, so programs that never make a
bfloat16 tensor pay one ``is None`` test per op.

>>> import chainrule as cr
>>> x = cr.ones(1000, dtype=cr.bfloat16)
>>> x.sum()
tensor(1000., dtype=chainrule.bfloat16)
"""
from __future__ import annotations

import numpy as np

EXTRA = "pip install 'chainrule[bf16]'"

# ml_dtypes' bfloat16 NumPy dtype once loaded (None until then); the op registry and the
# autograd engine read it to decide whether to widen
ACTIVE: "np.dtype | None" = None
_FLOAT32 = np.dtype(np.float32)


class MissingExtraError(ImportError):
    """A dtype needs an optional package that is not installed."""


def numpy_dtype(name: str) -> np.dtype:
    """ml_dtypes' NumPy dtype called ``name`` (loading ml_dtypes the first time)."""
    if ACTIVE is not None and name == "bfloat16":
        return ACTIVE
    try:
        import ml_dtypes
    except ImportError:
        raise MissingExtraError(
            f"chainrule.{name} tensors need the optional package ml_dtypes, which is not "
            f"installed: {EXTRA} (or pip install ml_dtypes)") from None
    dtype = np.dtype(getattr(ml_dtypes, name))
    if name == "bfloat16" and ACTIVE is None:
        _activate(dtype)
    return dtype


def _activate(dtype: np.dtype) -> None:
    global ACTIVE
    from .autograd import engine
    from .ops import registry
    ACTIVE = dtype
    registry.BF16_FORWARD, engine.BF16_WIDEN = forward, widen


def forward(op, xp, arrays: tuple, params: dict):
    """``op.forward`` as PyTorch computes bfloat16: inputs widened to float32, and a float32
    result rounded back to bfloat16 unless a wider float took part or ``dtype=`` chose it."""
    bf16 = ACTIVE
    # a tensor's array of NumPy kind "V" is a bfloat16 one (no other such dtype is a tensor's)
    for a in arrays:  # (a loop: cheaper than any() over a generator, on every op)
        if a.dtype.kind == "V":
            break
    else:
        return op.forward(xp, *arrays, **params)
    narrow = params.get("dtype") is None
    wide = []
    for a in arrays:
        if a.dtype.kind == "V":
            a = a.astype(_FLOAT32)
        elif a.dtype.kind == "f":  # bf16 with float32 (float16, float64) makes that type
            narrow = False
        wide.append(a)
    out = op.forward(xp, *wide, **params)
    if narrow and getattr(out, "dtype", None) == _FLOAT32:
        return xp.asarray(out).astype(bf16)
    return out


def widen(ga, inputs: list, ans):
    """The backward rules' arrays with bfloat16 ones in float32 (the engine rounds each
    input's gradient back to its dtype)."""
    if ga.dtype.kind == "V":
        ga = ga.astype(_FLOAT32)
    for i, a in enumerate(inputs):  # (a fresh list of the engine's: widened in place)
        if a is not None and a.dtype.kind == "V":
            inputs[i] = a.astype(_FLOAT32)
    if ans is not None and ans.dtype.kind == "V":
        ans = ans.astype(_FLOAT32)
    return ga, inputs, ans
