"""Random numbers: a seedable default generator and the sampling functions.

>>> import chainrule as cr
>>> _ = cr.manual_seed(0); a = cr.rand(3)
>>> _ = cr.manual_seed(0); bool((cr.rand(3) == a).all())
True
"""
from __future__ import annotations

import numpy as np

from .backends import NUMPY, backend_for_device
from .creation import _shape
from .dtypes import get_default_dtype, int64, to_dtype
from .errors import op_error
from .tensor import Tensor

__all__ = ["Generator", "manual_seed", "seed", "initial_seed", "get_rng_state", "set_rng_state",
           "default_generator", "rand", "randn", "randint", "randperm", "rand_like", "randn_like",
           "randint_like", "normal", "bernoulli", "multinomial"]


class Generator:
    """A source of random numbers (NumPy's PCG64), seedable like ``torch.Generator``."""

    def __init__(self, device="cpu") -> None:
        self._seed = 0
        self._rng = np.random.Generator(np.random.PCG64(0))

    def manual_seed(self, seed: int) -> "Generator":
        self._seed = int(seed)
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
        data = state._data if isinstance(state, Tensor) else np.asarray(state)
        try:
            self._rng.bit_generator.state = json.loads(bytes(np.asarray(data, dtype=np.uint8)).decode())
        except (ValueError, TypeError, KeyError, UnicodeDecodeError) as e:
            raise ValueError(f"Generator.set_state: expected a state from Generator.get_state() (a "
                             f"uint8 tensor of JSON text), got {type(state).__name__} of "
                             f"{np.size(data)} elements that does not decode: {e}") from None
        return self

    @property
    def numpy(self) -> np.random.Generator:
        return self._rng


default_generator = Generator()


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


def _rng(generator):
    return (generator or default_generator)._rng


def _finish(array, dtype, device, requires_grad: bool) -> Tensor:
    if device is not None:
        array = backend_for_device(device).from_host(array)
    t = Tensor._make(array)
    if requires_grad:
        t.requires_grad = True
    return t


def _float_dtype(dtype, op):
    dt = to_dtype(dtype) if dtype is not None else get_default_dtype()
    if not dt.is_floating_point:
        raise op_error(TypeError, op, f"expected a floating dtype, got {dt.name}")
    return dt


def rand(*size, generator: Generator | None = None, dtype=None, device=None,
         requires_grad: bool = False) -> Tensor:
    """Uniform samples on [0, 1)."""
    dt = _float_dtype(dtype, "rand")
    array = _rng(generator).random(_shape(size, "rand"), dtype=np.float64).astype(dt.np)
    return _finish(array, dt, device, requires_grad)


def randn(*size, generator: Generator | None = None, dtype=None, device=None,
          requires_grad: bool = False) -> Tensor:
    """Standard normal samples."""
    dt = _float_dtype(dtype, "randn")
    array = _rng(generator).standard_normal(_shape(size, "randn"), dtype=np.float64).astype(dt.np)
    return _finish(array, dt, device, requires_grad)


def randint(low, high=None, size=None, *, generator: Generator | None = None, dtype=None,
            device=None, requires_grad: bool = False) -> Tensor:
    """Integers in [low, high); ``randint(high, size)`` or ``randint(low, high, size)``."""
    if size is None:
        if high is None or not isinstance(high, (tuple, list)):
            raise op_error(TypeError, "randint", "expected randint(high, size) or "
                           "randint(low, high, size) with size a tuple")
        low, high, size = 0, low, high
    dt = to_dtype(dtype) if dtype is not None else int64
    array = _rng(generator).integers(low, high, size=_shape((size,), "randint")).astype(dt.np)
    return _finish(array, dt, device, requires_grad)


def randperm(n: int, *, generator: Generator | None = None, dtype=None, device=None) -> Tensor:
    """A random permutation of 0..n-1."""
    dt = to_dtype(dtype) if dtype is not None else int64
    return _finish(_rng(generator).permutation(int(n)).astype(dt.np), dt, device, False)


def rand_like(input: Tensor, *, dtype=None, device=None, requires_grad: bool = False) -> Tensor:
    return rand(*input.shape, dtype=dtype or input.dtype, device=device, requires_grad=requires_grad)


def randn_like(input: Tensor, *, dtype=None, device=None, requires_grad: bool = False) -> Tensor:
    return randn(*input.shape, dtype=dtype or input.dtype, device=device, requires_grad=requires_grad)


def randint_like(input: Tensor, low, high=None, *, dtype=None, device=None) -> Tensor:
    if high is None:
        low, high = 0, low
    return randint(low, high, tuple(input.shape), dtype=dtype or input.dtype, device=device)


def normal(mean=0.0, std=1.0, size=None, *, generator: Generator | None = None, dtype=None,
           device=None) -> Tensor:
    """Normal samples with the given mean and std (numbers or tensors, broadcast)."""
    m = mean._data if isinstance(mean, Tensor) else mean
    s = std._data if isinstance(std, Tensor) else std
    shape = np.broadcast_shapes(np.shape(m), np.shape(s)) if size is None else _shape((size,), "normal")
    dt = _float_dtype(dtype or (mean.dtype if isinstance(mean, Tensor) else None), "normal")
    array = (_rng(generator).standard_normal(shape) * s + m).astype(dt.np)
    return _finish(array, dt, device, False)


def bernoulli(input: Tensor, p=None, *, generator: Generator | None = None) -> Tensor:
    """1 with probability ``input`` (or ``p``), else 0; same shape and dtype as ``input``."""
    probs = input._data if p is None else p
    draw = _rng(generator).random(input._data.shape) < NUMPY.to_host(probs)
    return Tensor._make(draw.astype(input._data.dtype))


def multinomial(input: Tensor, num_samples: int, replacement: bool = False, *,
                generator: Generator | None = None) -> Tensor:
    """Indices sampled from the rows of ``input`` (non-negative weights)."""
    probs = np.atleast_2d(NUMPY.to_host(input._data)).astype(np.float64)
    rng = _rng(generator)
    rows = []
    for row in probs:
        if row.min() < 0 or row.sum() <= 0:
            raise op_error(ValueError, "multinomial", "weights must be non-negative with a positive sum")
        rows.append(rng.choice(row.size, size=num_samples, replace=replacement, p=row / row.sum()))
    out = np.array(rows, dtype=np.int64)
    return Tensor._make(out if input._data.ndim == 2 else out[0])
