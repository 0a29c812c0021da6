"""Functional dropout: ``dropout``, ``dropout1d/2d/3d``, ``feature_dropout``, ``alpha_dropout``,
``feature_alpha_dropout``.

In training each element (or, for the channel-wise forms, each whole channel) is
zeroed with probability ``p`` and the survivors are scaled by ``1/(1-p)``, so the
expected value is unchanged; in evaluation the input is returned as it is. The
mask comes from the default generator of the input's device (drawn on that device), so
``cr.manual_seed`` makes it reproducible.

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
from ...errors import DTypeError, ShapeError, op_error, warn_user
from ...random import _rng
from ...tensor import Tensor
from .. import _args

__all__ = ["dropout", "dropout1d", "dropout2d", "dropout3d", "feature_dropout", "alpha_dropout",
           "feature_alpha_dropout"]


def _check(input, p: float, op: str) -> None:
    _args.tensor(input, "input", op)
    _args.probability(p, "p", op)
    if not input.is_floating_point():
        raise op_error(DTypeError, op, f"expected a floating-point input, got {input.dtype.name}")


def _mask(input: Tensor, shape: tuple, p: float) -> Tensor:
    """Keep-mask of ``shape`` (broadcast against the input), already scaled by 1/(1-p)."""
    dtype = input._data.dtype
    draws = _draws(input, shape)
    mask = (draws >= p).astype(dtype) * dtype.type(1.0 / (1.0 - p))
    return Tensor._make(_on(input, mask))


def _draws(input: Tensor, shape: tuple):
    """Uniform draws from the input's device's default generator (made on that device)."""
    dtype = input._data.dtype
    return _rng(None, "dropout", input.device).random(
        shape, dtype="float64" if dtype.itemsize > 4 else "float32")


def _on(input: Tensor, array):
    """``array`` on the input's device (CPU draws are host arrays already there)."""
    backend = backend_of(input._data)
    return array if backend.is_array(array) else backend.from_host(array)


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


def _feature_shape(input: Tensor, op: str) -> tuple:
    """The mask shape of feature (channel) dropout: one draw per (sample, channel)."""
    if input.ndim < 2:
        raise op_error(ShapeError, op, "Feature dropout requires at least 2 dimensions in the "
                       f"input, got input of shape {tuple(input.shape)}")
    return tuple(input.shape[:2]) + (1,) * (input.ndim - 2)


def _feature(input: Tensor, p: float, training: bool, inplace: bool, op: str) -> Tensor:
    if not training or p == 0.0 or input.numel() == 0 or p == 1.0:
        return _apply(input, p, training, inplace, ())
    return _apply(input, p, training, inplace, _feature_shape(input, op))


def dropout1d(input: Tensor, p: float = 0.5, training: bool = True, inplace: bool = False) -> Tensor:
    """Zero whole channels of (N, C, L) or (C, L) input with probability ``p``."""
    _check(input, p, "dropout1d")
    if input.ndim not in (2, 3):
        raise op_error(ShapeError, "dropout1d", f"Expected 2D or 3D input, but received a "
                       f"{input.ndim}D input. Note that dropout1d exists to provide channel-wise "
                       "dropout on inputs with 1 spatial dimension, a channel dimension, and an "
                       "optional batch dimension (i.e. 2D or 3D inputs).")
    if input.ndim == 2:  # (C, L): one draw per channel
        return _apply(input, p, training, inplace, (input.shape[0], 1))
    return _feature(input, p, training, inplace, "dropout1d")


def _rank_warning(op: str, ndim: int, spatial: int) -> None:
    warn_user(f"{op}: Received a {ndim}-D input to {op}, which is deprecated and will result in "
              "an error in a future release. To retain the behavior and silence this warning, "
              f"please use dropout instead. Note that {op} exists to provide channel-wise dropout "
              f"on inputs with {spatial} spatial dimensions, a channel dimension, and an optional "
              f"batch dimension (i.e. {spatial + 1}D or {spatial + 2}D inputs).")


def dropout2d(input: Tensor, p: float = 0.5, training: bool = True, inplace: bool = False) -> Tensor:
    """Zero whole channels of (N, C, H, W) input with probability ``p``.

    As PyTorch: another rank warns (deprecated) and a 3-D input warns too and is read as
    (N, C, L), not as an unbatched (C, H, W)."""
    _check(input, p, "dropout2d")
    if input.ndim not in (3, 4):
        _rank_warning("dropout2d", input.ndim, 2)
    if input.ndim == 3:
        warn_user("dropout2d: Received a 3D input to dropout2d and assuming that channel-wise 1D "
                  "dropout behavior is desired - input is interpreted as shape (N, C, L), where C "
                  "is the channel dim. This behavior will change in a future release to interpret "
                  "the input as one without a batch dimension, i.e. shape (C, H, W). To maintain "
                  "the 1D channel-wise dropout behavior, please switch to using dropout1d instead.")
    return _feature(input, p, training, inplace, "dropout2d")


def dropout3d(input: Tensor, p: float = 0.5, training: bool = True, inplace: bool = False) -> Tensor:
    """Zero whole channels of (N, C, D, H, W) or (C, D, H, W) input with probability ``p``
    (another rank warns, as PyTorch, and is read as unbatched)."""
    _check(input, p, "dropout3d")
    if input.ndim not in (4, 5):
        _rank_warning("dropout3d", input.ndim, 3)
    if input.ndim == 5:
        return _feature(input, p, training, inplace, "dropout3d")
    # unbatched: one draw per channel (dim 0), as PyTorch's unsqueeze(0) then feature dropout
    if not training or p == 0.0 or p == 1.0 or input.numel() == 0:
        return _apply(input, p, training, inplace, ())
    return _apply(input, p, training, inplace, (input.shape[0],) + (1,) * (input.ndim - 1))


def feature_dropout(input: Tensor, p: float = 0.5, training: bool = True,
                    inplace: bool = False) -> Tensor:
    """Zero whole channels (dim 1) of a batched input of any rank."""
    _check(input, p, "feature_dropout")
    return _feature(input, p, training, inplace, "feature_dropout")


# SELU's negative saturation (scale * alpha): where alpha dropout sends the dropped units
_ALPHA = 1.7580993408473766


def _alpha(input: Tensor, p: float, training: bool, inplace: bool, shape, op: str) -> Tensor:
    """``a * (x * keep + alpha' * (keep - 1 + p))``: dropped units at SELU's saturation, then
    an affine map that keeps zero mean and unit variance (PyTorch's constants)."""
    _check(input, p, op)
    if not training or p == 0.0 or input.numel() == 0:
        return input
    if p == 1.0:
        out = input * 0.0
        return input.copy_(out) if inplace else out
    if shape is None:
        shape = _feature_shape(input, op)
    dtype = input._data.dtype
    keep = (_draws(input, shape) >= p).astype("float64")
    a = 1.0 / ((_ALPHA * _ALPHA * p + 1) * (1 - p)) ** 0.5
    scale = Tensor._make(_on(input, (keep * a).astype(dtype)))
    shift = Tensor._make(_on(input, ((keep - 1) * _ALPHA * a + _ALPHA * a * p).astype(dtype)))
    out = input * scale + shift
    return input.copy_(out) if inplace else out


def alpha_dropout(input: Tensor, p: float = 0.5, training: bool = False,
                  inplace: bool = False) -> Tensor:
    """Dropout for SELU networks: dropped elements take SELU's negative saturation value and
    the result is rescaled to keep the input's mean and variance (training only)."""
    return _alpha(input, p, training, inplace, tuple(input.shape) if isinstance(input, Tensor)
                  else (), "alpha_dropout")


def feature_alpha_dropout(input: Tensor, p: float = 0.5, training: bool = False,
                          inplace: bool = False) -> Tensor:
    """Alpha dropout of whole channels (one draw per sample and channel)."""
    return _alpha(input, p, training, inplace, None, "feature_alpha_dropout")
