"""Random numbers: a seedable default generator and the sampling functions.

CPU tensors draw from NumPy's PCG64 (``default_generator``). CUDA tensors draw on the
device, from one CUDA generator per GPU (``chainrule.cuda.manual_seed``); its state is
``(seed, offset)``, as PyTorch's Philox state: draw number ``offset`` reseeds the backend's
cuRAND Philox generator (``cupy.random.RandomState``) with a hash of both, so a state
restored with ``set_rng_state`` replays the stream exactly and CUDA draws never consume
the CPU stream.

>>> import chainrule as cr
>>> _ = cr.manual_seed(0); a = cr.rand(3)
>>> _ = cr.manual_seed(0); bool((cr.rand(3) == a).all())
True
"""
from __future__ import annotations

import numpy as np

from ._args import ArgumentError, UnsupportedDTypeError, index_value, number_value, tensor_value
from .backends import NUMPY, Device, backend_for_device
from .creation import _shape, _sizes
from .dtypes import bool_, dtype_arg, get_default_dtype, int64, uint8
from .errors import DeviceError, DTypeError, ShapeError, describe, op_error
from .tensor import Tensor

__all__ = ["Generator", "manual_seed", "seed", "initial_seed", "get_rng_state", "set_rng_state",
           "default_generator", "rand", "randn", "randint", "randperm", "rand_like", "randn_like",
           "randint_like", "normal", "bernoulli", "multinomial"]


_MASK64 = 2 ** 64 - 1


def _mix(seed: int, offset: int) -> int:
    """A 63-bit seed for draw ``offset`` of stream ``seed`` (SplitMix64's finaliser: nearby
    (seed, offset) pairs give unrelated seeds)."""
    z = (seed * 0x9E3779B97F4A7C15 + offset + 1) & _MASK64
    z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & _MASK64
    z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & _MASK64
    return (z ^ (z >> 31)) >> 1


class _DeviceDraws:
    """A CUDA generator's draws, made on the device: the subset of ``numpy.random.Generator``
    that chainrule's sampling code calls, returning the backend's (device) arrays."""

    def __init__(self, generator: "Generator") -> None:
        self._gen = generator
        self.backend = backend_for_device(generator.device)
        state = generator._device_state
        if state is None:  # (one cupy RandomState a generator: made on its first draw)
            state = generator._device_state = self.backend.random_state()
        self._state = state

    def _next(self):
        gen = self._gen
        self._state.seed(np.uint64(_mix(gen._seed, gen._offset)))  # (CuPy takes uint64 seeds)
        gen._offset += 1
        return self._state

    def random(self, size=None, dtype="float64"):
        return self._next().random_sample(size=size, dtype=dtype)

    def standard_normal(self, size=None, dtype="float64"):
        return self._next().standard_normal(size=size, dtype=dtype)

    def uniform(self, low=0.0, high=1.0, size=None):
        return self._next().uniform(low, high, size=size)

    def normal(self, loc=0.0, scale=1.0, size=None):
        return self._next().normal(loc, scale, size=size)

    def exponential(self, scale=1.0, size=None):
        return self._next().exponential(scale, size=size)

    def integers(self, low, high=None, size=None):
        return self._next().randint(low, high, size=size, dtype="int64")

    def permutation(self, n):
        return self._next().permutation(n)


class Generator:
    """A source of random numbers, seedable like ``torch.Generator``: NumPy's PCG64 on the
    CPU; on ``cuda``, draws made on the device (see the module doc).

    >>> import chainrule as cr
    >>> g = cr.Generator(device="cuda").manual_seed(3)   # needs no GPU until it draws
    >>> g.device, g.initial_seed(), tuple(g.get_state().shape)
    (device(type='cuda', index=0), 3, (16,))
    """

    def __init__(self, device="cpu") -> None:
        self.device = Device(device)
        self._seed = 0
        if self.device.type == "cuda":
            if self.device.index is None:  # (the current device: cuda.set_device's choice)
                from .backends.cupy_backend import selected_device
                self.device = Device("cuda", selected_device())
            self._offset = 0
            self._device_state = None
            return
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
        if self.device.type == "cuda":
            self._offset = 0
        else:
            self._rng = np.random.Generator(np.random.PCG64(self._seed))
        return self

    def seed(self) -> int:
        s = int(np.random.SeedSequence().entropy % (2 ** 63))
        self.manual_seed(s)
        return s

    def initial_seed(self) -> int:
        return self._seed

    def get_state(self) -> Tensor:
        """The generator's state as a uint8 tensor (for checkpoints; no pickle); on CUDA
        16 bytes, seed and offset (little-endian uint64s), as PyTorch's."""
        import json
        if self.device.type == "cuda":
            return Tensor._make(np.array([self._seed, self._offset], dtype="<u8").view(np.uint8))
        blob = json.dumps(self._rng.bit_generator.state).encode()
        return Tensor._make(np.frombuffer(blob, dtype=np.uint8).copy())

    def set_state(self, state: Tensor) -> "Generator":
        import json
        if not isinstance(state, Tensor) or state.dtype is not uint8:
            raise op_error(DTypeError, "Generator.set_state", f"the state must be a uint8 tensor "
                           f"from Generator.get_state(), got {describe(state)}")
        data = state._data
        if self.device.type == "cuda":
            if data.ndim != 1 or data.shape[0] != 16:
                raise op_error(ArgumentError, "Generator.set_state", f"a CUDA generator's state "
                               f"is 16 bytes (seed, offset) from get_state(), got {describe(state)}")
            self._seed, self._offset = (int(v) for v in
                                        np.asarray(data, dtype=np.uint8).view("<u8"))
            return self
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

    def _draws(self):
        """What draws for this generator: NumPy's generator, or the device's draws."""
        return self._rng if self.device.type == "cpu" else _DeviceDraws(self)


default_generator = Generator()
# seeded afresh in each process, as PyTorch's: unseeded runs differ; initial_seed() reports it
default_generator.seed()


_CUDA_GENERATORS: dict = {}  # device index → its default CUDA generator (made on first use)
# the seed of the last seeding of every GPU (manual_seed, cuda.manual_seed_all): a GPU's
# generator made after it starts from it too, as PyTorch seeds every GPU's
_SEED_ALL: list = [None]


def cuda_generator(index: int = 0) -> Generator:
    """The default generator of GPU ``index`` (``torch.cuda.default_generators[index]``)."""
    gen = _CUDA_GENERATORS.get(index)
    if gen is None:
        gen = _CUDA_GENERATORS[index] = Generator(Device("cuda", index))
        if _SEED_ALL[0] is None:
            gen.seed()  # (a fresh seed a process, as the CPU's default generator)
        else:
            gen.manual_seed(_SEED_ALL[0])
    return gen


def seed_cuda_all(seed: int) -> None:
    """Seed every GPU's generator, those made later included (``cuda.manual_seed_all``)."""
    for gen in cuda_generators():
        gen.manual_seed(seed)
    _SEED_ALL[0] = seed


def cuda_generators() -> list:
    """Every CUDA generator made so far, device 0's always among them."""
    cuda_generator(0)
    return list(_CUDA_GENERATORS.values())


def manual_seed(seed: int) -> Generator:
    """Seed the default generator and every CUDA generator (and return the default one), as
    ``torch.manual_seed``.

    >>> import chainrule as cr
    >>> _ = cr.manual_seed(0)
    >>> a = cr.rand(3)
    >>> _ = cr.manual_seed(0)
    >>> cr.equal(cr.rand(3), a)
    True
    """
    gen = default_generator.manual_seed(seed)
    seed_cuda_all(gen.initial_seed())
    return gen


def seed() -> int:
    """Seed the default generator and the CUDA ones afresh (one seed, as ``torch.seed``).

    >>> import chainrule as cr
    >>> s = cr.seed()
    >>> cr.initial_seed() == s
    True
    """
    s = default_generator.seed()
    seed_cuda_all(s)
    return s


def initial_seed() -> int:
    """The seed the default generator was last seeded with (``torch.initial_seed``).

    >>> import chainrule as cr
    >>> _ = cr.manual_seed(7)
    >>> cr.initial_seed()
    7
    """
    return default_generator.initial_seed()


def get_rng_state() -> Tensor:
    """The default generator's state, as a uint8 tensor (``torch.get_rng_state``).

    >>> import chainrule as cr
    >>> state = cr.get_rng_state()
    >>> a = cr.rand(2)
    >>> cr.set_rng_state(state)
    >>> cr.equal(cr.rand(2), a)
    True
    """
    return default_generator.get_state()


def set_rng_state(state: Tensor) -> None:
    """Restore the default generator's state from :func:`get_rng_state` (``torch.set_rng_state``).

    >>> import chainrule as cr
    >>> state = cr.get_rng_state()
    >>> a = cr.randn(3)
    >>> cr.set_rng_state(state)
    >>> cr.equal(cr.randn(3), a)
    True
    """
    default_generator.set_state(state)


# While ``chainrule.compile`` captures a step, this wraps what ``_rng`` hands out, so that
# each draw is recorded as a call to replay (the same stream as eager), never as a constant;
# it is given how to find the generator again (a reseeding may replace NumPy's generator).
DRAW_HOOK = None


def _rng(generator, op: str = "random", device=None):
    """What draws for a tensor on ``device`` (None: the CPU) from ``generator`` (None: the
    device's default one): NumPy's generator on the CPU, device draws on CUDA."""
    rng = _rng_unhooked(generator, op, device)
    return rng if DRAW_HOOK is None else DRAW_HOOK(rng, lambda: _rng_unhooked(generator, op, device))


def _rng_unhooked(generator, op: str, device):
    dev = Device(device if device is not None else "cpu")
    if generator is None:
        if dev.type == "cpu":
            return default_generator._rng
        return cuda_generator(dev.index or 0)._draws()
    if not isinstance(generator, Generator):
        raise op_error(DTypeError, op, f"generator must be a chainrule.Generator or None, got "
                       f"{type(generator).__name__} {generator!r}")
    if generator.device.type != dev.type:  # (PyTorch's words)
        raise op_error(DeviceError, op, f"Expected a '{dev.type}' device type for generator but "
                       f"found '{generator.device.type}'")
    return generator._draws()


def _on_device(device) -> bool:
    return device is not None and Device(device).type != "cpu"


def _draw_dtype(dt) -> str:
    """The float dtype a device draw is made in (cuRAND makes float32 and float64 only)."""
    return "float64" if dt.np.itemsize > 4 else "float32"


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
    if device is not None and isinstance(array, np.ndarray):  # (device draws are there already)
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


def rand(*sizes, size=None, generator: Generator | None = None, dtype=None, device=None,
         requires_grad: bool = False) -> Tensor:
    """Uniform samples on [0, 1).

    >>> import chainrule as cr
    >>> _ = cr.manual_seed(0)
    >>> x = cr.rand(1000)
    >>> bool(x.min() >= 0), bool(x.max() < 1), x.shape
    (True, True, chainrule.Size([1000]))
    """
    dt = _float_dtype(dtype, "rand")
    size = _sizes(sizes, size, "rand")
    rng = _rng(generator, "rand", device)
    shape = _shape(size, "rand")
    if _on_device(device):
        array = rng.random(shape, dtype=_draw_dtype(dt)).astype(dt.np)
    else:
        array = rng.random(shape, dtype=np.float64).astype(dt.np)
    return _finish(array, dt, device, requires_grad)


def randn(*sizes, size=None, generator: Generator | None = None, dtype=None, device=None,
          requires_grad: bool = False) -> Tensor:
    """Standard normal samples.

    >>> import chainrule as cr
    >>> _ = cr.manual_seed(0)
    >>> cr.randn(2, 3).shape
    chainrule.Size([2, 3])
    """
    dt = _float_dtype(dtype, "randn")
    size = _sizes(sizes, size, "randn")
    rng = _rng(generator, "randn", device)
    shape = _shape(size, "randn")
    array = rng.standard_normal(shape, dtype=_draw_dtype(dt) if _on_device(device)
                                else np.float64).astype(dt.np)
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
    array = _rng(generator, op, device).integers(low, high, size=_shape((size,), op))
    return _finish(array.astype(dt.np), dt, device, requires_grad)


def randperm(n: int, *, generator: Generator | None = None, dtype=None, device=None) -> Tensor:
    """A random permutation of 0..n-1.

    >>> import chainrule as cr
    >>> _ = cr.manual_seed(0)
    >>> cr.randperm(5).sort().values
    tensor([0, 1, 2, 3, 4])
    """
    n = index_value(n, "randperm", "n")
    if n < 0:
        raise op_error(ArgumentError, "randperm", f"n must be non-negative, got {n}")
    dt = dtype_arg(dtype, "randperm") or int64
    if dt is bool_:
        raise op_error(UnsupportedDTypeError, "randperm", "bool is not a supported dtype")
    return _finish(_rng(generator, "randperm", device).permutation(n).astype(dt.np), dt, device,
                   False)


def rand_like(input: Tensor, *, dtype=None, device=None, requires_grad: bool = False) -> Tensor:
    """Uniform samples on [0, 1) shaped like ``input`` (``torch.rand_like``).

    >>> import chainrule as cr
    >>> _ = cr.manual_seed(0)
    >>> cr.rand_like(cr.zeros(2, 3)).shape
    chainrule.Size([2, 3])
    """
    tensor_value(input, "rand_like")
    _float_dtype(dtype or input.dtype, "rand_like")
    return rand(*input.shape, dtype=dtype or input.dtype, device=_like_device(input, device),
                requires_grad=requires_grad)


def randn_like(input: Tensor, *, dtype=None, device=None, requires_grad: bool = False) -> Tensor:
    """Standard normal samples shaped like ``input`` (``torch.randn_like``).

    >>> import chainrule as cr
    >>> _ = cr.manual_seed(0)
    >>> cr.randn_like(cr.zeros(2, dtype=cr.float64)).dtype
    chainrule.float64
    """
    tensor_value(input, "randn_like")
    _float_dtype(dtype or input.dtype, "randn_like")
    return randn(*input.shape, dtype=dtype or input.dtype, device=_like_device(input, device),
                 requires_grad=requires_grad)


def randint_like(input: Tensor, low, high=None, *, dtype=None, device=None) -> Tensor:
    """Random integers in [``low``, ``high``) shaped like ``input`` (``torch.randint_like``).

    >>> import chainrule as cr
    >>> _ = cr.manual_seed(0)
    >>> cr.randint_like(cr.zeros(5), 3, 4)
    tensor([3., 3., 3., 3., 3.])
    """
    tensor_value(input, "randint_like")
    if high is None:
        low, high = 0, low
    return _integers(low, high, tuple(input.shape), None, dtype or input.dtype,
                     _like_device(input, device), False, "randint_like")


def _like_device(input: Tensor, device):
    """A ``*_like`` result's device: ``device``, else the input's (as PyTorch)."""
    if device is not None:
        return device
    return None if input.device.type == "cpu" else input.device


def normal(mean=0.0, std=1.0, size=None, *, generator: Generator | None = None, dtype=None,
           device=None) -> Tensor:
    """Normal samples with the given mean and std (numbers or tensors, broadcast).

    >>> import chainrule as cr
    >>> _ = cr.manual_seed(0)
    >>> cr.normal(2.0, 0.0, size=(3,))
    tensor([2., 2., 2.])
    """
    m = mean._data if isinstance(mean, Tensor) else number_value(mean, "normal", "mean")
    s = std._data if isinstance(std, Tensor) else number_value(std, "normal", "std")
    if device is None:  # tensors give the device (as PyTorch: the output is where they are)
        device = next((t.device for t in (mean, std) if isinstance(t, Tensor)
                       and t.device.type != "cpu"), None)
    if not isinstance(s, (int, float)):
        if not _all(s >= 0):  # NaN fails too
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
    array = (_rng(generator, "normal", device).standard_normal(shape) * s + m).astype(dt.np)
    return _finish(array, dt, device, False)


def _all(condition) -> bool:
    """Whether every element of a (host or device) boolean array holds: one explicit sync."""
    return bool(condition.all().item())


def bernoulli(input: Tensor, p=None, *, generator: Generator | None = None) -> Tensor:
    """1 with probability ``input`` (or ``p``), else 0; same shape and dtype as ``input``.

    >>> import chainrule as cr
    >>> _ = cr.manual_seed(0)
    >>> cr.bernoulli(cr.tensor([0., 1., 1., 0.]))
    tensor([0., 1., 1., 0.])
    """
    floating_input(input, "bernoulli")
    device = None if input.device.type == "cpu" else input.device
    if p is None:
        probs = input._data
        if not _all((probs >= 0) & (probs <= 1)):  # NaN fails too
            raise op_error(ArgumentError, "bernoulli", "every element of input must be a "
                           "probability in [0, 1]")
    else:
        probs = probability(p, "bernoulli")
    rng = _rng(generator, "bernoulli", device)
    if device is None:
        draw = rng.random(input._data.shape) < probs
    else:
        draw = rng.random(input._data.shape, dtype=_draw_dtype(input.dtype)) < probs
    return Tensor._make(draw.astype(input._data.dtype))


def multinomial(input: Tensor, num_samples: int, replacement: bool = False, *,
                generator: Generator | None = None) -> Tensor:
    """Indices sampled from the rows of ``input`` (non-negative weights).

    >>> import chainrule as cr
    >>> _ = cr.manual_seed(0)
    >>> cr.multinomial(cr.tensor([0., 1., 0.]), 2, replacement=True)
    tensor([1, 1])
    """
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
    if input.device.type != "cpu":
        return _multinomial_on_device(input, num_samples, replacement, generator)
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


def _multinomial_on_device(input: Tensor, num_samples: int, replacement: bool, generator) -> Tensor:
    """multinomial drawn on the device, all rows at once: inverse CDF with replacement;
    without, the Gumbel-top-k trick (the k largest ``log(v) / w``, v uniform, are a
    weighted draw without replacement; zero weights come last, in random order)."""
    xp = backend_for_device(input.device).module
    rng = _rng(generator, "multinomial", input.device)
    w = xp.atleast_2d(input._data).astype("float64")
    if not _all(xp.isfinite(w) & (w >= 0)):
        raise op_error(ArgumentError, "multinomial", "weights must be finite and non-negative")
    total = w.sum(axis=-1, keepdims=True)
    if not _all(total > 0):
        raise op_error(ArgumentError, "multinomial", "weights must have a positive sum")
    rows, categories = w.shape
    if replacement:
        cdf = xp.cumsum(w, axis=-1) / total
        u = rng.random((rows, num_samples))
        out = (cdf[:, None, :] <= u[:, :, None]).sum(axis=-1).astype("int64")
        out = xp.minimum(out, categories - 1)  # (u just under 1 past a rounded-down cdf)
    else:
        v = 1.0 - rng.random((rows, categories))  # in (0, 1]: log(v) is finite
        positive = w > 0
        keys = xp.where(positive, xp.log(v) / xp.where(positive, w, 1.0), -1e300 * (1.0 + v))
        out = xp.argsort(-keys, axis=-1)[:, :num_samples].astype("int64")
    return Tensor._make(out if input._data.ndim == 2 else out[0])


Tensor.multinomial = multinomial  # x.multinomial(n), as sampling code writes it
