"""DLPack: hand a tensor's memory to NumPy, PyTorch or CuPy (and take theirs) without a
copy, as ``torch.utils.dlpack``. The exchange itself is the array library's (NumPy's for
the CPU, CuPy's for CUDA); this module adds what PyTorch does on top of it.

>>> import numpy as np
>>> import chainrule as cr
>>> t = cr.zeros(3)
>>> a = np.from_dlpack(t)          # the same memory
>>> a[0] = 7.0
>>> t
tensor([7., 0., 0.])
>>> back = cr.from_dlpack(a)       # and back
>>> back[1] = 5.0
>>> a
array([7., 5., 0.], dtype=float32)

bfloat16, which NumPy's DLPack does not know, travels as DLPack's bfloat16 type: the
array is exported as uint16 and the type code in the capsule is set to kDLBfloat (and
back on import), so a chainrule bfloat16 tensor reaches PyTorch as ``torch.bfloat16``;
NumPy refuses it as it refuses PyTorch's.
"""
from __future__ import annotations

import ctypes

import numpy as np

from ..backends import NUMPY, Device
from ..errors import op_error

__all__ = ["to_dlpack", "from_dlpack"]

KDL_CPU, KDL_CUDA = 1, 2
_UINT, _BFLOAT = 1, 4  # DLDataTypeCode
_NAMES = (b"dltensor", b"dltensor_versioned")
# where DLTensor starts in DLManagedTensor (first) and in DLManagedTensorVersioned (after
# version, manager_ctx, deleter and flags), and where its dtype's code byte sits in it
# (after data pointer, device and ndim)
_TENSOR_AT = {b"dltensor": 0, b"dltensor_versioned": 32}
_DTYPE_CODE_AT = 20
_DEVICE_AT = 8

_INVALID = ("from_dlpack received an invalid capsule. Note that DLTensor capsules can be "
            "consumed only once, so you might have already constructed a tensor from it once.")


def _capi():
    api = ctypes.pythonapi
    api.PyCapsule_GetName.restype = ctypes.c_char_p
    api.PyCapsule_GetName.argtypes = [ctypes.py_object]
    api.PyCapsule_GetPointer.restype = ctypes.c_void_p
    api.PyCapsule_GetPointer.argtypes = [ctypes.py_object, ctypes.c_char_p]
    api.PyCapsule_IsValid.restype = ctypes.c_int
    api.PyCapsule_IsValid.argtypes = [ctypes.py_object, ctypes.c_char_p]
    return api


def _is_capsule(obj) -> bool:
    return type(obj).__name__ == "PyCapsule"


def _dl_tensor(capsule) -> int:
    """The address of the DLTensor inside an unconsumed DLPack capsule."""
    api = _capi()
    name = api.PyCapsule_GetName(capsule)
    if name not in _NAMES or not api.PyCapsule_IsValid(capsule, name):
        raise RuntimeError(_INVALID)
    return api.PyCapsule_GetPointer(capsule, name) + _TENSOR_AT[name]


def _dtype_code(capsule) -> ctypes.c_uint8:
    return ctypes.c_uint8.from_address(_dl_tensor(capsule) + _DTYPE_CODE_AT)


def _device_type(capsule) -> int:
    return ctypes.c_int32.from_address(_dl_tensor(capsule) + _DEVICE_AT).value


def export(array, stream=-1, max_version=None, dl_device=None, copy=None):
    """A DLPack capsule of ``array`` (NumPy or CuPy), bfloat16 included."""
    if type(array) is np.ndarray and stream not in (None, -1):
        raise AssertionError("stream should be None on cpu.")  # (PyTorch's check and type)
    if type(array) is np.ndarray:
        stream = None  # NumPy only takes None; PyTorch reads -1 as None off CUDA
    if any(st < 0 for st in array.strides):
        # (only a tensor from a reversed NumPy view has them; PyTorch's importer aborts the
        # process on one, so refuse as torch.from_numpy does)
        raise BufferError(f"__dlpack__: cannot export a tensor of shape {tuple(array.shape)} "
                          f"with negative strides {tuple(array.strides)} (PyTorch does not "
                          f"support them); export .contiguous() or .clone() instead")
    bf16 = array.dtype.name == "bfloat16"
    if bf16:
        array = array.view(np.uint16)
    kwargs = {"stream": stream}
    if max_version is not None or dl_device is not None or copy is not None:
        kwargs.update(max_version=max_version, dl_device=dl_device, copy=copy)
    if array.ndim and not getattr(array.flags, "writeable", True) and max_version is None:
        # the unversioned protocol cannot say read-only, so NumPy refuses: export a copy
        # (an expand()ed tensor is a read-only broadcast view here, writable in PyTorch)
        array = array.copy()
    capsule = array.__dlpack__(**kwargs)
    if bf16:
        _dtype_code(capsule).value = _BFLOAT
    return capsule


class _Memory(ctypes.Structure):
    """Keeps the imported array (so its capsule's deleter waits) while an alias lives."""


def _writable_alias(array: np.ndarray) -> np.ndarray:
    """A writable array over ``array``'s memory. NumPy imports a capsule of the unversioned
    protocol read-only (it cannot tell whether the producer allows writes); PyTorch imports
    it writable, and so does chainrule."""
    if array.size == 0:
        return array.copy()
    from numpy.lib.array_utils import byte_bounds
    low, high = byte_bounds(array)
    memory = (ctypes.c_char * (high - low)).from_address(low)
    holder = _Memory()
    holder.array = array  # (ctypes objects take attributes: memory's owner keeps array)
    memory._owner = holder
    start = array.__array_interface__["data"][0] - low
    return np.ndarray(array.shape, array.dtype, buffer=memory, offset=start, strides=array.strides)


class _Capsule:
    """An already-made capsule, offered to ``np.from_dlpack`` (which takes only objects
    with ``__dlpack__``)."""

    def __init__(self, capsule, device: tuple) -> None:
        self.capsule, self.device = capsule, device

    def __dlpack__(self, stream=None, **_):
        return self.capsule

    def __dlpack_device__(self) -> tuple:
        return self.device


def to_dlpack(tensor):
    """A DLPack capsule sharing ``tensor``'s memory (``torch.utils.dlpack.to_dlpack``; as
    there, a tensor that requires grad is exported too, its data without its graph).

    >>> import chainrule as cr
    >>> capsule = cr.utils.dlpack.to_dlpack(cr.arange(3))
    >>> cr.utils.dlpack.from_dlpack(capsule)
    tensor([0, 1, 2])
    """
    from ..tensor import Tensor
    if not isinstance(tensor, Tensor):
        raise op_error(TypeError, "to_dlpack", f"expected a chainrule.Tensor, got "
                       f"{type(tensor).__name__}")
    return export(tensor._data)


def from_dlpack(ext_tensor, *, device=None, copy: bool | None = None):
    """A tensor sharing the memory of ``ext_tensor``: an object with ``__dlpack__`` (a
    NumPy array, a PyTorch or CuPy tensor, …) or a DLPack capsule, which can be used once
    (``torch.from_dlpack``). ``copy=True`` copies; ``device`` moves the result there.

    >>> import chainrule as cr
    >>> import numpy as np
    >>> cr.from_dlpack(np.arange(3.0))
    tensor([0., 1., 2.], dtype=chainrule.float64)
    """
    from ..tensor import Tensor
    if _is_capsule(ext_tensor):
        capsule = ext_tensor
        where = (_device_type(capsule), 0)
    elif hasattr(ext_tensor, "__dlpack__"):
        where = tuple(ext_tensor.__dlpack_device__())
        if isinstance(ext_tensor, Tensor):
            capsule = ext_tensor.__dlpack__(max_version=(1, 0))
        elif int(where[0]) == KDL_CPU:
            try:
                capsule = ext_tensor.__dlpack__(stream=None, max_version=(1, 0))
            except TypeError:  # a producer from before DLPack 1.0
                capsule = ext_tensor.__dlpack__(stream=None)
        else:
            capsule = None  # another device: its library picks the stream (below)
    else:  # PyTorch tries the object as a capsule, and so says
        raise RuntimeError(_INVALID)
    kind = int(where[0])
    if kind == KDL_CPU:
        code = _dtype_code(capsule)
        bf16 = code.value == _BFLOAT
        if bf16:
            code.value = _UINT  # uint16 to NumPy, bfloat16 again below
        legacy = _capi().PyCapsule_GetName(capsule) == b"dltensor"
        array = NUMPY.from_dlpack(_Capsule(capsule, (KDL_CPU, 0)))
        if legacy and not array.flags.writeable:
            array = _writable_alias(array)
        if bf16:
            from .._mldtypes import numpy_dtype
            array = array.view(numpy_dtype("bfloat16"))
        if copy:
            array = array.copy()
    else:
        from ..backends import backend_for_device
        xp = backend_for_device(Device("cuda", int(where[1])))
        if capsule is not None:
            array = xp.fromDlpack(capsule) if hasattr(xp, "fromDlpack") else xp.from_dlpack(capsule)
        else:
            array = xp.from_dlpack(ext_tensor)
        if copy:
            array = array.copy()
    out = Tensor._make(array)
    if device is not None and Device(device) != out.device:
        out = out.to(device)
    return out
