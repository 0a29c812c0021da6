"""Dtypes and PyTorch's type promotion, checked against torch's result dtypes."""
import itertools

import numpy as np
import pytest
import torch

import chainrule as cr

NAMES = ["bool", "uint8", "int8", "int16", "int32", "int64", "float16", "float32", "float64"]


def _name(torch_dtype) -> str:
    return str(torch_dtype).split(".")[1]


def _make(lib, name, zero_dim):
    return lib.ones(() if zero_dim else (2,), dtype=getattr(lib, name))


@pytest.mark.parametrize("a,b", list(itertools.product(NAMES, NAMES)))
def test_promote_types_table(a, b):
    ours = cr.promote_types(getattr(cr, a), getattr(cr, b))
    assert ours.name == _name(torch.promote_types(getattr(torch, a), getattr(torch, b)))


@pytest.mark.parametrize("zero_a,zero_b", [(False, False), (False, True), (True, False), (True, True)])
@pytest.mark.parametrize("op", ["add", "mul", "div", "maximum"])
def test_tensor_tensor_result_dtypes(op, zero_a, zero_b):
    mismatches = []
    for a, b in itertools.product(NAMES, NAMES):
        try:
            expected = _name(getattr(torch, op)(_make(torch, a, zero_a), _make(torch, b, zero_b)).dtype)
        except RuntimeError:
            continue  # e.g. none: torch supports all of these
        got = getattr(cr, op)(_make(cr, a, zero_a), _make(cr, b, zero_b)).dtype.name
        if got != expected:
            mismatches.append((a, b, got, expected))
    assert not mismatches


@pytest.mark.parametrize("scalar", [True, 3, 2.5, -1.5])
@pytest.mark.parametrize("zero_dim", [False, True])
def test_tensor_scalar_result_dtypes(scalar, zero_dim):
    mismatches = []
    for a in NAMES:
        for op in ("add", "mul", "div"):
            expected = _name(getattr(torch, op)(_make(torch, a, zero_dim), scalar).dtype)
            got = getattr(cr, op)(_make(cr, a, zero_dim), scalar).dtype.name
            rgot = getattr(cr, op)(scalar, _make(cr, a, zero_dim)).dtype.name if op != "div" else got
            if got != expected or rgot != expected:
                mismatches.append((a, op, got, rgot, expected))
    assert not mismatches


def test_dunder_operators_promote_like_torch():
    i = cr.tensor([1, 2])
    f = cr.tensor([1.0, 2.0])
    d = cr.tensor([1.0], dtype=cr.float64)
    assert (i + 1).dtype == cr.int64
    assert (i + 1.0).dtype == cr.float32
    assert (i / 2).dtype == cr.float32
    assert (f + d).dtype == cr.float64
    assert (f + cr.tensor(1.0, dtype=cr.float64)).dtype == cr.float32  # 0-d loses to dimensioned
    assert (i + cr.tensor(1.5, dtype=cr.float64)).dtype == cr.float64  # …unless a higher category
    assert (cr.tensor([True]) + True).dtype == cr.bool


def test_negative_int_scalar_with_uint8_wraps_like_torch():
    u = cr.ones(2, dtype=cr.uint8)
    assert (u * -1).tolist() == (torch.ones(2, dtype=torch.uint8) * -1).tolist()


def test_default_dtype_get_set():
    assert cr.get_default_dtype() == cr.float32
    cr.set_default_dtype(cr.float64)
    try:
        assert cr.tensor([1.0]).dtype == cr.float64
        assert cr.zeros(2).dtype == cr.float64
        assert (cr.tensor([1, 2]) + 0.5).dtype == cr.float64
    finally:
        cr.set_default_dtype(cr.float32)
    assert cr.tensor([1.0]).dtype == cr.float32
    with pytest.raises(TypeError, match="floating"):
        cr.set_default_dtype(cr.int64)


def test_dtype_objects_and_aliases():
    assert cr.float is cr.float32 and cr.double is cr.float64 and cr.half is cr.float16
    assert cr.long is cr.int64 and cr.int is cr.int32 and cr.short is cr.int16
    assert repr(cr.float32) == "chainrule.float32"
    assert cr.float32.is_floating_point and not cr.int64.is_floating_point
    assert cr.float16.itemsize == 2
    assert cr.float32 != cr.float64


@pytest.mark.parametrize("spec,expected", [("float32", "float32"), ("double", "float64"),
                                           (float, "float32"), (int, "int64"), (bool, "bool"),
                                           (np.float64, "float64"), (np.dtype("int32"), "int32")])
def test_to_dtype_accepts_names_types_and_numpy(spec, expected):
    from chainrule.dtypes import to_dtype
    assert to_dtype(spec).name == expected
    assert cr.tensor([1], dtype=spec).dtype.name == expected


def test_unsupported_dtype_errors():
    from chainrule.dtypes import to_dtype
    with pytest.raises(TypeError, match="not a dtype"):
        to_dtype("complex64x")
    with pytest.raises(TypeError):
        cr.tensor(np.array([1 + 2j]))


@pytest.mark.parametrize("name", NAMES)
def test_tensor_dtype_roundtrip_through_numpy(name):
    t = cr.ones(3, dtype=getattr(cr, name))
    assert t.dtype.name == name
    assert t.numpy().dtype == np.dtype(name if name != "bool" else "bool")
    assert t.element_size() == np.dtype(name).itemsize
