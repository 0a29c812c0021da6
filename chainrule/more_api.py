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
           "row_stack", "hsplit", "vsplit", "dsplit"]

pi, e, inf, nan = math.pi, math.e, math.inf, math.nan
newaxis = None


def is_tensor(obj: Any) -> bool:
    """Whether ``obj`` is a tensor (``torch.is_tensor``).

    >>> import chainrule as cr
    >>> cr.is_tensor(cr.ones(1)), cr.is_tensor([1.0])
    (True, False)
    """
    return isinstance(obj, Tensor)


def is_floating_point(input: Tensor) -> bool:
    """Whether ``input``'s dtype is a floating-point one (``torch.is_floating_point``).

    >>> import chainrule as cr
    >>> cr.is_floating_point(cr.ones(2))
    True
    >>> cr.is_floating_point(cr.arange(2))
    False
    """
    return input.is_floating_point()


def is_complex(input: Tensor) -> bool:
    """Whether ``input``'s dtype is complex; always False in chainrule (``torch.is_complex``).

    >>> import chainrule as cr
    >>> cr.is_complex(cr.ones(2))
    False
    """
    return False  # chainrule has no complex dtypes


def is_signed(input: Tensor) -> bool:
    """Whether ``input``'s dtype is signed (``torch.is_signed``).

    >>> import chainrule as cr
    >>> cr.is_signed(cr.tensor([1], dtype=cr.uint8))
    False
    """
    return input.dtype.name not in ("bool", "uint8")


def is_nonzero(input: Tensor) -> bool:
    """Whether a one-element tensor is not zero (more elements: an error, as PyTorch).

    >>> import chainrule as cr
    >>> cr.is_nonzero(cr.tensor([1.5]))
    True
    """
    if input.numel() != 1:
        from .errors import ChainruleError
        raise op_error(ChainruleError, "is_nonzero", f"expected a tensor of one element, got "
                                                     f"shape {tuple(input.shape)}")
    return bool(input.item() != 0)


def numel(input: Tensor) -> int:
    """The number of elements of ``input`` (``torch.numel``).

    >>> import chainrule as cr
    >>> cr.numel(cr.zeros(2, 3))
    6
    """
    return input.numel()


def result_type(tensor1, tensor2) -> dtypes.DType:
    """The dtype an elementwise op of the two would give (PyTorch's promotion).

    >>> import chainrule as cr
    >>> cr.result_type(cr.tensor([1, 2]), 1.5)
    chainrule.float32
    """
    from .ops._operands import binary_operands
    if not isinstance(tensor1, Tensor) and not isinstance(tensor2, Tensor):
        from .creation import tensor
        tensor1 = tensor(tensor1)  # two numbers: the first stands as a 0-d tensor, as PyTorch
    return binary_operands(tensor1, tensor2, "result_type")[0].dtype


def can_cast(from_: dtypes.DType, to: dtypes.DType) -> bool:
    """PyTorch's casting rule for ``out=`` and in-place ops: never float → int, nor → bool.

    >>> import chainrule as cr
    >>> cr.can_cast(cr.float32, cr.int32)
    False
    >>> cr.can_cast(cr.int32, cr.float32)
    True
    """
    from ._out import _can_cast
    return _can_cast(from_, to)


def meshgrid(*tensors, indexing: str | None = None) -> tuple:
    """Coordinate grids of 1-d tensors: ``indexing="ij"`` (matrix) or ``"xy"`` (Cartesian).

    >>> import chainrule as cr
    >>> xs, ys = cr.meshgrid(cr.tensor([1, 2]), cr.tensor([3, 4, 5]), indexing="ij")
    >>> xs
    tensor([[1, 1, 1],
            [2, 2, 2]])
    """
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
    """Every combination of the elements of 1-d tensors, one a row.

    >>> import chainrule as cr
    >>> cr.cartesian_prod(cr.tensor([1, 2]), cr.tensor([3, 4]))
    tensor([[1, 3],
            [1, 4],
            [2, 3],
            [2, 4]])
    """
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
    """``input`` with at least one dim (a 0-d tensor becomes shape (1,); ``torch.atleast_1d``).

    >>> import chainrule as cr
    >>> cr.atleast_1d(cr.tensor(5.))
    tensor([5.])
    """
    return _atleast(1, tensors)


def atleast_2d(*tensors):
    """``input`` with at least two dims (``torch.atleast_2d``).

    >>> import chainrule as cr
    >>> cr.atleast_2d(cr.tensor([1., 2.])).shape
    chainrule.Size([1, 2])
    """
    return _atleast(2, tensors)


def atleast_3d(*tensors):
    """``input`` with at least three dims (``torch.atleast_3d``).

    >>> import chainrule as cr
    >>> cr.atleast_3d(cr.tensor([1., 2.])).shape
    chainrule.Size([1, 2, 1])
    """
    return _atleast(3, tensors)


def column_stack(tensors) -> Tensor:
    """1-d tensors as columns (others as they are), concatenated along dim 1.

    >>> import chainrule as cr
    >>> cr.column_stack([cr.tensor([1, 2]), cr.tensor([3, 4])])
    tensor([[1, 3],
            [2, 4]])
    """
    from .ops.join import cat
    return cat([t.reshape(-1, 1) if t.ndim <= 1 else t for t in tensors], 1)


def dstack(tensors) -> Tensor:
    """Stack tensors along dim 2, after making them at least 3-D (``torch.dstack``).

    >>> import chainrule as cr
    >>> cr.dstack([cr.tensor([1, 2]), cr.tensor([3, 4])])
    tensor([[[1, 3],
             [2, 4]]])
    """
    from .ops.join import cat
    return cat(list(atleast_3d(*tensors)) if len(tensors) > 1 else [atleast_3d(tensors[0])], 2)


def row_stack(tensors) -> Tensor:
    """Alias of :func:`vstack` (``torch.row_stack``).

    >>> import chainrule as cr
    >>> cr.row_stack([cr.tensor([1, 2]), cr.tensor([3, 4])])
    tensor([[1, 2],
            [3, 4]])
    """
    from .ops.join import vstack
    return vstack(tensors)


def _split(name: str, dim: int, input: Tensor, sections):
    if input.ndim <= dim - (name == "hsplit" and input.ndim == 1):
        raise op_error(ValueError, name, f"needs a tensor of at least {dim + 1} dims, got "
                                         f"{input.ndim}")
    return input.tensor_split(sections, dim)


def hsplit(input: Tensor, sections) -> tuple:
    """Split along dim 1 (dim 0 for 1-D tensors; ``torch.hsplit``).

    >>> import chainrule as cr
    >>> cr.hsplit(cr.arange(4), 2)
    (tensor([0, 1]), tensor([2, 3]))
    """
    return _split("hsplit", 1 if input.ndim > 1 else 0, input, sections)


def vsplit(input: Tensor, sections) -> tuple:
    """Split along dim 0 of a ≥2-D tensor (``torch.vsplit``).

    >>> import chainrule as cr
    >>> [p.shape for p in cr.vsplit(cr.zeros(4, 2), 2)]
    [chainrule.Size([2, 2]), chainrule.Size([2, 2])]
    """
    return _split("vsplit", 0, input, sections) if input.ndim >= 2 else _split("vsplit", 1, input, sections)


def dsplit(input: Tensor, sections) -> tuple:
    """Split a ≥3-D tensor along dim 2 (``torch.dsplit``).

    >>> import chainrule as cr
    >>> [p.shape for p in cr.dsplit(cr.zeros(1, 2, 4), 2)]
    [chainrule.Size([1, 2, 2]), chainrule.Size([1, 2, 2])]
    """
    return _split("dsplit", 2, input, sections)


for _name in ("hsplit", "vsplit", "dsplit"):
    setattr(Tensor, _name, globals()[_name])
del _name
