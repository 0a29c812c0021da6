"""bfloat16 and float16 arrays: the optional package ml_dtypes, and computing with them as
PyTorch's CPU does.

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

float16 is computed the same way (PyTorch's CPU kernels use float32 as the opmath type
of Half too): measured on the op sweep in float16 against PyTorch, NumPy's own float16
loops (which round after every step of a sum, a softmax, a product) disagreed on 136
cases, float32-then-round on far fewer. The first float16 dtype or array switches the
hooks on (:func:`activate_float16`).

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
_FLOAT16 = np.dtype(np.float16)
_HOOKED = False  # the registry and the engine call forward/widen


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
    ACTIVE = dtype
    _hook()


def activate_float16() -> None:
    """Compute float16 ops in float32 from now on (the first float16 tensor calls it)."""
    if not _HOOKED:
        _hook()


# the op registry and the engine (above this module) put here how they switch to
# computing low-precision ops in float32; they are called once, at the first such dtype
ON_FIRST_USE: list = []


def when_used(switch) -> None:
    """Call ``switch()`` when a low-precision dtype is first used (now, if it has been)."""
    ON_FIRST_USE.append(switch)
    if _HOOKED:
        switch()


def _hook() -> None:
    global _HOOKED
    _HOOKED = True
    for switch in ON_FIRST_USE:
        switch()


def _is_low(dtype: np.dtype) -> bool:
    """bfloat16 (NumPy kind "V": no other such dtype is a tensor's) or float16."""
    return dtype.kind == "V" or (dtype.itemsize == 2 and dtype.kind == "f")


def forward(op, xp, arrays: tuple, params: dict):
    """``op.forward`` as PyTorch computes bfloat16 and float16: inputs widened to float32,
    and a float32 result rounded back to the narrow type unless a wider float (or the
    other narrow type) took part or ``dtype=`` chose it."""
    for a in arrays:  # (a loop: cheaper than any() over a generator, on every op)
        d = a.dtype
        if d.kind == "V" or (d.itemsize == 2 and d.kind == "f"):
            break
    else:
        return op.forward(xp, *arrays, **params)
    narrow = params.get("dtype") is None
    target = None
    wide = []
    for a in arrays:
        d = a.dtype
        if d.kind == "V" or (d.itemsize == 2 and d.kind == "f"):
            if target is None:
                target = d
            elif target != d:  # bfloat16 with float16 makes float32
                narrow = False
            a = a.astype(_FLOAT32)
        elif d.kind == "f":  # with float32 (float64) makes that type
            narrow = False
        wide.append(a)
    out = op.forward(xp, *wide, **params)
    if narrow and getattr(out, "dtype", None) == _FLOAT32:
        return xp.asarray(out).astype(target)
    return out


def widen(ga, inputs: list, ans):
    """The backward rules' arrays with bfloat16 and float16 ones in float32 (the engine
    rounds each input's gradient back to its dtype)."""
    if _is_low(ga.dtype):
        ga = ga.astype(_FLOAT32)
    for i, a in enumerate(inputs):  # (a fresh list of the engine's: widened in place)
        if a is not None and _is_low(a.dtype):
            inputs[i] = a.astype(_FLOAT32)
    if ans is not None and _is_low(ans.dtype):
        ans = ans.astype(_FLOAT32)
    return ga, inputs, ans
