"""The Tensor: an n-dimensional array that remembers how it was computed.

Arithmetic, math, reductions and indexing are attached to this class by the op
families under ``chainrule/ops`` (each op is declared once there); this file holds
what a tensor *is*: its array, its gradient bookkeeping and its conversions.

>>> import chainrule as cr
>>> x = cr.tensor([[1.0, 2.0]], requires_grad=True)
>>> y = (x * x).sum()
>>> y.backward()
>>> x.grad
tensor([[2., 4.]])
"""
from __future__ import annotations

import weakref
from typing import Any, Callable

from .autograd.graph import _TENSOR, HOOKED_LEAVES, RemovableHandle, VersionCounter, accumulator_of
from .backends import backend_of
from .dtypes import DType, from_numpy_dtype, get_default_dtype
from .errors import ChainruleError, DTypeError, ShapeError, op_error


class _LeafHookHandle(RemovableHandle):
    """A leaf's hook handle: removing the leaf's last hook takes it off the engine's
    hooked-leaf path, so later plain backward passes skip the counting pass again."""

    __slots__ = ("_leaf",)

    def __init__(self, leaf, hooks: list, fn) -> None:
        super().__init__(hooks, fn)
        self._leaf = weakref.ref(leaf)

    def remove(self) -> None:
        super().remove()
        leaf = self._leaf()
        if leaf is not None:
            leaf._unmark_hooked_leaf()


class _Late:
    """What Tensor's methods call in modules above this one (which import ``tensor``): each
    module sets its entry when it is imported (``chainrule/__init__`` imports them all), so
    that this file imports nothing above it. The unset entries say who provides them."""

    @staticmethod
    def backward(*args) -> None:
        raise RuntimeError("chainrule.autograd.engine is not imported: import chainrule")

    @staticmethod
    def legacy_array(*args):
        raise RuntimeError("chainrule.legacy is not imported: import chainrule")

    @staticmethod
    def dlpack_export(*args):
        raise RuntimeError("chainrule.utils.dlpack is not imported: import chainrule")


LATE = _Late()


class Tensor:
    """An n-dimensional array with autograd. Make one with :func:`chainrule.tensor`."""

    # what every tensor sets is a slot; what few set has a class default and, once set,
    # lives in the instance __dict__ (made on first write): making a tensor stays cheap
    __slots__ = ("_data", "_requires_grad", "grad_fn", "_vc", "__dict__", "__weakref__")
    _grad = None
    _accum = None  # a leaf's AccumulateGrad, made on first use
    _hooks = None
    _post_accumulate_hooks = None  # a leaf's hooks run after its .grad is complete
    _retains_grad = False
    _base = None  # a view's root base: the tensor whose memory and history it shares
    _view_chain = None  # the view ops that make a view from its base (see ops/views.py)
    _view_meta = None  # None, "no_grad" or (function, output index) for multi-view outputs
    _views = None  # weak references to a base's views, whose histories follow its in-place changes
    _grad_owned = False  # this gradient's buffer is the engine's own (may be summed into)

    __array_priority__ = 1000  # numpy defers ``ndarray * tensor`` to Tensor.__rmul__

    def __init__(self, *args: Any, requires_grad: bool = False, device=None) -> None:
        # PyTorch's legacy constructor: Tensor(2, 3) sizes, Tensor([1, 2]) float data,
        # Tensor(t) shares t's memory (see chainrule/legacy.py, which provides it)
        array, vc = LATE.legacy_array("Tensor", tuple(a for a in args if a is not None), None, device)
        Tensor._init(self, array, False, None, vc)
        if requires_grad:
            self.requires_grad = True

    # -- construction used by ops (no checks: the hot path) ----------------------
    @staticmethod
    def _init(t: "Tensor", array, requires_grad: bool, grad_fn, vc) -> None:
        t._data = array
        t._requires_grad = requires_grad
        t.grad_fn = grad_fn
        t._vc = VersionCounter() if vc is None else vc

    @classmethod
    def _make(cls, array, requires_grad: bool = False, grad_fn=None, vc=None) -> "Tensor":
        t = object.__new__(Tensor)
        Tensor._init(t, array, requires_grad, grad_fn, vc)
        return t

    def _accumulator(self):
        return accumulator_of(self)

    # -- metadata ----------------------------------------------------------------
    @property
    def shape(self) -> "Size":
        return Size(self._data.shape)

    def size(self, dim: int | None = None):
        """The shape, or the length of one dimension."""
        if dim is None:
            return Size(self._data.shape)
        return self._data.shape[_wrap_dim(dim, self._data.ndim, "size")]

    @property
    def dtype(self) -> DType:
        return from_numpy_dtype(self._data.dtype)

    @property
    def device(self):
        return backend_of(self._data).device

    @property
    def is_cuda(self) -> bool:
        return self.device.type == "cuda"

    @property
    def ndim(self) -> int:
        return self._data.ndim

    def dim(self) -> int:
        return self._data.ndim

    ndimension = dim

    def numel(self) -> int:
        return int(self._data.size)

    nelement = numel

    def element_size(self) -> int:
        return self._data.itemsize

    def is_floating_point(self) -> bool:
        return self._data.dtype.kind in "fV"  # (V: bfloat16)

    def is_contiguous(self) -> bool:
        return bool(self._data.flags.c_contiguous)

    def stride(self, dim: int | None = None):
        strides = tuple(s // self._data.itemsize for s in self._data.strides)
        return strides if dim is None else strides[_wrap_dim(dim, self.ndim, "stride")]

    def __len__(self) -> int:
        if self._data.ndim == 0:
            raise op_error(DTypeError, "len", "len() of a 0-d tensor")
        return self._data.shape[0]

    # -- autograd state ----------------------------------------------------------
    @property
    def requires_grad(self) -> bool:
        return self._requires_grad

    @requires_grad.setter
    def requires_grad(self, value: bool) -> None:
        if value is not True and value is not False:
            from ._plain_args import bool_value
            value = bool_value(value, "requires_grad", "requires_grad")
        if self.grad_fn is not None:
            if not value:
                raise op_error(ChainruleError, "requires_grad",
                               "you can only change requires_grad of leaf tensors; use detach() "
                               "to get a tensor that does not require grad")
            return
        if value and self._data.dtype.kind not in "fV":
            raise op_error(DTypeError, "requires_grad",
                           f"only floating-point tensors can require gradients, got dtype "
                           f"{self.dtype.name}; convert first, e.g. x.float()")
        self._requires_grad = value

    def requires_grad_(self, requires_grad: bool = True) -> "Tensor":
        """Set ``requires_grad`` in place and return self."""
        self.requires_grad = requires_grad
        return self

    @property
    def is_leaf(self) -> bool:
        """True for tensors made by the user rather than by a recorded op."""
        return self.grad_fn is None

    @property
    def grad(self) -> "Tensor | None":
        """The accumulated gradient (leaves, and tensors that called ``retain_grad``)."""
        return self._grad

    @grad.setter
    def grad(self, value: "Tensor | None") -> None:
        if value is not None:
            if not isinstance(value, Tensor):
                raise op_error(DTypeError, "grad", f"expected a Tensor or None, got "
                               f"{type(value).__name__}")
            if value._data.dtype != self._data.dtype:
                raise op_error(DTypeError, "grad", f"assigned gradient has dtype {value.dtype.name}"
                               f", but the tensor has dtype {self.dtype.name}")
            if value._data.shape != self._data.shape:
                raise op_error(ShapeError, "grad", f"assigned gradient has shape {tuple(value.shape)}"
                               f", but the tensor has shape {tuple(self.shape)}")
        self._grad = value
        self._grad_owned = False

    @property
    def _version(self) -> int:
        return self._vc.value

    @property
    def data(self) -> "Tensor":
        """A tensor sharing this one's array, outside the graph (as PyTorch's ``.data``)."""
        return self.detach()

    @data.setter
    def data(self, value: "Tensor") -> None:
        if not isinstance(value, Tensor):
            raise TypeError(f"data: expected a Tensor, got {type(value).__name__}")
        self._data = value._data

    def detach(self) -> "Tensor":
        """A tensor with the same data, cut from the graph (shares memory and version)."""
        # shares memory and version counter, but it is no view for autograd (as PyTorch:
        # its ``_base`` is None), so an in-place change of it is recorded as of any tensor
        return Tensor._make(self._data, False, None, self._vc)

    def detach_(self) -> "Tensor":
        """Cut this tensor from the graph in place, making it a leaf."""
        self.grad_fn = None
        self._requires_grad = False
        return self

    def retain_grad(self) -> None:
        """Keep ``.grad`` on this non-leaf tensor after backward."""
        if self.grad_fn is None:
            if not self._requires_grad:
                raise op_error(ChainruleError, "retain_grad",
                               "cannot retain the gradient of a tensor that does not require grad")
            return
        if self._retains_grad:
            return
        self._retains_grad = True
        self.grad_fn.retained = weakref.ref(self)

    @property
    def retains_grad(self) -> bool:
        return self._retains_grad

    def register_hook(self, hook: Callable[["Tensor"], "Tensor | None"]) -> RemovableHandle:
        """Call ``hook(grad)`` when this tensor's gradient is computed; a returned tensor
        replaces the gradient.

        >>> import chainrule as cr
        >>> x = cr.ones(2, requires_grad=True)
        >>> h = x.register_hook(lambda g: g * 10)
        >>> (x * 3).sum().backward()
        >>> x.grad
        tensor([30., 30.])
        """
        self._check_hookable("register_hook")
        if self.grad_fn is not None:
            return self.grad_fn.register_prehook(hook)
        self._mark_hooked_leaf()
        self._hooks.append(hook)
        return _LeafHookHandle(self, self._hooks, hook)

    def _check_hookable(self, name: str) -> None:
        if not self._requires_grad:
            raise op_error(ChainruleError, name,
                           "cannot register a hook on a tensor that does not require grad")

    def _mark_hooked_leaf(self) -> None:
        """Route this leaf's gradients through the engine's hooked-leaf path (summed, then
        handed over once: see engine._arrive); its hooks run even if only a graph holds it."""
        if self._hooks is None:
            self._hooks = []
            self._accumulator().keep_alive()
            HOOKED_LEAVES.add(self)

    def _unmark_hooked_leaf(self) -> None:
        """The last hook is gone: plain backward passes stop counting this leaf's inputs."""
        if not self._hooks and not self._post_accumulate_hooks:
            self._hooks = None
            self._post_accumulate_hooks = None
            HOOKED_LEAVES.discard(self)

    def register_post_accumulate_grad_hook(
            self, hook: Callable[["Tensor"], None]) -> RemovableHandle:
        """Call ``hook(self)`` once a backward pass has added this leaf's whole gradient to
        ``.grad`` (not for ``autograd.grad``, which accumulates nothing). The hook returns
        None; it may read ``self.grad``, update ``self`` in place and drop the gradient,
        which is how an optimizer step runs inside backward and each gradient is freed as
        soon as it is used.

        >>> import chainrule as cr
        >>> w = cr.ones(2, requires_grad=True)
        >>> def sgd(p):
        ...     with cr.no_grad():
        ...         p -= 0.5 * p.grad
        ...     p.grad = None
        >>> h = w.register_post_accumulate_grad_hook(sgd)
        >>> (w * 3).sum().backward()
        >>> w, w.grad
        (tensor([-0.5000, -0.5000], requires_grad=True), None)
        """
        name = "register_post_accumulate_grad_hook"
        self._check_hookable(name)
        if self.grad_fn is not None:
            raise op_error(ChainruleError, name,
                           "post-accumulate-grad hooks can only be registered on leaf tensors; "
                           f"this tensor was made by {self.grad_fn.name()}")
        self._mark_hooked_leaf()
        if self._post_accumulate_hooks is None:
            self._post_accumulate_hooks = []
        self._post_accumulate_hooks.append(hook)
        return _LeafHookHandle(self, self._post_accumulate_hooks, hook)

    def backward(self, gradient: "Tensor | None" = None, retain_graph: bool | None = None,
                 create_graph: bool = False, inputs=None) -> None:
        """Accumulate d(self)/d(leaf) into every leaf's ``.grad`` (see autograd.backward)."""
        # one output, one gradient (which may be given as a nested list of numbers)
        LATE.backward(self, None if gradient is None else (gradient,), retain_graph,
                         create_graph, inputs)

    # -- conversion --------------------------------------------------------------
    def numpy(self, *, force: bool = False):
        """The data as a NumPy array (shares memory on the CPU)."""
        if self._requires_grad and not force:
            raise op_error(ChainruleError, "numpy",
                           "can't call numpy() on a tensor that requires grad; use "
                           "tensor.detach().numpy()")
        _no_numpy_bfloat16(self._data)
        return backend_of(self._data).to_host(self._data)

    def __array__(self, dtype=None, copy=None):
        _no_numpy_bfloat16(self._data)
        array = backend_of(self._data).to_host(self._data)
        return array if dtype is None else array.astype(dtype)

    def __dlpack__(self, *, stream=-1, max_version=None, dl_device=None, copy=None):
        """A DLPack capsule of this tensor's memory, for ``np.from_dlpack``,
        ``torch.from_dlpack`` … (a tensor that requires grad is refused, as in PyTorch)."""
        if self._requires_grad:
            raise BufferError("Can't export tensors that require gradient, use tensor.detach()")
        return LATE.dlpack_export(self._data, stream, max_version, dl_device, copy)

    def __dlpack_device__(self) -> tuple:
        """``(DLPack device type, index)``: ``(1, 0)`` on the CPU."""
        return self._data.__dlpack_device__()

    def item(self):
        """The value of a one-element tensor as a Python number."""
        if self._data.size != 1:
            raise op_error(ShapeError, "item", f"only one-element tensors can be converted to "
                           f"Python scalars, got shape {tuple(self.shape)}")
        return self._data.reshape(()).item()

    def tolist(self):
        """The data as (nested) Python lists of numbers."""
        return backend_of(self._data).to_host(self._data).tolist()

    def __float__(self) -> float:
        return float(self.item())

    def __int__(self) -> int:
        return int(self.item())

    def __index__(self) -> int:
        if self._data.dtype.kind not in "iub" or self._data.size != 1:
            raise TypeError("only integer tensors of a single element can be converted to an index")
        return int(self.item())

    def __bool__(self) -> bool:
        if self._data.size != 1:
            raise op_error(ChainruleError, "bool", f"the truth value of a tensor with "
                           f"{self._data.size} elements is ambiguous; use .any() or .all()")
        return bool(self.item())

    def __hash__(self) -> int:
        return id(self)

    def __iter__(self):
        if self._data.ndim == 0:
            raise op_error(DTypeError, "iter", "iteration over a 0-d tensor")
        return iter(self.unbind(0))

    def __reversed__(self):
        return iter(self.unbind(0)[::-1])

    def __deepcopy__(self, memo):
        t = Tensor._make(self._data.copy(), self._requires_grad if self.grad_fn is None else False)
        if type(self) is not Tensor:
            t = type(self)._from_tensor(t) if hasattr(type(self), "_from_tensor") else t
        if self._grad is not None:
            t._grad = Tensor._make(self._grad._data.copy())
        memo[id(self)] = t
        return t

    def __reduce_ex__(self, protocol):
        raise TypeError("chainrule tensors are not pickled; use chainrule.save (safetensors)")

    def __repr__(self) -> str:
        return _format_tensor(self)

    __str__ = __repr__

    def __format__(self, spec: str) -> str:
        # As PyTorch: only a 0-dim tensor formats as its number; f"{t}" of any other tensor is
        # its repr (e.g. "tensor([9])"), and a format spec on it is a TypeError.
        if self._data.ndim == 0:
            return format(self.item(), spec)
        if spec:
            raise TypeError(f"unsupported format string passed to {type(self).__name__}.__format__")
        return repr(self)


_new_object = object.__new__


def _no_numpy_bfloat16(array) -> None:
    """NumPy has no bfloat16, so PyTorch's ``.numpy()`` refuses one: so do we (ml_dtypes'
    array type would be a chainrule-only answer)."""
    if array.dtype.kind == "V":
        raise op_error(DTypeError, "numpy", "Got unsupported ScalarType BFloat16; NumPy has no "
                       "bfloat16: convert first, e.g. t.float().numpy()")


_TENSOR[:] = [Tensor]  # for autograd.graph, below this module


def wrap_array(array, vc=None) -> Tensor:
    """A plain Tensor over ``array`` (no grad): the fastest way ops and the engine make one."""
    t = _new_object(Tensor)
    t._data = array
    t._requires_grad = False
    t.grad_fn = None
    t._vc = VersionCounter() if vc is None else vc
    return t


class Size(tuple):
    """A tensor's shape: a tuple with PyTorch's ``numel()``."""

    def numel(self) -> int:
        n = 1
        for s in self:
            n *= s
        return n

    def __repr__(self) -> str:
        return f"chainrule.Size([{', '.join(str(s) for s in self)}])"


def _wrap_dim(dim: int, ndim: int, op: str) -> int:
    lo, hi = (-1, 0) if ndim == 0 else (-ndim, ndim - 1)
    if not isinstance(dim, int) or isinstance(dim, bool):
        raise op_error(DTypeError, op, f"dim must be an int, got {type(dim).__name__} {dim!r}")
    if not lo <= dim <= hi:
        from .errors import IndexingError
        raise op_error(IndexingError, op, f"dimension {dim} is out of range for a tensor with "
                       f"{ndim} dimensions (expected {lo} to {hi})")
    return dim % ndim if ndim else 0


# -- repr: a port of PyTorch's formatter (torch/_tensor_str.py), so output matches --
_PRECISION, _THRESHOLD, _EDGEITEMS, _LINEWIDTH = 4, 1000, 3, 80


class _Formatter:
    """Chooses one width and notation for every element, as PyTorch's ``_Formatter``."""

    def __init__(self, array) -> None:
        import numpy as np
        self.floating = array.dtype.kind in "fV"
        self.int_mode, self.sci_mode, self.max_width = True, False, 1
        flat = array.reshape(-1)
        if not self.floating:
            for v in flat.tolist():
                self.max_width = max(self.max_width, len(str(v)))
            return
        vals = flat[np.isfinite(flat) & (flat != 0)].astype(np.float64)
        if vals.size == 0:
            return
        absv = np.abs(vals)
        lo, hi = absv.min(), absv.max()
        self.int_mode = bool(np.all(vals == np.ceil(vals)))
        self.sci_mode = bool(hi / lo > 1000.0 or hi > 1.0e8 or lo < 1.0e-4)
        for v in vals.tolist():
            if self.sci_mode:
                width = len(f"{v:.{_PRECISION}e}")
            elif self.int_mode:
                width = len(f"{v:.0f}") + 1
            else:
                width = len(f"{v:.{_PRECISION}f}")
            self.max_width = max(self.max_width, width)

    def format(self, v) -> str:
        if self.floating:
            if self.sci_mode:
                ret = f"{v:{self.max_width}.{_PRECISION}e}"
            elif self.int_mode:
                ret = f"{v:.0f}" + ("" if v != v or v in (float("inf"), float("-inf")) else ".")
            else:
                ret = f"{v:.{_PRECISION}f}"
        else:
            ret = str(v)
        return (self.max_width - len(ret)) * " " + ret


def _summarized(array):
    """The elements a summarised print shows (edge items of every dimension)."""
    import numpy as np
    if array.ndim == 0:
        return array
    if array.ndim == 1:
        if array.shape[0] > 2 * _EDGEITEMS:
            return np.concatenate((array[:_EDGEITEMS], array[-_EDGEITEMS:]))
        return array
    rows = list(range(array.shape[0]))
    if array.shape[0] > 2 * _EDGEITEMS:
        rows = rows[:_EDGEITEMS] + rows[-_EDGEITEMS:]
    return np.stack([_summarized(array[i]) for i in rows])


def _vector_str(array, indent: int, summarize: bool, fmt: _Formatter) -> str:
    per_line = max(1, (_LINEWIDTH - indent) // (fmt.max_width + 2))
    if summarize and array.shape[0] > 2 * _EDGEITEMS:
        data = ([fmt.format(v) for v in array[:_EDGEITEMS].tolist()] + [" ..."]
                + [fmt.format(v) for v in array[-_EDGEITEMS:].tolist()])
    else:
        data = [fmt.format(v) for v in array.tolist()]
    lines = [", ".join(data[i:i + per_line]) for i in range(0, len(data), per_line)]
    return "[" + (",\n" + " " * (indent + 1)).join(lines) + "]"


def _array_str(array, indent: int, summarize: bool, fmt: _Formatter) -> str:
    if array.ndim == 0:
        return fmt.format(array.item())
    if array.ndim == 1:
        return _vector_str(array, indent, summarize, fmt)
    n = array.shape[0]
    if summarize and n > 2 * _EDGEITEMS:
        parts = ([_array_str(array[i], indent + 1, summarize, fmt) for i in range(_EDGEITEMS)]
                 + ["..."] + [_array_str(array[i], indent + 1, summarize, fmt)
                              for i in range(n - _EDGEITEMS, n)])
    else:
        parts = [_array_str(array[i], indent + 1, summarize, fmt) for i in range(n)]
    return "[" + ("," + "\n" * (array.ndim - 1) + " " * (indent + 1)).join(parts) + "]"


def _format_tensor(t: Tensor) -> str:
    array = backend_of(t._data).to_host(t._data)
    prefix = "tensor("
    indent = len(prefix)
    suffixes = []
    if t.device.type != "cpu":
        suffixes.append(f"device='{t.device}'")
    name = from_numpy_dtype(array.dtype).name
    if array.size == 0:
        if array.ndim != 1:
            suffixes.append(f"size={tuple(array.shape)}")
        if name != get_default_dtype().name:
            suffixes.append(f"dtype=chainrule.{name}")
        body = "[]"
    else:
        if name not in (get_default_dtype().name, "int64", "bool"):
            suffixes.append(f"dtype=chainrule.{name}")
        summarize = array.size > _THRESHOLD
        fmt = _Formatter(_summarized(array) if summarize else array)
        body = _array_str(array, indent, summarize, fmt)
    if t.grad_fn is not None:
        suffixes.append(f"grad_fn=<{t.grad_fn.name()}>")
    elif t._requires_grad:
        suffixes.append("requires_grad=True")
    out = prefix + body
    last = len(out) - out.rfind("\n") + 1
    for suffix in suffixes:
        if last + len(suffix) + 2 > _LINEWIDTH:
            out += ",\n" + " " * indent + suffix
            last = indent + len(suffix)
        else:
            out += ", " + suffix
            last += len(suffix) + 2
    return out + ")"
