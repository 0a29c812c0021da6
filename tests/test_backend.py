"""Backends: the array module comes from the data; nothing under ops/ imports NumPy."""
import ast
import pathlib

import numpy as np
import pytest

import chainrule as cr
from chainrule.backends import (NUMPY, Device, backend_for_device, backend_of, register_backend,
                                unregister_backend)
from chainrule.backends.base import Backend

OPS_DIR = pathlib.Path(cr.__file__).parent / "ops"


def _numpy_imports(path: pathlib.Path):
    """(line, text) of every import of numpy (or a numpy submodule) in a file."""
    tree = ast.parse(path.read_text(), filename=str(path))
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            names = [node.module or ""] if node.level == 0 else []
        elif isinstance(node, ast.Call) and getattr(node.func, "id", "") == "__import__":
            names = [a.value for a in node.args[:1] if isinstance(a, ast.Constant)]
        else:
            continue
        found += [(node.lineno, n) for n in names if n == "numpy" or n.startswith("numpy.")]
    return found


def test_no_file_under_ops_imports_numpy():
    files = sorted(OPS_DIR.rglob("*.py"))
    assert len(files) >= 5
    offenders = {str(f.relative_to(OPS_DIR.parent)): hits for f in files if (hits := _numpy_imports(f))}
    assert not offenders, f"ops must reach NumPy through the backend (xp): {offenders}"


def test_the_scan_catches_numpy_imports(tmp_path):
    bad = tmp_path / "bad.py"
    bad.write_text("import os\nimport numpy as np\nfrom numpy.linalg import norm\n"
                   "def f():\n    import numpy\n    return __import__('numpy')\n")
    assert [line for line, _ in _numpy_imports(bad)] == [2, 3, 5, 6]


def test_backend_of_numpy_arrays_and_scalars():
    assert backend_of(np.ones(2)) is NUMPY and backend_of(np.float32(1)) is NUMPY
    assert NUMPY.device == Device("cpu") and NUMPY.exp is np.exp
    assert backend_of(cr.ones(2)._data) is NUMPY


def test_backend_for_device_and_device_objects():
    assert backend_for_device("cpu") is NUMPY and backend_for_device(Device("cpu")) is NUMPY
    d = Device("cuda:1")
    assert d.type == "cuda" and d.index == 1 and str(d) == "cuda:1"
    assert repr(d) == "device(type='cuda', index=1)" and Device("cuda").index is None
    # as PyTorch: a device equals devices only, and "cuda" (the current one) is not "cuda:0"
    assert Device("cpu") != "cpu" and Device("cuda") != Device("cuda:0")
    assert Device("cpu") == Device("cpu") and hash(Device("cpu")) == hash(Device("cpu"))
    with pytest.raises(ValueError, match="unknown device type"):
        Device("tpu")
    with pytest.raises(TypeError):
        Device(3)


def test_cuda_without_cupy_is_a_clear_error():
    try:
        import cupy  # noqa: F401
        pytest.skip("CuPy is installed")
    except ImportError:
        pass
    with pytest.raises(RuntimeError, match="needs CuPy"):
        cr.zeros(2, device="cuda")
    with pytest.raises(RuntimeError, match="needs CuPy"):
        cr.ones(2).to("cuda")


def test_scatter_add_accumulates_repeated_indices():
    target = np.zeros(3)
    NUMPY.scatter_add(target, np.array([0, 0, 2]), np.array([1.0, 2.0, 5.0]))
    assert target.tolist() == [3.0, 0.0, 5.0]


def test_host_transfer_roundtrip():
    a = np.arange(3.0)
    assert NUMPY.to_host(a) is a and NUMPY.from_host(a) is a and NUMPY.is_array(a)


class OtherArray(np.ndarray):
    pass


class OtherBackend(Backend):
    name = "other"

    def __init__(self):
        super().__init__(np)
        self.device = Device("cuda:3")

    def to_host(self, array):
        return np.asarray(array).view(np.ndarray)


def test_register_backend_routes_array_type():
    backend = OtherBackend()
    register_backend(OtherArray, backend)
    try:
        arr = np.ones(2).view(OtherArray)
        assert backend_of(arr) is backend
        t = cr.Tensor._make(arr)
        assert str(t.device) == "cuda:3" and "device='cuda:3'" in repr(t)
    finally:
        unregister_backend(OtherArray)
    assert backend_of(np.ones(2).view(OtherArray)) is NUMPY


def test_tensor_to_cpu_is_identity():
    t = cr.ones(2)
    assert t.to("cpu") is t and t.cpu() is t
