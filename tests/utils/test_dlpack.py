"""DLPack exchange with NumPy and PyTorch: shared memory both ways, dtypes, strides, and
PyTorch's refusals (a tensor that requires grad, a used capsule, an object without
``__dlpack__``)."""
import numpy as np
import pytest
import torch
import torch.utils.dlpack as tdl

import chainrule as cr
import chainrule.utils.dlpack as cdl

DTYPES = ["bool", "int8", "uint8", "int16", "int32", "int64", "float16", "float32", "float64"]

# chainrule tensor -> other library's array, every consumer PyTorch users have
TO_OTHER = {
    "np.from_dlpack": np.from_dlpack,
    "torch.from_dlpack": torch.from_dlpack,
    "torch.utils.dlpack(to_dlpack)": lambda t: tdl.from_dlpack(cdl.to_dlpack(t)),
}
# other library's array -> chainrule tensor
FROM_OTHER = {
    "cr.from_dlpack(numpy)": (lambda: np.zeros((2, 3), np.float32), cr.from_dlpack),
    "cr.from_dlpack(torch)": (lambda: torch.zeros(2, 3), cr.from_dlpack),
    "cr.utils.dlpack(torch capsule)": (lambda: torch.zeros(2, 3),
                                       lambda t: cdl.from_dlpack(tdl.to_dlpack(t))),
}


def _write(x, value):
    x[(0,) * x.ndim] = value


def _first(x) -> float:
    return float(np.asarray(x.cpu() if isinstance(x, torch.Tensor) else x).reshape(-1)[0])


@pytest.mark.parametrize("consumer", TO_OTHER, ids=list(TO_OTHER))
def test_export_shares_memory_both_ways(consumer):
    t = cr.arange(6.0).reshape(2, 3)
    other = TO_OTHER[consumer](t)
    _write(other, 42.0)                      # a write through the other library ...
    assert t[0, 0].item() == 42.0            # ... is seen by chainrule
    t[0, 0] = -1.0                            # and the other way
    assert _first(other) == -1.0


@pytest.mark.parametrize("producer", FROM_OTHER, ids=list(FROM_OTHER))
def test_import_shares_memory_both_ways(producer):
    make, take = FROM_OTHER[producer]
    src = make()
    t = take(src)
    assert isinstance(t, cr.Tensor) and not t.requires_grad and t.shape == (2, 3)
    t[0, 0] = 5.0
    assert _first(src) == 5.0
    _write(src, 7.0)
    assert t[0, 0].item() == 7.0


@pytest.mark.parametrize("name", DTYPES)
def test_dtypes_round_trip_with_torch(name):
    values = [1, 0, 1] if name == "bool" else [1, 2, 3]
    ours = cr.tensor(values, dtype=getattr(cr, name if name != "bool" else "bool"))
    theirs = torch.from_dlpack(ours)
    assert theirs.dtype == getattr(torch, name)
    assert theirs.tolist() == ours.tolist()
    back = cr.from_dlpack(torch.tensor(values, dtype=getattr(torch, name)))
    assert back.dtype is ours.dtype and back.tolist() == values
    assert np.from_dlpack(ours).dtype == np.dtype(name)


def test_bfloat16_reaches_torch_as_bfloat16_and_back():
    ours = cr.tensor([1.5, -2.0, 3.0], dtype=cr.bfloat16)
    theirs = torch.from_dlpack(ours)
    assert theirs.dtype == torch.bfloat16 and theirs.tolist() == [1.5, -2.0, 3.0]
    theirs[0] = 8.0                      # shared
    assert ours[0].item() == 8.0
    src = torch.tensor([0.5, 4.0], dtype=torch.bfloat16)
    back = cr.from_dlpack(src)
    assert back.dtype is cr.bfloat16 and back.tolist() == [0.5, 4.0]
    back[1] = 2.0
    assert src[1].item() == 2.0


def test_bfloat16_to_numpy_is_refused_as_torch_s():
    with pytest.raises(Exception) as theirs:
        np.from_dlpack(torch.ones(2, dtype=torch.bfloat16))
    with pytest.raises(Exception) as ours:
        np.from_dlpack(cr.ones(2, dtype=cr.bfloat16))
    assert type(ours.value) is type(theirs.value) and str(ours.value) == str(theirs.value)


VIEWS = {
    "transpose": lambda a: a.t(),
    "step slice": lambda a: a[:, ::2],
    "column": lambda a: a[:, 1],
    "expand": lambda a: a[:, :1].expand(4, 5),
    "0-d": lambda a: a[1, 2],
}


@pytest.mark.parametrize("view", VIEWS, ids=list(VIEWS))
def test_non_contiguous_views_keep_torch_s_strides(view):
    base = np.arange(20, dtype=np.float32).reshape(4, 5)
    ours = VIEWS[view](cr.tensor(base))
    expected = VIEWS[view](torch.tensor(base))
    theirs = torch.from_dlpack(ours)
    assert theirs.shape == expected.shape and theirs.stride() == expected.stride()
    assert torch.equal(theirs, expected)
    assert np.from_dlpack(ours).strides == tuple(s * 4 for s in expected.stride())
    if view in ("transpose", "step slice", "column"):  # a view, not a copy
        theirs.fill_(99.0)
        assert bool((ours == 99.0).all())
    back = cr.from_dlpack(expected)
    assert back.stride() == expected.stride()


def test_requires_grad_is_refused_as_in_torch():
    with pytest.raises(BufferError) as theirs:
        torch.ones(2, requires_grad=True).__dlpack__()
    with pytest.raises(BufferError) as ours:
        cr.ones(2, requires_grad=True).__dlpack__()
    assert str(ours.value) == str(theirs.value)
    for take in (np.from_dlpack, torch.from_dlpack):
        with pytest.raises(BufferError):
            take(cr.ones(2, requires_grad=True))
    # to_dlpack does not check, in either library; detach() exports
    assert tdl.from_dlpack(tdl.to_dlpack(torch.ones(2, requires_grad=True))).tolist() == [1, 1]
    assert tdl.from_dlpack(cdl.to_dlpack(cr.ones(2, requires_grad=True))).tolist() == [1, 1]
    x = cr.ones(2, requires_grad=True)
    np.from_dlpack(x.detach())[0] = 3.0
    assert x[0].item() == 3.0


class _ArrayOnly:
    def __array__(self, dtype=None, copy=None):
        return np.ones(2)


@pytest.mark.parametrize("make", [lambda: _ArrayOnly(), lambda: [1.0, 2.0], lambda: 1.0],
                         ids=["__array__ only", "list", "float"])
def test_no_dlpack_object_is_refused_as_in_torch(make):
    with pytest.raises(Exception) as theirs:
        torch.from_dlpack(make())
    with pytest.raises(Exception) as ours:
        cr.from_dlpack(make())
    assert type(ours.value) is type(theirs.value) and str(ours.value) == str(theirs.value)


def test_capsule_is_consumed_once_as_in_torch():
    for lib, to, take in ((torch, tdl.to_dlpack, torch.from_dlpack),
                          (cr, cdl.to_dlpack, cr.from_dlpack)):
        capsule = to(lib.arange(3))
        assert take(capsule).tolist() == [0, 1, 2]
        with pytest.raises(RuntimeError, match="consumed only once"):
            take(capsule)


def test_unversioned_capsule_imports_writable_as_torch():
    # NumPy imports an unversioned capsule read-only; PyTorch (and chainrule) writable
    src = torch.arange(6.0).reshape(2, 3).t()
    t = cdl.from_dlpack(tdl.to_dlpack(src))
    assert t.stride() == src.stride()
    t[0, 1] = 9.0
    assert src[0, 1].item() == 9.0
    del src
    assert t.tolist() == [[0.0, 9.0], [1.0, 4.0], [2.0, 5.0]]


def test_capsules_cross_libraries():
    assert cr.from_dlpack(tdl.to_dlpack(torch.arange(4))).tolist() == [0, 1, 2, 3]
    assert torch.from_dlpack(cdl.to_dlpack(cr.arange(4))).tolist() == [0, 1, 2, 3]
    versioned = torch.arange(3).__dlpack__(max_version=(1, 0))
    assert cr.from_dlpack(versioned).tolist() == [0, 1, 2]


def test_device_and_stream_as_torch():
    assert tuple(map(int, cr.ones(1).__dlpack_device__())) == \
        tuple(map(int, torch.ones(1).__dlpack_device__()))
    for stream in (None, -1):
        assert cr.from_dlpack(_Producer(cr.ones(2), stream)).tolist() == [1, 1]
    with pytest.raises(AssertionError) as theirs:
        torch.ones(2).__dlpack__(stream=1)
    with pytest.raises(AssertionError) as ours:
        cr.ones(2).__dlpack__(stream=1)
    assert str(ours.value) == str(theirs.value)


class _Producer:
    """An object exporting a chainrule tensor with a fixed stream argument."""

    def __init__(self, t, stream):
        self.t, self.stream = t, stream

    def __dlpack__(self, **_):
        return self.t.__dlpack__(stream=self.stream)

    def __dlpack_device__(self):
        return self.t.__dlpack_device__()


def test_copy_true_does_not_share():
    src = np.zeros(3, np.float32)
    t = cr.from_dlpack(src, copy=True)
    t[0] = 1.0
    assert src[0] == 0.0
    theirs = torch.from_dlpack(src, copy=True)
    theirs[0] = 1.0
    assert src[0] == 0.0


def test_imported_tensor_takes_part_in_autograd():
    w = cr.from_dlpack(torch.tensor([1.0, 2.0])).requires_grad_()
    (w * w).sum().backward()
    assert w.grad.tolist() == [2.0, 4.0]


def test_negative_strides_are_refused_not_passed_on():
    # PyTorch's importer aborts the process on negative strides (and torch.from_numpy
    # refuses them): a tensor made from a reversed NumPy view is refused with its shape
    t = cr.from_numpy(np.arange(5.0)[::-1])
    with pytest.raises(BufferError, match=r"negative strides.*\.contiguous\(\)"):
        torch.from_dlpack(t)
    assert torch.from_dlpack(t.contiguous()).tolist() == [4.0, 3.0, 2.0, 1.0, 0.0]
