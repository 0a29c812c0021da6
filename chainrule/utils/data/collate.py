"""Turning a list of samples into a batch, with PyTorch's ``default_collate`` rules.

Tensors are stacked along a new first dimension; NumPy arrays and numbers become
tensors (Python floats → float64, ints → int64, bools → bool, as PyTorch); dicts,
tuples, lists and named tuples are collated field by field; strings stay a list.

>>> import chainrule as cr
>>> default_collate([(cr.tensor([1.0]), 0), (cr.tensor([2.0]), 1)])
[tensor([[1.],
        [2.]]), tensor([0, 1])]
>>> default_collate([{"x": 1.5}, {"x": 2.5}])
{'x': tensor([1.5000, 2.5000], dtype=chainrule.float64)}
"""
from __future__ import annotations

import collections.abc
import numbers
from typing import Any

import numpy as np

from ...errors import op_error
from ...tensor import Tensor

__all__ = ["default_collate", "default_convert"]

_NOT_SUPPORTED = "batch must contain tensors, arrays, numbers, strings, dicts or lists; found {}"


def _is_namedtuple(x) -> bool:
    return isinstance(x, tuple) and hasattr(x, "_fields")


def _rebuild(elem, items):
    """A container of ``elem``'s type holding ``items`` (a plain list/dict if it can't)."""
    try:
        return type(elem)(items)
    except TypeError:
        return items


def default_collate(batch: list) -> Any:
    """Collate a list of samples into a batch (see the module docstring)."""
    from ...creation import tensor
    from ...ops.functions import stack
    if len(batch) == 0:
        raise op_error(IndexError, "default_collate",
                       "batch is empty: there is no sample to collate")
    elem = batch[0]
    if isinstance(elem, Tensor):
        return stack(list(batch), 0)
    if isinstance(elem, np.ndarray) or isinstance(elem, np.generic):
        if elem.dtype.kind in "USOV":
            raise op_error(TypeError, "default_collate", _NOT_SUPPORTED.format(elem.dtype))
        if isinstance(elem, np.ndarray) and elem.ndim:
            return default_collate([tensor(b) for b in batch])
        return tensor(np.array(batch))
    if isinstance(elem, bool):
        return tensor(batch)
    if isinstance(elem, numbers.Integral):
        return tensor(batch)
    if isinstance(elem, float):
        return tensor(batch, dtype="float64")
    if isinstance(elem, (str, bytes)):
        return batch
    if isinstance(elem, collections.abc.Mapping):
        for i, d in enumerate(batch):
            missing = [k for k in elem if k not in d]
            if missing:
                raise op_error(KeyError, "default_collate", f"sample {i} of the batch lacks the "
                               f"key(s) {missing} of sample 0")
        collated = {k: default_collate([d[k] for d in batch]) for k in elem}
        if isinstance(elem, collections.abc.MutableMapping) and type(elem) is not dict:
            try:
                out = type(elem)()
                out.update(collated)
                return out
            except TypeError:
                pass
        return collated
    if _is_namedtuple(elem):
        return type(elem)(*(default_collate(list(s)) for s in zip(*batch)))
    if isinstance(elem, collections.abc.Sequence):
        size = len(elem)
        if any(len(e) != size for e in batch):
            raise op_error(RuntimeError, "default_collate",
                           "each element in list of batch should be of equal size")
        transposed = [default_collate(list(s)) for s in zip(*batch)]
        if isinstance(elem, tuple):
            return transposed  # PyTorch returns a list for tuples, kept for compatibility
        return _rebuild(elem, transposed)
    raise op_error(TypeError, "default_collate", _NOT_SUPPORTED.format(type(elem)))


def default_convert(data: Any) -> Any:
    """Convert NumPy arrays (also inside containers) to tensors; leave the rest alone.
    Used when the DataLoader does not batch (``batch_size=None``).

    >>> default_convert((np.array([1, 2]), 3))
    [tensor([1, 2]), 3]
    """
    from ...creation import as_tensor
    if isinstance(data, Tensor):
        return data
    if isinstance(data, np.ndarray):
        return data if data.dtype.kind in "USOV" else as_tensor(data)
    if isinstance(data, np.generic):
        return as_tensor(np.asarray(data)) if data.dtype.kind not in "USOV" else data
    if isinstance(data, (str, bytes)):
        return data
    if isinstance(data, collections.abc.Mapping):
        converted = {k: default_convert(v) for k, v in data.items()}
        return converted if type(data) is dict else _rebuild(data, converted)
    if _is_namedtuple(data):
        return type(data)(*(default_convert(d) for d in data))
    if isinstance(data, tuple):
        return [default_convert(d) for d in data]
    if isinstance(data, collections.abc.Sequence):
        return _rebuild(data, [default_convert(d) for d in data])
    return data
