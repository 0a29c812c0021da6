"""Top-level names PyTorch programs use that are not ops: constants (``pi``, ``inf``), type
queries (``is_tensor``, ``result_type``), grid and stacking helpers (``meshgrid``,
``column_stack``, ``atleast_2d``), and ``compile``, which chainrule has nothing to do for.
(``finfo``/``iinfo`` live in type_info.py.)

>>> import chainrule as cr
>>> cr.finfo(cr.float32).eps, cr.iinfo(cr.int8).max, cr.is_tensor(cr.ones(1)), round(cr.pi, 4)
(1.1920928955078125e-07, 127, True, 3.1416)
>>> [g.tolist() for g in cr.meshgrid(cr.tensor([1, 2]), cr.tensor([3, 4, 5]), indexing="ij")][0]
[[1, 1, 1], [2, 2, 2]]
"""
from __future__ import annotations

import math
from typing import Any

import numpy as np

from . import dtypes
from .errors import DTypeError, op_error, warn_user
from .tensor import Tensor

__all__ = ["pi", "e", "inf", "nan", "newaxis", "is_tensor", "is_floating_point",
           "is_complex", "is_nonzero", "is_signed", "numel", "result_type", "can_cast", "meshgrid",
           "cartesian_prod", "atleast_1d", "atleast_2d", "atleast_3d", "column_stack", "dstack",
           "row_stack", "hsplit", "vsplit", "dsplit", "compile"]

pi, e, inf, nan = math.pi, math.e, math.inf, math.nan
newaxis = None


def is_tensor(obj: Any) -> bool:
    return isinstance(obj, Tensor)


def is_floating_point(input: Tensor) -> bool:
    return input.is_floating_point()


def is_complex(input: Tensor) -> bool:
    return False  # chainrule has no complex dtypes


def is_signed(input: Tensor) -> bool:
    return input.dtype.name not in ("bool", "uint8")


def is_nonzero(input: Tensor) -> bool:
    """Whether a one-element tensor is not zero (more elements: an error, as PyTorch)."""
    if input.numel() != 1:
        from .errors import ChainruleError
        raise op_error(ChainruleError, "is_nonzero", f"expected a tensor of one element, got "
                                                     f"shape {tuple(input.shape)}")
    return bool(input.item() != 0)


def numel(input: Tensor) -> int:
    return input.numel()


def result_type(tensor1, tensor2) -> dtypes.DType:
    """The dtype an elementwise op of the two would give (PyTorch's promotion)."""
    from .ops._operands import binary_operands
    if not isinstance(tensor1, Tensor) and not isinstance(tensor2, Tensor):
        from .creation import tensor
        tensor1 = tensor(tensor1)  # two numbers: the first stands as a 0-d tensor, as PyTorch
    return binary_operands(tensor1, tensor2, "result_type")[0].dtype


def can_cast(from_: dtypes.DType, to: dtypes.DType) -> bool:
    """PyTorch's casting rule for ``out=`` and in-place ops: never float → int, nor → bool."""
    from ._out import _can_cast
    return _can_cast(from_, to)


def meshgrid(*tensors, indexing: str | None = None) -> tuple:
    """Coordinate grids of 1-d tensors: ``indexing="ij"`` (matrix) or ``"xy"`` (Cartesian)."""
    if len(tensors) == 1 and isinstance(tensors[0], (list, tuple)):
        tensors = tuple(tensors[0])
    if indexing is None:
        warn_user("torch.meshgrid: in an upcoming release, it will be required to pass the "
                  "indexing argument.")
        indexing = "ij"
    if indexing not in ("ij", "xy"):
        from ._args import ArgumentError
        raise op_error(ArgumentError, "meshgrid", f"indexing must be 'ij' or 'xy', got {indexing!r}")
    swap = indexing == "xy" and len(tensors) >= 2
    order = list(range(len(tensors)))
    if swap:
        order[0], order[1] = 1, 0
    shape = [tensors[i].numel() for i in order]
    grids = []
    for i, t in enumerate(tensors):
        view = [1] * len(tensors)
        view[order.index(i)] = -1
        grids.append(t.reshape(view).expand(*shape))
    return tuple(grids)


def cartesian_prod(*tensors: Tensor) -> Tensor:
    """Every combination of the elements of 1-d tensors, one a row."""
    if len(tensors) == 1:
        return tensors[0]
    from .ops.join import stack
    return stack([g.reshape(-1) for g in meshgrid(*tensors, indexing="ij")], 1)


def _atleast(n: int, tensors):
    one = len(tensors) == 1 and not isinstance(tensors[0], (list, tuple))
    items = tensors if not (len(tensors) == 1 and isinstance(tensors[0], (list, tuple))) else tensors[0]
    out = []
    for t in items:
        if t.ndim == 0:
            t = t.reshape((1,) * n)
        elif t.ndim == 1 and n >= 2:
            t = t.unsqueeze(0) if n == 2 else t.reshape(1, -1, 1)
        elif t.ndim == 2 and n == 3:
            t = t.unsqueeze(-1)
        out.append(t)
    return out[0] if one else tuple(out)


def atleast_1d(*tensors):
    return _atleast(1, tensors)


def atleast_2d(*tensors):
    return _atleast(2, tensors)


def atleast_3d(*tensors):
    return _atleast(3, tensors)


def column_stack(tensors) -> Tensor:
    """1-d tensors as columns (others as they are), concatenated along dim 1."""
    from .ops.join import cat
    return cat([t.reshape(-1, 1) if t.ndim <= 1 else t for t in tensors], 1)


def dstack(tensors) -> Tensor:
    from .ops.join import cat
    return cat(list(atleast_3d(*tensors)) if len(tensors) > 1 else [atleast_3d(tensors[0])], 2)


def row_stack(tensors) -> Tensor:
    from .ops.join import vstack
    return vstack(tensors)


def _split(name: str, dim: int, input: Tensor, sections):
    if input.ndim <= dim - (name == "hsplit" and input.ndim == 1):
        raise op_error(ValueError, name, f"needs a tensor of at least {dim + 1} dims, got "
                                         f"{input.ndim}")
    return input.tensor_split(sections, dim)


def hsplit(input: Tensor, sections) -> tuple:
    return _split("hsplit", 1 if input.ndim > 1 else 0, input, sections)


def vsplit(input: Tensor, sections) -> tuple:
    return _split("vsplit", 0, input, sections) if input.ndim >= 2 else _split("vsplit", 1, input, sections)


def dsplit(input: Tensor, sections) -> tuple:
    return _split("dsplit", 2, input, sections)


def compile(model=None, **options):  # noqa: A001 - PyTorch's name
    """``torch.compile``: chainrule runs eagerly, so the model (or function) comes back as it
    is; used as a decorator (``@compile`` or ``@compile(mode=...)``) too."""
    if model is None:
        return lambda fn: fn
    return model


for _name in ("hsplit", "vsplit", "dsplit"):
    setattr(Tensor, _name, globals()[_name])
del _name
