"""Top-level functions and Tensor methods added for real programs (more_math, more_api,
_compat_methods), compared with PyTorch: values, dtypes, gradients and errors."""
from __future__ import annotations

import math

import numpy as np
import pytest
import torch

import chainrule as cr
from tests.torch_oracle import assert_close

RNG = np.random.default_rng(1)
_X = RNG.uniform(-0.9, 0.9, (3, 4))
_Y = RNG.uniform(-2, 2, (3, 4))
_P = RNG.uniform(0.05, 0.95, (3, 4))
_BIG = RNG.uniform(1.1, 3, (3, 4))

# name -> (call, input arrays); differentiable ones also compare float64 gradients
DIFFERENTIABLE = {
    "asinh": (lambda m, x: m.asinh(x), [_Y]),
    "acosh": (lambda m, x: m.acosh(x), [_BIG]),
    "atanh": (lambda m, x: m.atanh(x), [_X]),
    "arcsinh_method": (lambda m, x: x.arcsinh(), [_Y]),
    "erfc": (lambda m, x: m.erfc(x), [_Y]),
    "atan2": (lambda m, y, x: m.atan2(y, x), [_Y, _X]),
    "arctan2_method": (lambda m, y, x: y.arctan2(x), [_X, _Y]),
    "hypot": (lambda m, a, b: m.hypot(a, b), [_Y, _X]),
    "logit": (lambda m, p: m.logit(p), [_P]),
    "logit_eps": (lambda m, p: m.logit(p, eps=0.2), [_P]),
    "logaddexp": (lambda m, a, b: m.logaddexp(a, b), [_Y, _X]),
    "xlogy": (lambda m, a, b: m.xlogy(a, b), [_Y, _BIG]),
    "deg2rad": (lambda m, x: m.deg2rad(x), [_Y]),
    "rad2deg": (lambda m, x: x.rad2deg(), [_Y]),
    "trace": (lambda m, x: m.trace(x), [_Y]),
    "diff": (lambda m, x: m.diff(x), [_Y]),
    "diff_n2_dim0": (lambda m, x: m.diff(x, n=2, dim=0), [_Y]),
    "diff_prepend": (lambda m, x, p: m.diff(x, dim=1, prepend=p), [_Y, _X[:, :1]]),
    "nan_to_num": (lambda m, x: m.nan_to_num(x / (x > 0)), [_Y]),
    "meshgrid_ij": (lambda m, a, b: sum(g * (i + 1) for i, g in enumerate(m.meshgrid(a, b, indexing="ij"))),
                    [_Y[0], _X[1, :3]]),
    "meshgrid_xy": (lambda m, a, b: sum(g * (i + 1) for i, g in enumerate(m.meshgrid(a, b, indexing="xy"))),
                    [_Y[0], _X[1, :3]]),
    "cartesian_prod": (lambda m, a, b: m.cartesian_prod(a, b), [_Y[0], _X[1, :3]]),
    "column_stack": (lambda m, a, b: m.column_stack([a, b]), [_Y[0], _X[0]]),
    "dstack": (lambda m, a, b: m.dstack([a, b]), [_Y, _X]),
    "atleast_3d": (lambda m, a: m.atleast_3d(a), [_Y]),
    "fliplr_method": (lambda m, a: a.fliplr(), [_Y]),
    "H": (lambda m, a: a.H, [_Y]),
    "mH": (lambda m, a: a[None].mH, [_Y]),
}


def _run(call, arrays, m, grad: bool):
    ts = [m.tensor(a, requires_grad=grad) for a in arrays]
    out = call(m, *ts)
    if isinstance(out, tuple):
        out = out[0]
    grads = None
    if grad:
        (out * m.tensor(RNG_WEIGHTS[: out.numel()].reshape(out.shape))).sum().backward()
        grads = [t.grad for t in ts]
    return out, grads


RNG_WEIGHTS = np.random.default_rng(2).normal(size=1000)


@pytest.mark.parametrize("name", sorted(DIFFERENTIABLE))
def test_values_and_gradients_as_pytorch(name):
    call, arrays = DIFFERENTIABLE[name]
    ours, our_grads = _run(call, arrays, cr, True)
    theirs, their_grads = _run(call, arrays, torch, True)
    assert str(ours.dtype).split(".")[-1] == str(theirs.dtype).split(".")[-1]
    assert_close(ours, theirs)
    for g, h in zip(our_grads, their_grads):
        assert_close(g, h)


VALUES = {
    "unique": lambda m: m.unique(m.tensor([3, 1, 3, 2, 1])),
    "unique_inverse_counts": lambda m: m.unique(m.tensor([[3, 1], [3, 2]]), return_inverse=True,
                                                return_counts=True),
    "unique_dim": lambda m: m.unique(m.tensor([[1, 2], [0, 1], [1, 2]]), dim=0, return_counts=True),
    "unique_method_float": lambda m: m.tensor([2.5, -1.0, 2.5]).unique(),
    "bincount": lambda m: m.bincount(m.tensor([0, 3, 3, 1])),
    "bincount_minlength": lambda m: m.tensor([0, 3, 3, 1]).bincount(minlength=6),
    "bincount_weights": lambda m: m.bincount(m.tensor([0, 2, 2]), weights=m.tensor([0.5, 1.0, 2.0])),
    "bincount_weights64": lambda m: m.bincount(m.tensor([0, 2, 2]), m.tensor([0.5, 1.0, 2.0], dtype=m.float64)),
    "isin": lambda m: m.isin(m.tensor([1, 2, 3, 4]), m.tensor([2, 4])),
    "isin_invert": lambda m: m.isin(m.tensor([1, 2, 3, 4]), m.tensor([2, 4]), invert=True),
    "tril_indices": lambda m: m.tril_indices(3, 4),
    "triu_indices_offset": lambda m: m.triu_indices(4, 3, 1),
    "signbit": lambda m: m.signbit(m.tensor([-0.0, 0.0, -2.0, 3.0])),
    "sgn": lambda m: m.sgn(m.tensor([-2.0, 0.0, 3.0])),
    "trace_long": lambda m: m.trace(m.tensor([[1, 2], [3, 4]])),
    "diff_bool": lambda m: m.diff(m.tensor([True, False, False, True])),
    "atan2_int": lambda m: m.atan2(m.tensor([1, -1]), m.tensor([0, 2])),
    "deg2rad_int": lambda m: m.deg2rad(m.tensor([180, 90])),
    "nan_to_num_args": lambda m: m.nan_to_num(m.tensor([math.nan, math.inf, -math.inf, 1.0]), 1.5, 9.0, -9.0),
    "nan_to_num_default": lambda m: m.tensor([math.nan, math.inf, -math.inf], dtype=m.float64).nan_to_num(),
    "xlogy_zero": lambda m: m.xlogy(m.tensor([0.0, 0.0, 1.0]), m.tensor([0.0, math.nan, 0.0])),
    "meshgrid_list_three": lambda m: m.meshgrid([m.tensor([1, 2]), m.tensor([3]), m.tensor([4, 5, 6])],
                                                indexing="xy")[2],
    "atleast_1d": lambda m: m.atleast_1d(m.tensor(3.0)),
    "atleast_2d_many": lambda m: m.atleast_2d(m.tensor(3.0), m.tensor([1.0, 2.0]))[1],
    "hsplit": lambda m: m.hsplit(m.arange(12).reshape(3, 4), 2)[1],
    "vsplit_method": lambda m: m.arange(12).reshape(4, 3).vsplit(2)[1],
    "dsplit": lambda m: m.dsplit(m.arange(8).reshape(1, 2, 4), 2)[0],
    "row_stack": lambda m: m.row_stack([m.tensor([1, 2]), m.tensor([3, 4])]),
    "eq_inplace": lambda m: m.tensor([1.0, 2.0, 3.0]).eq_(m.tensor([1.0, 0.0, 3.0])),
    "lt_inplace_int": lambda m: m.tensor([1, 5, 3]).lt_(3),
    "cumsum_inplace": lambda m: m.tensor([1.0, 2.0, 3.0]).cumsum_(0),
    "atan2_inplace": lambda m: m.tensor([1.0, -1.0]).atan2_(m.tensor([2.0, 2.0])),
    "nan_to_num_inplace": lambda m: m.tensor([math.nan, 1.0]).nan_to_num_(),
}


def _canon(value):
    if isinstance(value, tuple):
        return tuple(_canon(v) for v in value)
    if isinstance(value, (cr.Tensor, torch.Tensor)):
        a = np.asarray(value.tolist(), dtype=np.float64)
        with np.errstate(over="ignore", invalid="ignore"):
            a = np.where(np.abs(a) < 1e30, a.round(5), a)  # (the dtype's max stays as it is)
        return str(value.dtype).split(".")[-1], tuple(value.shape), np.where(np.isnan(a), "nan", a.astype(str)).tolist()
    return value


@pytest.mark.parametrize("name", sorted(VALUES))
def test_results_as_pytorch(name):
    assert _canon(VALUES[name](cr)) == _canon(VALUES[name](torch))


QUERIES = {
    "finfo32": lambda m: tuple(getattr(m.finfo(m.float32), a) for a in ("bits", "eps", "max", "min", "tiny", "resolution")),
    "finfo64": lambda m: tuple(getattr(m.finfo(m.float64), a) for a in ("bits", "eps", "max", "min", "tiny", "smallest_normal")),
    "finfo16": lambda m: (m.finfo(m.float16).eps, m.finfo(m.float16).max),
    "finfo_default": lambda m: m.finfo().eps,
    "iinfo": lambda m: [(m.iinfo(d).bits, m.iinfo(d).max, m.iinfo(d).min) for d in (m.int8, m.uint8, m.int32, m.int64)],
    "finfo_repr": lambda m: repr(m.finfo(m.float32)),
    "constants": lambda m: (m.pi, m.e, m.inf, m.newaxis, math.isnan(m.nan)),
    "is_tensor": lambda m: (m.is_tensor(m.ones(1)), m.is_tensor([1]), m.is_floating_point(m.ones(1)),
                            m.is_complex(m.ones(1)), m.numel(m.ones(2, 3)), m.is_nonzero(m.tensor([2]))),
    "is_signed": lambda m: (m.ones(1).is_signed(), m.ones(1, dtype=m.uint8).is_signed(), m.ones(1).long().is_signed()),
    "result_type": lambda m: [str(m.result_type(a, b)).split(".")[-1] for a, b in
                              [(m.ones(1, dtype=m.int64), 1.0), (m.ones(1), m.ones(1, dtype=m.float64)),
                               (m.ones(1, dtype=m.int32), 5), (m.ones(1, dtype=m.bool), m.ones(1, dtype=m.uint8)),
                               (2, 3.0)]],
    "can_cast": lambda m: [m.can_cast(a, b) for a in (m.float32, m.int64, m.bool) for b in (m.float64, m.int32, m.bool)],
    "tensor_queries": lambda m: (lambda x: (x.nbytes, x.itemsize, x[1].storage_offset(),
                                            x.is_same_size(m.ones(2, 3)), x.is_inference(), x.is_complex(),
                                            x[1].data_ptr() - x.data_ptr()))(m.zeros(2, 3)),
}


@pytest.mark.parametrize("name", sorted(QUERIES))
def test_queries_as_pytorch(name):
    assert QUERIES[name](cr) == QUERIES[name](torch)


ERRORS = [
    lambda m: m.finfo(m.int64),
    lambda m: m.iinfo(m.float32),
    lambda m: m.is_nonzero(m.ones(2)),
    lambda m: m.trace(m.ones(2, 2, 2)),
    lambda m: m.bincount(m.tensor([-1, 2])),
    lambda m: m.bincount(m.tensor([[1, 2]])),
    lambda m: m.meshgrid(m.ones(2), indexing="yx"),
    lambda m: m.ones(2, 2, 2).H,
]


@pytest.mark.parametrize("call", ERRORS, ids=range(len(ERRORS)))
def test_errors_as_pytorch(call):
    with pytest.raises(Exception) as theirs:
        call(torch)
    with pytest.raises(Exception) as ours:
        call(cr)
    assert isinstance(ours.value, type(theirs.value)) or isinstance(ours.value, RuntimeError) and \
        isinstance(theirs.value, RuntimeError), (ours.value, theirs.value)


def test_compile_wraps_the_model_and_cpu_device_index():
    model = cr.nn.Linear(2, 2)
    compiled = cr.compile(model)
    assert compiled._orig_mod is model and compiled.weight is model.weight  # (as PyTorch's)
    assert cr.compile(mode="max-autotune")(model)._orig_mod is model
    x = cr.zeros(1)
    assert x.get_device() == -1  # (PyTorch's documented answer for a CPU tensor)
    assert x.pin_memory() is x and not x.is_pinned()  # (CPU-only PyTorch refuses both)


def test_meshgrid_without_indexing_warns_as_pytorch():
    with pytest.warns(UserWarning, match="indexing"):
        torch.meshgrid(torch.ones(2), torch.ones(3))
    with pytest.warns(UserWarning, match="indexing"):
        grids = cr.meshgrid(cr.ones(2), cr.ones(3))
    assert tuple(grids[0].shape) == (2, 3)


def test_inplace_twins_keep_the_graph():
    for m in (cr, torch):
        a = m.tensor([0.25, -0.125], requires_grad=True)
        b = a * 2
        b.cosh_()
        b.sum().backward()
        assert np.allclose(np.asarray(a.grad.tolist()), 2 * np.sinh(2 * np.array([0.25, -0.125])))
