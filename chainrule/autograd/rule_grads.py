"""A rule's gradient made fit for its input: summed down to the input's shape, cast to
its dtype, and (under anomaly mode) checked finite.

Split from ``engine.py`` (which imports these back; ``diagnostics.explain`` uses
``_dtype``/``_sum_to``): these are the walk's per-input checks and conversions, kept
apart from the walk's scheduling so that each reads on its own.
"""
from __future__ import annotations

from ..backends import NUMPY, backend_of
from ..errors import BackwardError
from .graph import Node
from .rule_namespace import TENSORS

_NDARRAY = NUMPY.ndarray


def _conform(xp, gi, shape, dtype, op_name: str, i: int):
    """A raw rule's result as an array of the input's shape and dtype."""
    if gi.shape != shape:
        gi = _sum_to_array(gi, shape, op_name, i)
    if gi.dtype != dtype:
        gi = gi.astype(dtype)
    if type(gi) is not _NDARRAY and not isinstance(gi, xp.ndarray):
        gi = xp.asarray(gi)  # NumPy gives scalars for 0-d arithmetic and full reductions
    return gi


def _sum_to_array(g, shape, op_name: str, i: int):
    """Sum a broadcast gradient array down to ``shape`` (the input's)."""
    lead = g.ndim - len(shape)
    if lead < 0 or any(s != 1 and s != gs for s, gs in zip(shape, g.shape[lead:])):
        raise BackwardError(f"{op_name} backward: the rule for input {i} returned a gradient of "
                            f"shape {tuple(g.shape)}, which does not reduce to the input's shape "
                            f"{tuple(shape)}")
    if lead:
        g = g.sum(axis=tuple(range(lead)))
    axes = tuple(k for k, s in enumerate(shape) if s == 1 and g.shape[k] != 1)
    if axes:
        g = g.sum(axis=axes, keepdims=True)
    return g


def _sum_to(g, shape, op_name: str, i: int):
    try:
        return TENSORS.sum_to_size(g, shape)
    except Exception as e:
        raise BackwardError(f"{op_name} backward: the rule for input {i} returned a gradient of "
                            f"shape {tuple(g.shape)}, which does not reduce to the input's shape "
                            f"{tuple(shape)}") from e


def _dtype(np_dtype):
    from ..dtypes import from_numpy_dtype
    return from_numpy_dtype(np_dtype)


def _check_finite(node: Node, i: int, gi) -> None:
    from .anomaly import forward_trace_note
    xp = backend_of(gi._data)
    data = gi._data
    if data.dtype.kind in "fV" and not bool(xp.all(xp.isfinite(data))):
        kinds = [k for k, bad in (("nan", xp.any(xp.isnan(data))), ("inf", xp.any(xp.isinf(data))))
                 if bool(bad)]
        raise BackwardError(f"anomaly: {node.name()} returned non-finite values ({', '.join(kinds)}) "
                            f"in the gradient of input {i} (shape {tuple(gi.shape)})"
                            f"{forward_trace_note(node)}")
