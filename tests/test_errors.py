"""Errors name the op, what it got and expected, and point at the caller's line; they are
chainrule's own exceptions, never a raw NumPy error."""
import inspect
import os

import numpy as np
import pytest

import chainrule as cr
from chainrule.backends import Device, register_backend, unregister_backend
from chainrule.backends.base import Backend
from chainrule.errors import (BackwardError, ChainruleError, DeviceError, DTypeError, ShapeError,
                              op_error, user_location)
from chainrule.ops.registry import Op, defvjp

HERE = os.path.basename(__file__)


def _raise(fn):
    """Run ``fn`` (one line below the call) and return (exception, the line fn's body is on)."""
    line = inspect.getsourcelines(fn)[1]
    with pytest.raises(Exception) as info:
        fn()
    return info.value, line


def _check(exc, line, cls, op, *fragments):
    msg = str(exc)
    assert isinstance(exc, cls), f"{type(exc).__name__}: {msg}"
    assert isinstance(exc, ChainruleError)
    assert type(exc).__module__ == "chainrule.errors"
    assert msg.startswith(f"{op}:"), msg
    for frag in fragments:
        assert frag in msg, (frag, msg)
    assert f"{HERE}:{line}" in msg, msg  # the caller's file and line


def test_broadcast_error():
    exc, line = _raise(lambda: cr.ones(2, 3) + cr.ones(4))
    _check(exc, line, ShapeError, "add", "(2, 3)", "(4,)", "broadcast")


def test_broadcast_error_inplace_and_where():
    exc, line = _raise(lambda: cr.where(cr.ones(2) > 0, cr.ones(3), cr.ones(2)))
    _check(exc, line, ShapeError, "where", "(3,)", "(2,)")


def test_matmul_error():
    exc, line = _raise(lambda: cr.ones(2, 3) @ cr.ones(4, 5))
    _check(exc, line, ShapeError, "matmul", "(2, 3)", "(4, 5)")


def test_matmul_1d_error_names_user_shapes():
    exc, line = _raise(lambda: cr.ones(3) @ cr.ones(4))
    _check(exc, line, ShapeError, "matmul", "(3,)", "(4,)")


def test_cat_error():
    exc, line = _raise(lambda: cr.cat([cr.ones(2, 3), cr.ones(2, 4)]))
    _check(exc, line, ShapeError, "cat", "(2, 3)", "(2, 4)")


def test_reshape_and_view_errors():
    exc, line = _raise(lambda: cr.ones(2, 3).reshape(4, 2))
    _check(exc, line, ShapeError, "reshape", "(4, 2)", "(2, 3)")
    exc, line = _raise(lambda: cr.ones(2, 3).view(5))
    _check(exc, line, ShapeError, "view", "(5,)", "(2, 3)")


def test_view_of_non_contiguous_errors():
    with pytest.raises(RuntimeError):
        cr.ones(2, 3).T.view(6)


def test_requires_grad_on_integer_tensor():
    exc, line = _raise(lambda: cr.tensor([1, 2]).requires_grad_())
    _check(exc, line, DTypeError, "requires_grad", "int64", "floating-point")
    exc, line = _raise(lambda: cr.zeros(2, dtype=cr.int32, requires_grad=True))
    _check(exc, line, DTypeError, "requires_grad", "int32")


def _double_with_no_rule():
    op = Op("test_double", lambda xp, a, b: a * 2 + b)  # deliberately not registered
    defvjp(op, None, lambda g, ans, a, b: g)
    return op


def test_missing_derivative_is_error_naming_op_and_argument():
    op = _double_with_no_rule()
    x = cr.ones(2, requires_grad=True)
    exc, line = _raise(lambda: op(x, cr.ones(2)))
    _check(exc, line, BackwardError, "test_double", "input 0", "(2,)", "float32",
           "no derivative")
    # fine when only the differentiable argument requires grad
    y = op(cr.ones(2), x)
    y.sum().backward()
    assert x.grad.tolist() == [1.0, 1.0]


def test_missing_rule_entirely_is_error():
    op = Op("test_norule", lambda xp, a: a + 1)
    exc, line = _raise(lambda: op(cr.ones(2, requires_grad=True)))
    _check(exc, line, BackwardError, "test_norule", "input 0")


class FakeDeviceArray(np.ndarray):
    """A NumPy array that claims to live on another device (a stand-in for CuPy)."""


class FakeBackend(Backend):
    name = "fake"

    def __init__(self):
        super().__init__(np)
        self.device = Device("cuda:1")

    def to_host(self, array):
        return np.asarray(array).view(np.ndarray)

    def from_host(self, array):
        return np.asarray(array).view(FakeDeviceArray)


@pytest.fixture
def fake_device():
    register_backend(FakeDeviceArray, FakeBackend())
    yield lambda t: cr.Tensor._make(t._data.copy().view(FakeDeviceArray))
    unregister_backend(FakeDeviceArray)


def test_mixed_devices_error(fake_device):
    on_fake = fake_device(cr.ones(2, 3))
    assert str(on_fake.device) == "cuda:1"
    exc, line = _raise(lambda: cr.ones(2, 3) + on_fake)
    _check(exc, line, DeviceError, "add", "cpu", "cuda:1", "(2, 3)", "same device")
    exc, line = _raise(lambda: on_fake @ cr.ones(3, 2))
    _check(exc, line, DeviceError, "matmul", "cpu", "cuda:1")


def test_same_fake_device_works(fake_device):
    a, b = fake_device(cr.ones(2)), fake_device(cr.ones(2))
    assert (a + b).tolist() == [2.0, 2.0]


def test_backward_errors_are_clear():
    x = cr.ones(3, requires_grad=True)
    exc, line = _raise(lambda: (x * 2).backward())
    _check(exc, line, RuntimeError, "backward", "scalar outputs", "(3,)")
    exc, line = _raise(lambda: (x * 2).sum().backward(cr.ones(2)))
    _check(exc, line, ShapeError, "backward", "(2,)")


def test_indexing_errors():
    exc, line = _raise(lambda: cr.ones(3)[cr.tensor([0.5])])
    _check(exc, line, IndexError, "getitem", "float32")
    exc, line = _raise(lambda: cr.ones(2).size(5))
    _check(exc, line, IndexError, "size", "out of range")


def test_op_error_helper_points_at_caller():
    err = op_error(ShapeError, "myop", "bad shapes (1,) and (2,)")
    line = inspect.currentframe().f_lineno - 1
    assert str(err).startswith("myop: bad shapes") and f"{HERE}:{line}" in str(err)
    assert user_location().endswith(f"{HERE}:{inspect.currentframe().f_lineno}")


def test_location_skips_standard_library_wrappers():
    import functools
    add = functools.singledispatch(cr.add)  # a pure-Python stdlib frame calls chainrule
    exc, line = _raise(lambda: add(cr.ones(2), cr.ones(3)))
    _check(exc, line, ShapeError, "add", "(2,)", "(3,)")
    assert "functools.py" not in str(exc)


def test_error_classes_keep_builtin_bases():
    assert issubclass(ShapeError, ValueError) and issubclass(DTypeError, TypeError)
    assert issubclass(BackwardError, RuntimeError) and issubclass(DeviceError, RuntimeError)


def test_op_given_a_non_tensor_names_the_op():
    from chainrule.ops.registry import REGISTRY
    with pytest.raises(cr.errors.DTypeError, match="exp: expected tensors as inputs, got tuple"):
        REGISTRY["exp"]((1.0, 2.0))  # the op itself, as a forward hook might call it


def test_generator_set_state_rejects_garbage_clearly():
    with pytest.raises(ValueError, match="expected a state from Generator.get_state"):
        cr.Generator().set_state(cr.tensor([1, 2, 3], dtype=cr.uint8))
