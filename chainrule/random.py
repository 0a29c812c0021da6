"""Random numbers: a seedable default generator and the sampling functions.

>>> import chainrule as cr
>>> _ = cr.manual_seed(0); a = cr.rand(3)
>>> _ = cr.manual_seed(0); bool((cr.rand(3) == a).all())
True
"""
from __future__ import annotations

import numpy as np

from ._args import ArgumentError, UnsupportedDTypeError, index_value, number_value, tensor_value
from .backends import NUMPY, Device, backend_for_device
from .creation import _shape
from .dtypes import bool_, dtype_arg, get_default_dtype, int64, uint8
from .errors import DTypeError, ShapeError, describe, op_error
from .tensor import Tensor

__all__ = ["Generator", "manual_seed", "seed", "initial_seed", "get_rng_state", "set_rng_state",
           "default_generator", "rand", "randn", "randint", "randperm", "rand_like", "randn_like",
           "randint_like", "normal", "bernoulli", "multinomial"]


class Generator:
    """A source of random numbers (NumPy's PCG64), seedable like ``torch.Generator``."""

    def __init__(self, device="cpu") -> None:
        self.device = Device(device)
        self._seed = 0
        self._rng = np.random.Generator(np.random.PCG64(0))

    def manual_seed(self, seed: int) -> "Generator":
        try:  # PyTorch takes int(seed): 1.5 is 1, "3" is 3
            seed = int(seed)
        except (TypeError, ValueError, OverflowError) as e:
            raise op_error(DTypeError if isinstance(e, TypeError) else ArgumentError, "manual_seed",
                           f"seed must be an int, got {type(seed).__name__} {seed!r}") from None
        if not -2 ** 63 <= seed < 2 ** 64:
            raise op_error(ArgumentError, "manual_seed", f"seed must be in [-2**63, 2**64), got {seed}")
        self._seed = seed % 2 ** 64  # negative seeds wrap, as in PyTorch
        self._rng = np.random.Generator(np.random.PCG64(self._seed))
        return self

    def seed(self) -> int:
        s = int(np.random.SeedSequence().entropy % (2 ** 63))
        self.manual_seed(s)
        return s

    def initial_seed(self) -> int:
        return self._seed

    def get_state(self) -> Tensor:
        """The generator's state as a uint8 tensor (for checkpoints; no pickle)."""
        import json
        blob = json.dumps(self._rng.bit_generator.state).encode()
        return Tensor._make(np.frombuffer(blob, dtype=np.uint8).copy())

    def set_state(self, state: Tensor) -> "Generator":
        import json
        if not isinstance(state, Tensor) or state.dtype is not uint8:
            raise op_error(DTypeError, "Generator.set_state", f"the state must be a uint8 tensor "
                           f"from Generator.get_state(), got {describe(state)}")
        data = state._data
        try:
            self._rng.bit_generator.state = json.loads(bytes(np.asarray(data, dtype=np.uint8)).decode())
        except (ValueError, TypeError, KeyError, UnicodeDecodeError) as e:
            raise op_error(ArgumentError, "Generator.set_state", f"expected a state from "
                           f"Generator.get_state() (a uint8 tensor of JSON text), got "
                           f"{type(state).__name__} of {np.size(data)} elements that does not "
                           f"decode ({type(e).__name__})") from None
        return self

    @property
    def numpy(self) -> np.random.Generator:
        return self._rng


default_generator = Generator()
# seeded afresh in each process, as PyTorch's: unseeded runs differ; initial_seed() reports it
default_generator.seed()


def manual_seed(seed: int) -> Generator:
    """Seed the default generator (and return it), as ``torch.manual_seed``."""
    return default_generator.manual_seed(seed)


def seed() -> int:
    return default_generator.seed()


def initial_seed() -> int:
    return default_generator.initial_seed()


def get_rng_state() -> Tensor:
    return default_generator.get_state()


def set_rng_state(state: Tensor) -> None:
    default_generator.set_state(state)


def _rng(generator, op: str = "random"):
    """The NumPy generator behind ``generator`` (None: the default one)."""
    if generator is None:
        return default_generator._rng
    if not isinstance(generator, Generator):
        raise op_error(DTypeError, op, f"generator must be a chainrule.Generator or None, got "
                       f"{type(generator).__name__} {generator!r}")
    return generator._rng


def probability(p, op: str, name: str = "p") -> float:
    """A probability argument: a number in [0, 1]."""
    v = number_value(p, op, name)
    if not 0 <= v <= 1:  # NaN fails too
        raise op_error(ArgumentError, op, f"{name} must be in [0, 1], got {v}")
    return v


def floating_input(t: Tensor, op: str) -> Tensor:
    """``t``, which a continuous distribution is sampled into: a floating-point tensor."""
    tensor_value(t, op)
    if not t.dtype.is_floating_point:
        raise op_error(UnsupportedDTypeError, op, f"samples a continuous distribution and needs a "
                       f"floating-point tensor, got dtype {t.dtype.name}")
    return t


def _finish(array, dtype, device, requires_grad: bool) -> Tensor:
    if device is not None:
        array = backend_for_device(device).from_host(array)
    t = Tensor._make(array)
    if requires_grad:
        t.requires_grad = True
    return t


def _float_dtype(dtype, op):
    dt = dtype_arg(dtype, op) or get_default_dtype()
    if not dt.is_floating_point:
        raise op_error(UnsupportedDTypeError, op, f"expected a floating dtype, got {dt.name}")
    return dt


def rand(*size, generator: Generator | None = None, dtype=None, device=None,
         requires_grad: bool = False) -> Tensor:
    """Uniform samples on [0, 1)."""
    dt = _float_dtype(dtype, "rand")
    array = _rng(generator, "rand").random(_shape(size, "rand"), dtype=np.float64).astype(dt.np)
    return _finish(array, dt, device, requires_grad)


def randn(*size, generator: Generator | None = None, dtype=None, device=None,
          requires_grad: bool = False) -> Tensor:
    """Standard normal samples."""
    dt = _float_dtype(dtype, "randn")
    array = _rng(generator, "randn").standard_normal(_shape(size, "randn"),
                                                     dtype=np.float64).astype(dt.np)
    return _finish(array, dt, device, requires_grad)


def randint(low=None, high=None, size=None, *, generator: Generator | None = None, dtype=None,
            device=None, requires_grad: bool = False) -> Tensor:
    """Integers in [low, high); ``randint(high, size)`` or ``randint(low, high, size)``.

    >>> import chainrule as cr
    >>> tuple(cr.randint(5, size=(2, 3)).shape)
    (2, 3)
    """
    if low is None and high is not None:        # randint(high=9, size=(...))
        low = 0
    elif size is not None and high is None:     # randint(9, size=(...)): size by keyword
        low, high = 0, low
    elif size is None:
        if high is None or not isinstance(high, (tuple, list)):
            raise op_error(DTypeError, "randint", "expected randint(high, size) or "
                           "randint(low, high, size) with size a tuple")
        low, high, size = 0, low, high
    return _integers(low, high, size, generator, dtype, device, requires_grad, "randint")


def _integers(low, high, size, generator, dtype, device, requires_grad: bool, op: str) -> Tensor:
    """randint's work, with errors that name ``op`` (randint or randint_like)."""
    low, high = index_value(low, op, "low"), index_value(high, op, "high")
    if low >= high:
        raise op_error(ArgumentError, op, f"low ({low}) must be less than high ({high})")
    if not isinstance(size, (tuple, list)):
        raise op_error(DTypeError, op, f"size must be a tuple of ints, got {size!r}")
    dt = dtype_arg(dtype, op) or int64
    array = _rng(generator, op).integers(low, high, size=_shape((size,), op))
    return _finish(array.astype(dt.np), dt, device, requires_grad)


def randperm(n: int, *, generator: Generator | None = None, dtype=None, device=None) -> Tensor:
    """A random permutation of 0..n-1."""
    n = index_value(n, "randperm", "n")
    if n < 0:
        raise op_error(ArgumentError, "randperm", f"n must be non-negative, got {n}")
    dt = dtype_arg(dtype, "randperm") or int64
    if dt is bool_:
        raise op_error(UnsupportedDTypeError, "randperm", "bool is not a supported dtype")
    return _finish(_rng(generator, "randperm").permutation(n).astype(dt.np), dt, device, False)


def rand_like(input: Tensor, *, dtype=None, device=None, requires_grad: bool = False) -> Tensor:
    tensor_value(input, "rand_like")
    _float_dtype(dtype or input.dtype, "rand_like")
    return rand(*input.shape, dtype=dtype or input.dtype, device=device, requires_grad=requires_grad)


def randn_like(input: Tensor, *, dtype=None, device=None, requires_grad: bool = False) -> Tensor:
    tensor_value(input, "randn_like")
    _float_dtype(dtype or input.dtype, "randn_like")
    return randn(*input.shape, dtype=dtype or input.dtype, device=device, requires_grad=requires_grad)


def randint_like(input: Tensor, low, high=None, *, dtype=None, device=None) -> Tensor:
    tensor_value(input, "randint_like")
    if high is None:
        low, high = 0, low
    return _integers(low, high, tuple(input.shape), None, dtype or input.dtype, device, False,
                     "randint_like")


def normal(mean=0.0, std=1.0, size=None, *, generator: Generator | None = None, dtype=None,
           device=None) -> Tensor:
    """Normal samples with the given mean and std (numbers or tensors, broadcast)."""
    m = mean._data if isinstance(mean, Tensor) else number_value(mean, "normal", "mean")
    s = std._data if isinstance(std, Tensor) else number_value(std, "normal", "std")
    if not isinstance(s, (int, float)):
        if not (NUMPY.to_host(s) >= 0).all():  # NaN fails too
            raise op_error(ArgumentError, "normal", "every element of std must be >= 0")
    elif not s >= 0:
        raise op_error(ArgumentError, "normal", f"std must be >= 0, got {s}")
    tensors = isinstance(mean, Tensor) or isinstance(std, Tensor)
    if size is not None:
        if tensors:
            raise op_error(DTypeError, "normal", "give size only with numbers for mean and std "
                           "(tensors give the shape)")
        shape = _shape((size,), "normal")
    elif not tensors:
        raise op_error(DTypeError, "normal", "with numbers for mean and std, give the size")
    else:
        try:
            shape = np.broadcast_shapes(np.shape(m), np.shape(s))
        except ValueError:
            raise op_error(ShapeError, "normal", f"mean of shape {np.shape(m)} and std of shape "
                           f"{np.shape(s)} do not broadcast") from None
    dt = _float_dtype(dtype or (mean.dtype if isinstance(mean, Tensor) else None), "normal")
    array = (_rng(generator, "normal").standard_normal(shape) * s + m).astype(dt.np)
    return _finish(array, dt, device, False)


def bernoulli(input: Tensor, p=None, *, generator: Generator | None = None) -> Tensor:
    """1 with probability ``input`` (or ``p``), else 0; same shape and dtype as ``input``."""
    floating_input(input, "bernoulli")
    if p is None:
        probs = NUMPY.to_host(input._data)
        if not ((probs >= 0) & (probs <= 1)).all():  # NaN fails too
            raise op_error(ArgumentError, "bernoulli", "every element of input must be a "
                           "probability in [0, 1]")
    else:
        probs = probability(p, "bernoulli")
    draw = _rng(generator, "bernoulli").random(input._data.shape) < probs
    return Tensor._make(draw.astype(input._data.dtype))


def multinomial(input: Tensor, num_samples: int, replacement: bool = False, *,
                generator: Generator | None = None) -> Tensor:
    """Indices sampled from the rows of ``input`` (non-negative weights)."""
    floating_input(input, "multinomial")
    if input.ndim not in (1, 2):
        raise op_error(ShapeError, "multinomial", f"input must be 1-D or 2-D, got shape "
                       f"{tuple(input.shape)}")
    num_samples = index_value(num_samples, "multinomial", "num_samples")
    categories = input.shape[-1]
    if num_samples <= 0:
        raise op_error(ArgumentError, "multinomial", f"num_samples must be positive, got {num_samples}")
    if not replacement and num_samples > categories:
        raise op_error(ArgumentError, "multinomial", f"cannot take {num_samples} samples from "
                       f"{categories} categories without replacement")
    probs = np.atleast_2d(NUMPY.to_host(input._data)).astype(np.float64)
    if not (np.isfinite(probs).all() and (probs >= 0).all()):
        raise op_error(ArgumentError, "multinomial", "weights must be finite and non-negative")
    rng = _rng(generator, "multinomial")
    rows = []
    for row in probs:
        if row.sum() <= 0:
            raise op_error(ArgumentError, "multinomial", "weights must have a positive sum")
        nonzero = np.flatnonzero(row)
        if replacement or num_samples <= nonzero.size:
            rows.append(rng.choice(row.size, size=num_samples, replace=replacement, p=row / row.sum()))
        else:  # every weighted category first, then zero-weight ones (as PyTorch)
            drawn = rng.choice(nonzero, size=nonzero.size, replace=False, p=row[nonzero] / row.sum())
            rest = rng.permutation(np.flatnonzero(row == 0))[:num_samples - nonzero.size]
            rows.append(np.concatenate([drawn, rest]))
    out = np.array(rows, dtype=np.int64)
    return Tensor._make(out if input._data.ndim == 2 else out[0])


Tensor.multinomial = multinomial  # x.multinomial(n), as sampling code writes it
