"""Functional dropout: ``dropout``, ``dropout1d``, ``dropout2d``, ``feature_dropout``.

In training each element (or, for the channel-wise forms, each whole channel) is
zeroed with probability ``p`` and the survivors are scaled by ``1/(1-p)``, so the
expected value is unchanged; in evaluation the input is returned as it is. The
mask comes from chainrule's default generator, so ``cr.manual_seed`` makes it
reproducible.

>>> import chainrule as cr
>>> import chainrule.nn.functional as F
>>> _ = cr.manual_seed(0)
>>> y = F.dropout(cr.ones(1000), p=0.5)
>>> sorted(set(y.tolist()))
[0.0, 2.0]
>>> F.dropout(cr.ones(3), p=0.5, training=False)
tensor([1., 1., 1.])
"""
from __future__ import annotations

from ...backends import backend_of
from ...errors import DTypeError, ShapeError, op_error
from ...random import default_generator
from ...tensor import Tensor
from .. import _args

__all__ = ["dropout", "dropout1d", "dropout2d", "feature_dropout"]


def _check(input, p: float, op: str) -> None:
    _args.tensor(input, "input", op)
    _args.probability(p, "p", op)
    if not input.is_floating_point():
        raise op_error(DTypeError, op, f"expected a floating-point input, got {input.dtype.name}")


def _mask(input: Tensor, shape: tuple, p: float) -> Tensor:
    """Keep-mask of ``shape`` (broadcast against the input), already scaled by 1/(1-p)."""
    dtype = input._data.dtype
    draws = default_generator.numpy.random(shape, dtype="float64" if dtype.itemsize > 4 else "float32")
    mask = (draws >= p).astype(dtype) * dtype.type(1.0 / (1.0 - p))
    return Tensor._make(backend_of(input._data).from_host(mask))


def _apply(input: Tensor, p: float, training: bool, inplace: bool, shape: tuple) -> Tensor:
    if not training or p == 0.0:
        return input
    if p == 1.0:
        out = input * 0.0
    else:
        out = input * _mask(input, shape, p)
    if inplace:
        return input.copy_(out)
    return out


def dropout(input: Tensor, p: float = 0.5, training: bool = True, inplace: bool = False) -> Tensor:
    """Zero each element with probability ``p`` (training only), scaling the rest by 1/(1-p)."""
    _check(input, p, "dropout")
    return _apply(input, p, training, inplace, tuple(input.shape))


def _channel_shape(input: Tensor, batched_ndim: int, op: str) -> tuple:
    if input.ndim not in (batched_ndim - 1, batched_ndim):
        raise op_error(ShapeError, op, f"expected a {batched_ndim - 1}-D (unbatched) or "
                       f"{batched_ndim}-D (batched) input, got input of shape {tuple(input.shape)}")
    lead = 2 if input.ndim == batched_ndim else 1
    return tuple(input.shape[:lead]) + (1,) * (input.ndim - lead)


def dropout1d(input: Tensor, p: float = 0.5, training: bool = True, inplace: bool = False) -> Tensor:
    """Zero whole channels of (N, C, L) or (C, L) input with probability ``p``."""
    _check(input, p, "dropout1d")
    return _apply(input, p, training, inplace, _channel_shape(input, 3, "dropout1d"))


def dropout2d(input: Tensor, p: float = 0.5, training: bool = True, inplace: bool = False) -> Tensor:
    """Zero whole channels of (N, C, H, W) or (C, H, W) input with probability ``p``."""
    _check(input, p, "dropout2d")
    return _apply(input, p, training, inplace, _channel_shape(input, 4, "dropout2d"))


def feature_dropout(input: Tensor, p: float = 0.5, training: bool = True,
                    inplace: bool = False) -> Tensor:
    """Zero whole channels (dim 1) of a batched input of any rank."""
    _check(input, p, "feature_dropout")
    shape = tuple(input.shape[:2]) + (1,) * (input.ndim - 2)
    return _apply(input, p, training, inplace, shape)
