"""Weight initialisation (``chainrule.nn.init``), with PyTorch's formulas.

Every function fills the tensor in place under ``no_grad`` and returns it. Fans
are computed as PyTorch does: ``fan_in = size(1) * receptive field``,
``fan_out = size(0) * receptive field``.

>>> import chainrule as cr
>>> w = cr.empty(3, 5)
>>> cr.nn.init.ones_(w).sum().item()
15.0
>>> cr.nn.init.calculate_gain("relu") == 2 ** 0.5
True
"""
from __future__ import annotations

import functools
import math
import warnings

from ..autograd.grad_mode import no_grad
from ..errors import DTypeError, ShapeError, op_error
from ..tensor import Tensor
from . import _args

__all__ = ["calculate_gain", "uniform_", "normal_", "constant_", "zeros_", "ones_", "eye_",
           "dirac_", "xavier_uniform_", "xavier_normal_", "kaiming_uniform_", "kaiming_normal_",
           "orthogonal_", "trunc_normal_", "sparse_"]


def _fills(fn):
    """Refuse a first argument that is not a tensor, with an error naming ``fn``."""
    @functools.wraps(fn)
    def wrapper(tensor, *args, **kwargs):
        _args.tensor(tensor, "tensor", fn.__name__)
        return fn(tensor, *args, **kwargs)
    return wrapper


def _random_fill(tensor: Tensor, op: str) -> None:
    """Random fills draw floats: PyTorch has no integer kernel for them."""
    if not tensor.is_floating_point():
        raise op_error(DTypeError, op, f"expected a floating-point tensor, got {tensor.dtype.name}")


def _no_elements(tensor: Tensor) -> bool:
    """True (after PyTorch's warning) when ``tensor`` has no elements to initialise."""
    if 0 in tuple(tensor.shape):
        warnings.warn("Initializing zero-element tensors is a no-op", stacklevel=3)
        return True
    return False


def calculate_gain(nonlinearity: str, param: float | None = None) -> float:
    """The recommended gain for ``nonlinearity`` (PyTorch's table)."""
    linear_fns = ("linear", "conv1d", "conv2d", "conv3d", "conv_transpose1d", "conv_transpose2d",
                  "conv_transpose3d")
    if nonlinearity in linear_fns or nonlinearity == "sigmoid":
        return 1.0
    if nonlinearity == "tanh":
        return 5.0 / 3
    if nonlinearity == "relu":
        return math.sqrt(2.0)
    if nonlinearity == "leaky_relu":
        if param is None:
            slope = 0.01
        elif isinstance(param, (int, float)) and not isinstance(param, bool):
            slope = param
        else:
            raise op_error(ValueError, "calculate_gain",
                           f"param (the negative_slope) {param!r} is not "
                           "a valid number")
        return math.sqrt(2.0 / (1 + slope ** 2))
    if nonlinearity == "selu":
        return 3.0 / 4
    raise op_error(ValueError, "calculate_gain",
                   f"unsupported nonlinearity {nonlinearity!r}; expected one of "
                   "linear, conv*, sigmoid, tanh, relu, leaky_relu, selu")


def _calculate_fan_in_and_fan_out(tensor: Tensor) -> tuple[int, int]:
    if tensor.ndim < 2:
        raise op_error(ShapeError, "init", f"fan in and fan out cannot be computed for a tensor with "
                       f"fewer than 2 dimensions (got shape {tuple(tensor.shape)})")
    receptive = 1
    for s in tensor.shape[2:]:
        receptive *= s
    return tensor.shape[1] * receptive, tensor.shape[0] * receptive


def _fan(tensor: Tensor, mode: str) -> int:
    if mode not in ("fan_in", "fan_out"):
        raise op_error(ValueError, "init", f"mode must be 'fan_in' or 'fan_out', got {mode!r}")
    fan_in, fan_out = _calculate_fan_in_and_fan_out(tensor)
    return fan_in if mode == "fan_in" else fan_out


@_fills
def uniform_(tensor: Tensor, a: float = 0.0, b: float = 1.0, generator=None) -> Tensor:
    """Fill with U(a, b)."""
    _random_fill(tensor, "uniform_")
    with no_grad():
        return tensor.uniform_(a, b, generator=generator)


@_fills
def normal_(tensor: Tensor, mean: float = 0.0, std: float = 1.0, generator=None) -> Tensor:
    """Fill with N(mean, std²)."""
    _random_fill(tensor, "normal_")
    if std < 0:
        raise op_error(ValueError, "normal_", f"std must be non-negative, got {std}")
    with no_grad():
        return tensor.normal_(mean, std, generator=generator)


@_fills
def constant_(tensor: Tensor, val: float) -> Tensor:
    """Fill with ``val``."""
    with no_grad():
        return tensor.fill_(val)


@_fills
def zeros_(tensor: Tensor) -> Tensor:
    return constant_(tensor, 0.0)


@_fills
def ones_(tensor: Tensor) -> Tensor:
    return constant_(tensor, 1.0)


@_fills
def eye_(tensor: Tensor) -> Tensor:
    """Fill a 2-D tensor with the identity (ones on the diagonal)."""
    if tensor.ndim != 2:
        raise op_error(ShapeError, "eye_", f"only 2-D tensors are supported, got shape "
                       f"{tuple(tensor.shape)}")
    with no_grad():
        tensor.zero_()
        n = min(tensor.shape)
        tensor._data[range(n), range(n)] = 1
        return tensor


@_fills
def dirac_(tensor: Tensor, groups: int = 1) -> Tensor:
    """Fill a {3,4,5}-D conv weight so the convolution is the identity."""
    if tensor.ndim not in (3, 4, 5):
        raise op_error(ShapeError, "dirac_", f"only 3-, 4- and 5-D tensors are supported, got shape "
                       f"{tuple(tensor.shape)}")
    if not _args.is_int(groups) or groups < 1 or tensor.shape[0] % groups:
        raise op_error(ValueError, "dirac_", f"dim 0 of the tensor (shape {tuple(tensor.shape)}) "
                       f"must be divisible by groups={groups!r}")
    out_per = tensor.shape[0] // groups
    min_dim = min(out_per, tensor.shape[1])
    with no_grad():
        tensor.zero_()
        centre = tuple(s // 2 for s in tensor.shape[2:])
        for g in range(groups):
            for d in range(min_dim):
                tensor._data[(g * out_per + d, d) + centre] = 1
        return tensor


@_fills
def xavier_uniform_(tensor: Tensor, gain: float = 1.0, generator=None) -> Tensor:
    """U(-a, a) with ``a = gain * sqrt(6 / (fan_in + fan_out))`` (Glorot)."""
    fan_in, fan_out = _calculate_fan_in_and_fan_out(tensor)
    a = gain * math.sqrt(6.0 / float(fan_in + fan_out))
    return uniform_(tensor, -a, a, generator)


@_fills
def xavier_normal_(tensor: Tensor, gain: float = 1.0, generator=None) -> Tensor:
    """N(0, std²) with ``std = gain * sqrt(2 / (fan_in + fan_out))``."""
    fan_in, fan_out = _calculate_fan_in_and_fan_out(tensor)
    std = gain * math.sqrt(2.0 / float(fan_in + fan_out))
    return normal_(tensor, 0.0, std, generator)


@_fills
def kaiming_uniform_(tensor: Tensor, a: float = 0, mode: str = "fan_in",
                     nonlinearity: str = "leaky_relu", generator=None) -> Tensor:
    """U(-b, b) with ``b = gain * sqrt(3 / fan)`` (He)."""
    if _no_elements(tensor):
        return tensor
    std = calculate_gain(nonlinearity, a) / math.sqrt(_fan(tensor, mode))
    bound = math.sqrt(3.0) * std
    return uniform_(tensor, -bound, bound, generator)


@_fills
def kaiming_normal_(tensor: Tensor, a: float = 0, mode: str = "fan_in",
                    nonlinearity: str = "leaky_relu", generator=None) -> Tensor:
    """N(0, std²) with ``std = gain / sqrt(fan)`` (He)."""
    if _no_elements(tensor):
        return tensor
    std = calculate_gain(nonlinearity, a) / math.sqrt(_fan(tensor, mode))
    return normal_(tensor, 0.0, std, generator)


@_fills
def orthogonal_(tensor: Tensor, gain: float = 1.0, generator=None) -> Tensor:
    """A (semi-)orthogonal matrix from the QR of a Gaussian one (sign-corrected), times ``gain``."""
    if tensor.ndim < 2:
        raise op_error(ShapeError, "orthogonal_", f"only tensors with 2 or more dimensions are "
                       f"supported, got shape {tuple(tensor.shape)}")
    if tensor.numel() == 0:
        return tensor
    from ..random import _rng
    from ..backends import backend_of
    rows = tensor.shape[0]
    cols = tensor.numel() // rows
    xp = backend_of(tensor._data).module  # (drawn and factorised on the tensor's device)
    flat = _rng(generator, "orthogonal_", tensor.device).normal(0.0, 1.0, (rows, cols))
    if rows < cols:
        flat = flat.T
    q, r = xp.linalg.qr(flat)
    q = q * xp.sign(xp.diag(r))  # make the decomposition unique (uniform over O(n))
    if rows < cols:
        q = q.T
    with no_grad():
        tensor._data[...] = (gain * q).reshape(tuple(tensor.shape)).astype(tensor._data.dtype)
        tensor._vc.value += 1
    return tensor


@_fills
def trunc_normal_(tensor: Tensor, mean: float = 0.0, std: float = 1.0, a: float = -2.0,
                  b: float = 2.0, generator=None) -> Tensor:
    """N(mean, std²) truncated to [a, b]: the same distribution as PyTorch's.

    Sampled by rejection (draws outside [a, b] are redrawn); a window with little
    probability mass falls back to clipping after 100 rounds.
    """
    from ..random import _rng
    from ..backends import backend_of
    if not a < b:
        raise op_error(ValueError, "trunc_normal_", f"expected a < b, got a={a}, b={b}")
    rng = _rng(generator, "trunc_normal_", tensor.device)  # (draws on the tensor's device)
    x = rng.normal(mean, std, tuple(tensor.shape))
    for _ in range(100):
        bad = (x < a) | (x > b)
        n = int(bad.sum().item())
        if n == 0:
            break
        x[bad] = rng.normal(mean, std, n)
    x = backend_of(x).module.clip(x, a, b)
    with no_grad():
        tensor._data[...] = x.astype(tensor._data.dtype)
        tensor._vc.value += 1
    return tensor


@_fills
def sparse_(tensor: Tensor, sparsity: float, std: float = 0.01, generator=None) -> Tensor:
    """A 2-D tensor with N(0, std²) entries and a fraction ``sparsity`` of each column zero."""
    if tensor.ndim != 2:
        raise op_error(ShapeError, "sparse_", f"only 2-D tensors are supported, got shape "
                       f"{tuple(tensor.shape)}")
    from ..random import _rng
    rows, cols = tensor.shape
    zeros = int(math.ceil(sparsity * rows))
    normal_(tensor, 0.0, std, generator)
    rng = _rng(generator, "sparse_", tensor.device)
    with no_grad():
        for c in range(cols):
            tensor._data[rng.permutation(rows)[:zeros], c] = 0
    return tensor
