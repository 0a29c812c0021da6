"""Creation functions vs torch (values, dtype, shape), memory sharing, and random seeding."""
import numpy as np
import pytest
import torch

import chainrule as cr
from chainrule.errors import DTypeError, ShapeError


def _same(ours, theirs):
    assert tuple(ours.shape) == tuple(theirs.shape)
    assert ours.dtype.name == str(theirs.dtype).split(".")[1], (ours.dtype, theirs.dtype)
    np.testing.assert_allclose(ours.numpy().astype(np.float64), theirs.numpy().astype(np.float64),
                               rtol=1e-6, atol=1e-7)


@pytest.mark.parametrize("data", [
    [1, 2, 3], [1.0, 2, 3], [True, False], [[1, 2], [3, 4]], 3, 2.5, True, [], [[]],
    [[1.5], [2]], np.float64(1.5), np.int32(7),
])
def test_tensor_from_python_data_infers_like_torch(data):
    _same(cr.tensor(data), torch.tensor(data))


@pytest.mark.parametrize("arr", [np.arange(6, dtype=np.int32).reshape(2, 3),
                                 np.ones(3, dtype=np.float64), np.ones(2, dtype=np.float16),
                                 np.array([True, False]), np.arange(3, dtype=np.uint8)])
def test_tensor_from_numpy_keeps_dtype_and_copies(arr):
    t = cr.tensor(arr)
    _same(t, torch.tensor(arr))
    arr_copy = arr.copy()
    t.zero_()
    np.testing.assert_array_equal(arr, arr_copy)  # tensor() copies


def test_tensor_with_dtype_and_requires_grad():
    t = cr.tensor([1, 2], dtype=cr.float64, requires_grad=True)
    assert t.dtype == cr.float64 and t.requires_grad and t.is_leaf
    with pytest.raises(DTypeError, match="floating-point"):
        cr.tensor([1, 2], requires_grad=True)


def test_tensor_of_tensors_and_ragged_error():
    t = cr.tensor([cr.tensor(1.0), cr.tensor(2.0)])
    assert t.tolist() == [1.0, 2.0]
    with pytest.raises(ShapeError, match="rectangular"):
        cr.tensor([[1, 2], [3]])
    with pytest.raises(DTypeError, match="infer a dtype"):
        cr.tensor(["a"])


def test_from_numpy_shares_memory_both_ways():
    arr = np.zeros(3, dtype=np.float32)
    t = cr.from_numpy(arr)
    arr[0] = 5
    assert t[0].item() == 5
    t.add_(1)
    assert arr.tolist() == [6.0, 1.0, 1.0]
    assert t.numpy() is arr or np.shares_memory(t.numpy(), arr)
    with pytest.raises(DTypeError, match="numpy.ndarray"):
        cr.from_numpy([1, 2])


def test_as_tensor_shares_when_it_can():
    arr = np.zeros(3, dtype=np.float64)
    t = cr.as_tensor(arr)
    arr[1] = 2
    assert t.tolist() == [0.0, 2.0, 0.0]
    converted = cr.as_tensor(arr, dtype=cr.float32)
    arr[1] = 7
    assert converted.tolist() == [0.0, 2.0, 0.0]  # a cast has to copy
    x = cr.ones(2)
    assert cr.as_tensor(x) is x


def test_numpy_shares_memory():
    t = cr.zeros(2)
    a = t.numpy()
    a[0] = 3
    assert t.tolist() == [3.0, 0.0]


@pytest.mark.parametrize("name,args,kwargs", [
    ("zeros", (2, 3), {}), ("zeros", ((2, 3),), {}), ("ones", (4,), {"dtype": "int32"}),
    ("ones", ([2, 2],), {}), ("empty", (0, 3), {}), ("full", ((2, 2), 7), {}),
    ("full", ((2,), 1.5), {}), ("full", ((3,), True), {}), ("arange", (5,), {}),
    ("arange", (1, 7, 2), {}), ("arange", (0, 1, 0.1), {}), ("arange", (5.0,), {}),
    ("arange", (10, 0, -3), {}), ("arange", (0, 5), {"dtype": "float64"}),
    ("linspace", (0, 1, 5), {}), ("linspace", (-2, 2, 1), {}), ("eye", (3,), {}),
    ("eye", (2, 4), {}), ("zeros", ((),), {}),
])
def test_filled_and_range_creators_match_torch(name, args, kwargs):
    ck = {k: getattr(cr, v) if isinstance(v, str) else v for k, v in kwargs.items()}
    tk = {k: getattr(torch, v) if isinstance(v, str) else v for k, v in kwargs.items()}
    ours, theirs = getattr(cr, name)(*args, **ck), getattr(torch, name)(*args, **tk)
    if name == "empty":
        assert tuple(ours.shape) == tuple(theirs.shape) and ours.dtype.name == "float32"
    else:
        _same(ours, theirs)


@pytest.mark.parametrize("name", ["zeros_like", "ones_like", "empty_like", "rand_like", "randn_like"])
@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_like_functions_keep_shape_and_dtype(name, dtype):
    src = cr.ones(2, 3, dtype=getattr(cr, dtype))
    out = getattr(cr, name)(src)
    assert tuple(out.shape) == (2, 3) and out.dtype == src.dtype and not out.requires_grad
    out2 = getattr(cr, name)(src, dtype=cr.float16)
    assert out2.dtype == cr.float16


def test_full_like_and_randint_like():
    src = cr.zeros(2, 2, dtype=cr.int32)
    assert cr.full_like(src, 7).tolist() == [[7, 7], [7, 7]]
    r = cr.randint_like(src, 3, 5)
    assert r.dtype == cr.int32 and r.min().item() >= 3 and r.max().item() < 5


def test_requires_grad_on_creators():
    for t in (cr.zeros(2, requires_grad=True), cr.ones(2, requires_grad=True),
              cr.randn(2, requires_grad=True), cr.rand(2, requires_grad=True),
              cr.eye(2, requires_grad=True), cr.linspace(0, 1, 3, requires_grad=True),
              cr.full((2,), 1.0, requires_grad=True)):
        assert t.requires_grad and t.is_leaf
    with pytest.raises(DTypeError):
        cr.arange(3, requires_grad=True)


def test_creator_errors():
    with pytest.raises(ShapeError, match="non-negative"):
        cr.zeros(-1)
    with pytest.raises(ValueError, match="step must be nonzero"):
        cr.arange(0, 5, 0)


# ------------------------------------------------------------------ random --
def test_rand_randn_randint_shapes_dtypes_ranges():
    r = cr.rand(1000)
    assert r.dtype == cr.float32 and 0 <= r.min().item() and r.max().item() < 1
    assert 0.4 < r.mean().item() < 0.6
    n = cr.randn(4000, dtype=cr.float64)
    assert n.dtype == cr.float64 and abs(n.mean().item()) < 0.1 and 0.9 < n.std().item() < 1.1
    i = cr.randint(3, 9, (500,))
    assert i.dtype == cr.int64 and i.min().item() == 3 and i.max().item() == 8
    assert tuple(cr.randint(5, (2, 3)).shape) == (2, 3)
    assert tuple(cr.randn(2, 3).shape) == (2, 3) and tuple(cr.rand((4, 1)).shape) == (4, 1)
    with pytest.raises(TypeError, match="floating"):
        cr.rand(2, dtype=cr.int64)


def test_manual_seed_reproducibility():
    cr.manual_seed(123)
    a = (cr.rand(5), cr.randn(3), cr.randint(0, 100, (4,)), cr.randperm(6))
    cr.manual_seed(123)
    b = (cr.rand(5), cr.randn(3), cr.randint(0, 100, (4,)), cr.randperm(6))
    for x, y in zip(a, b):
        assert x.tolist() == y.tolist()
    cr.manual_seed(124)
    assert cr.rand(5).tolist() != a[0].tolist()


def test_generator_objects_and_rng_state():
    g1 = cr.Generator().manual_seed(7)
    g2 = cr.Generator().manual_seed(7)
    assert cr.randn(4, generator=g1).tolist() == cr.randn(4, generator=g2).tolist()
    state = cr.get_rng_state()
    x = cr.rand(3)
    cr.set_rng_state(state)
    assert cr.rand(3).tolist() == x.tolist()
    assert cr.manual_seed(5).initial_seed() == 5


def test_inplace_random_fills_respect_seed():
    cr.manual_seed(1)
    a = cr.empty(4).uniform_(-2, 2)
    b = cr.empty(4).normal_(0, 3)
    cr.manual_seed(1)
    assert cr.empty(4).uniform_(-2, 2).tolist() == a.tolist()
    assert cr.empty(4).normal_(0, 3).tolist() == b.tolist()
    assert all(-2 <= v < 2 for v in a.tolist())
