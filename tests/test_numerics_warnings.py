"""Never silently wrong, never noisy: inf/nan as PyTorch makes them, with no NumPy
RuntimeWarning from inside chainrule (forward, backward, losses, optimizers), and the
warnings PyTorch gives for suspicious shapes and degrees of freedom, located at the
user's line (this file)."""
from __future__ import annotations

import subprocess
import sys
import warnings
from contextlib import contextmanager
from pathlib import Path

import numpy as np
import pytest
import torch

import chainrule as cr
import chainrule.nn.functional as F
from chainrule.errors import ShapeError
from chainrule.ops.registry import Op
from tests.torch_oracle import assert_close

INF, NAN = float("inf"), float("nan")
# inputs that send the unary ops to inf/nan (domain edges, overflow, infinities, nan)
SPECIAL = [0.0, -0.0, -1.0, 1.0, 2.0, 1000.0, -1000.0, INF, -INF, NAN]


@contextmanager
def no_warnings():
    """Any warning (a NumPy RuntimeWarning above all) is an error inside this block."""
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        yield


def _forward_and_grad(fn_ours, fn_theirs, *values):
    """Run ``fn`` on both libraries: chainrule inside ``no_warnings``, then compare values
    and the gradient of ``.sum()`` with respect to every input (nan where torch has nan)."""
    ours = [cr.tensor(np.array(v, dtype=np.float64), requires_grad=True) for v in values]
    theirs = [torch.tensor(np.array(v, dtype=np.float64), requires_grad=True) for v in values]
    with no_warnings():
        out = fn_ours(*ours)
        out.sum().backward()
    expected = fn_theirs(*theirs)
    expected.sum().backward()
    assert_close(out, expected, msg="forward")
    for a, b in zip(ours, theirs):
        assert_close(a.grad, b.grad, msg="gradient")


UNARY = ["log", "log2", "log10", "log1p", "exp", "exp2", "expm1", "sqrt", "rsqrt", "reciprocal",
         "sin", "cos", "tan", "asin", "acos", "atan", "sinh", "cosh", "tanh", "sigmoid", "erf",
         "erfinv", "abs", "square"]


@pytest.mark.parametrize("name", UNARY)
def test_unary_math_at_special_points_matches_torch_without_warnings(name):
    _forward_and_grad(getattr(cr, name), getattr(torch, name), SPECIAL)


BINARY = {
    "div": (lambda a, b: a / b),
    "mul": (lambda a, b: a * b),
    "sub": (lambda a, b: a - b),
    "pow": (lambda a, b: a ** b),
}


@pytest.mark.parametrize("name", list(BINARY))
def test_binary_ops_at_special_points_match_torch_without_warnings(name):
    # every pair of special points: 1/0, 0/0, inf-inf, inf*0, 0**-1, (-1)**0.5 …
    a, b = np.meshgrid(SPECIAL, SPECIAL)
    _forward_and_grad(BINARY[name], BINARY[name], a.ravel(), b.ravel())


@pytest.mark.parametrize("name,fn", [
    ("sum", lambda m, x: m.sum(x, dim=1)),
    ("mean", lambda m, x: m.mean(x, dim=1)),
    ("prod", lambda m, x: m.prod(x, dim=1)),
    ("logsumexp", lambda m, x: m.logsumexp(x, dim=1)),
    ("amax", lambda m, x: m.amax(x, dim=1)),
    ("norm", lambda m, x: m.norm(x, dim=1)),
    ("softmax", lambda m, x: m.softmax(x, dim=1)),
    ("log_softmax", lambda m, x: m.log_softmax(x, dim=1)),
    ("cumprod", lambda m, x: m.cumprod(x, dim=1)),
    ("var", lambda m, x: m.var(x, dim=1)),
])
def test_reductions_of_non_finite_rows_match_torch_without_warnings(name, fn):
    rows = [[INF, -INF], [INF, 1.0], [-INF, -INF], [NAN, 1.0], [1e300, 1e300], [0.0, 0.0]]
    _forward_and_grad(lambda x: fn(cr, x), lambda x: fn(torch, x), rows)


def test_mean_of_empty_is_nan_without_warnings():
    with no_warnings():
        whole, per_column = cr.zeros(0).mean(), cr.zeros(0, 3).mean(0)
        nan_only = cr.nanmean(cr.tensor([NAN]))
    assert_close(whole, torch.zeros(0, dtype=torch.float32).mean())
    assert_close(per_column, torch.zeros(0, 3).mean(0))
    assert_close(nan_only, torch.nanmean(torch.tensor([NAN])))


LOSSES = [
    ("mse", lambda f, x, y: f.mse_loss(x, y), [1e200, INF, 0.0], [-1e200, 1.0, NAN]),
    ("l1", lambda f, x, y: f.l1_loss(x, y), [INF, -INF, 0.0], [INF, 1.0, NAN]),
    ("huber", lambda f, x, y: f.huber_loss(x, y), [INF, 1.0, 0.0], [0.0, INF, 0.5]),
    ("smooth_l1", lambda f, x, y: f.smooth_l1_loss(x, y), [INF, 1.0, 0.0], [0.0, 1.0, 0.5]),
    ("bce", lambda f, x, y: f.binary_cross_entropy(x, y), [0.0, 1.0, 0.5, 0.0], [1.0, 0.0, 0.5, 0.0]),
    ("bce_logits", lambda f, x, y: f.binary_cross_entropy_with_logits(x, y),
     [1000.0, -1000.0, INF], [0.0, 1.0, 1.0]),
    ("kl_div", lambda f, x, y: f.kl_div(x, y, reduction="sum"), [-INF, 0.0, -1.0], [0.0, 1.0, 0.5]),
    ("poisson", lambda f, x, y: f.poisson_nll_loss(x, y), [1000.0, 0.0, -INF], [2.0, 0.0, 1.0]),
    # (not -1000: PyTorch's soft margin overflows to inf there, chainrule's stays exact)
    ("soft_margin", lambda f, x, y: f.soft_margin_loss(x, y), [-80.0, 80.0, 0.0],
     [1.0, 1.0, -1.0]),
]


@pytest.mark.parametrize("name,fn,x,y", LOSSES)
def test_losses_on_extreme_inputs_match_torch_without_warnings(name, fn, x, y):
    ours_y = cr.tensor(np.array(y))
    theirs_y = torch.tensor(np.array(y))
    _forward_and_grad(lambda a: fn(F, a, ours_y), lambda a: fn(torch.nn.functional, a, theirs_y), x)


def test_gaussian_nll_with_zero_variance_matches_torch_without_warnings():
    var_ours, var_theirs = cr.tensor([0.0, 0.0, 1.0]), torch.tensor([0.0, 0.0, 1.0], dtype=torch.float64)
    _forward_and_grad(lambda x: F.gaussian_nll_loss(x, cr.tensor([1.0, INF, 0.0]), var_ours),
                      lambda x: torch.nn.functional.gaussian_nll_loss(
                          x, torch.tensor([1.0, INF, 0.0], dtype=torch.float64), var_theirs),
                      [1.0, 0.0, 0.0])


def test_cross_entropy_with_infinite_logits_matches_torch_without_warnings():
    target_ours, target_theirs = cr.tensor([0, 1]), torch.tensor([0, 1])
    _forward_and_grad(lambda z: F.cross_entropy(z, target_ours),
                      lambda z: torch.nn.functional.cross_entropy(z, target_theirs),
                      [[-INF, 0.0, 1.0], [1000.0, -1000.0, 0.0]])


def test_second_order_gradient_at_a_singularity_without_warnings():
    x, tx = cr.tensor([0.0, 4.0], requires_grad=True), torch.tensor([0.0, 4.0], requires_grad=True)
    with no_warnings():
        (g,) = cr.autograd.grad(x.sqrt().sum(), x, create_graph=True)
        g.sum().backward()
    (tg,) = torch.autograd.grad(tx.sqrt().sum(), tx, create_graph=True)
    tg.sum().backward()
    assert_close(g, tg)
    assert_close(x.grad, tx.grad)


def test_raw_backward_rules_make_inf_and_nan_without_warnings():
    # the rules on arrays, as the plain backward runs them: log'(0) = inf, sqrt'(0) = inf, (x/0)' = inf/nan
    x = cr.tensor([0.0, 0.0, -1.0], requires_grad=True)
    tx = torch.tensor([0.0, 0.0, -1.0], requires_grad=True)
    with no_warnings():
        (x.log() + x.sqrt() + 1 / x).sum().backward()
    (tx.log() + tx.sqrt() + 1 / tx).sum().backward()
    assert_close(x.grad, tx.grad)


@pytest.mark.parametrize("name,kwargs", [
    ("SGD", {"momentum": 0.9}), ("Adam", {}), ("AdamW", {}), ("Adam", {"amsgrad": True}),
    ("RMSprop", {"momentum": 0.9, "centered": True}), ("Adagrad", {}), ("Adamax", {}),
])
def test_optimizer_steps_on_non_finite_gradients_match_torch_without_warnings(name, kwargs):
    grads = [[INF, NAN, -INF, 1.0], [1.0, 1.0, INF, 0.0]]
    p = cr.tensor([1.0, 2.0, 3.0, 4.0], requires_grad=True)
    tp = torch.tensor([1.0, 2.0, 3.0, 4.0], requires_grad=True)
    ours = getattr(cr.optim, name)([p], lr=0.1, **kwargs)
    theirs = getattr(torch.optim, name)([tp], lr=0.1, **kwargs)
    for g in grads:
        p.grad, tp.grad = cr.tensor(g), torch.tensor(g)
        with no_warnings():
            ours.step()
        theirs.step()
    assert_close(p, tp)


def test_clip_grad_norm_of_an_infinite_gradient_matches_torch_without_warnings():
    p, tp = cr.tensor([1.0, 2.0], requires_grad=True), torch.tensor([1.0, 2.0], requires_grad=True)
    p.grad, tp.grad = cr.tensor([INF, 1.0]), torch.tensor([INF, 1.0])
    with no_warnings():
        total = cr.nn.utils.clip_grad_norm_([p], 1.0)
    assert_close(total, torch.nn.utils.clip_grad_norm_([tp], 1.0))
    assert_close(p.grad, tp.grad)


def test_out_of_range_floats_become_inf_without_warnings():
    with no_warnings():
        made = cr.tensor([1e300, -1e300])
        scaled = cr.ones(2) * 1e300
        shifted = cr.ones(2) + 1e39
        in_place = cr.ones(2).div_(0.0)
    assert_close(made, torch.tensor([1e300, -1e300]))
    assert_close(scaled, torch.ones(2) * 1e300)
    assert_close(shifted, torch.ones(2) + 1e39)
    assert_close(in_place, torch.ones(2).div_(0.0))


def test_the_users_numpy_error_state_is_left_alone():
    before = np.geterr()
    with np.errstate(all="raise"):
        out = cr.tensor([1.0]) / cr.tensor([0.0])  # chainrule: inf, as PyTorch
        out.sum()
        with pytest.raises(FloatingPointError):  # the user's own NumPy code: as they asked
            np.array([1.0]) / np.array([0.0])
    assert np.geterr() == before
    assert np.isinf(out.numpy()).all()


def test_division_by_zero_under_python_W_error_prints_inf():
    root = Path(__file__).resolve().parents[1]
    command = "import chainrule as cr; print(cr.tensor([1.]) / cr.tensor([0.]))"
    run = subprocess.run([sys.executable, "-W", "error", "-c", command], cwd=root,
                         capture_output=True, text=True, timeout=120)
    assert run.returncode == 0, run.stderr
    assert run.stdout.strip() == "tensor([inf])"
    assert run.stderr == ""


# --------------------------------------------------------- forward_error --
@pytest.mark.parametrize("error", [MemoryError("out of memory"), RuntimeWarning("overflow"),
                                   FloatingPointError("divide by zero"), KeyError("k")])
def test_an_unrelated_forward_error_is_not_called_a_shape_error(error):
    def forward(xp, a, b):
        raise error
    op = Op("raises_for_test", forward)  # not registered: the registry stays as it is
    with pytest.raises(type(error)) as caught:
        op(cr.ones(2), cr.ones(2))
    assert caught.value is error
    assert not isinstance(caught.value, ShapeError)


def test_a_shape_mismatch_is_still_a_shape_error_naming_the_op():
    with pytest.raises(ShapeError, match=r"add: cannot broadcast shapes \(2,\) and \(3,\)"):
        cr.ones(2) + cr.ones(3)


# ------------------------------------------------------ loss-shape warnings --
REGRESSION = [("mse_loss", cr.nn.MSELoss), ("l1_loss", cr.nn.L1Loss),
              ("smooth_l1_loss", cr.nn.SmoothL1Loss), ("huber_loss", cr.nn.HuberLoss)]


@pytest.mark.parametrize("name,module", REGRESSION, ids=[r[0] for r in REGRESSION])
@pytest.mark.parametrize("shapes", [((4, 1), (4,)), ((4,), (1,)), ((2, 3), (3,))])
def test_regression_losses_warn_at_the_users_line_when_sizes_differ(name, module, shapes):
    x, y = cr.rand(*shapes[0]), cr.rand(*shapes[1])
    for loss in (getattr(F, name), module()):
        with pytest.warns(UserWarning, match=rf"{name}: Using a target size {re_shape(shapes[1])} "
                          rf"that is different to the input size {re_shape(shapes[0])}") as record:
            value = loss(x, y)
        assert [Path(w.filename).resolve() for w in record] == [Path(__file__).resolve()]
        with warnings.catch_warnings():  # the oracle's own copy of the warning
            warnings.simplefilter("ignore")
            expected = getattr(torch.nn.functional, name)(torch.from_numpy(x.numpy()),
                                                          torch.from_numpy(y.numpy()))
        assert_close(value, expected)  # still computed (broadcast), as PyTorch


def re_shape(shape) -> str:
    import re
    return re.escape(str(tuple(shape)))


@pytest.mark.parametrize("name", [r[0] for r in REGRESSION])
def test_regression_losses_do_not_warn_for_equal_sizes(name):
    with no_warnings():
        getattr(F, name)(cr.rand(4, 1), cr.rand(4, 1))


@pytest.mark.parametrize("call", [
    lambda f, x, y: f.binary_cross_entropy(x, y),
    lambda f, x, y: f.binary_cross_entropy_with_logits(x, y),
    lambda f, x, y: f.soft_margin_loss(x, y),
    lambda f, x, y: f.margin_ranking_loss(x, y, y),
], ids=["bce", "bce_with_logits", "soft_margin", "margin_ranking"])
def test_losses_that_torch_refuses_for_mismatched_shapes_raise(call):
    x, y = np.random.rand(4, 1), np.random.rand(4)
    with pytest.raises((ValueError, RuntimeError)):
        call(torch.nn.functional, torch.from_numpy(x), torch.from_numpy(y))  # the oracle refuses
    with pytest.raises(ShapeError, match=r"\(4, 1\)"):
        call(F, cr.tensor(x), cr.tensor(y))


def test_soft_margin_accepts_a_target_that_broadcasts_to_the_input():
    x, y = np.random.rand(4), np.array([1.0])
    with no_warnings():
        ours = F.soft_margin_loss(cr.tensor(x), cr.tensor(y))
    assert_close(ours, torch.nn.functional.soft_margin_loss(torch.from_numpy(x), torch.from_numpy(y)))


@pytest.mark.parametrize("var_shape,ok", [((4, 3), True), ((4,), True), ((4, 1), True),
                                          ((1, 3), True), ((3,), False), ((4, 2), False)])
def test_gaussian_nll_var_shapes_as_torch(var_shape, ok):
    x, y, v = np.random.rand(4, 3), np.random.rand(4, 3), np.random.rand(*var_shape) + 0.5
    args = lambda lib, t: (t(x), t(y), t(v))  # noqa: E731
    if not ok:
        with pytest.raises(ValueError, match="var is of incorrect size"):
            torch.nn.functional.gaussian_nll_loss(*args(torch, torch.from_numpy))
        with pytest.raises(ValueError, match=r"gaussian_nll_loss: var of shape"):
            F.gaussian_nll_loss(*args(cr, cr.tensor))
        return
    assert_close(F.gaussian_nll_loss(*args(cr, cr.tensor)),
                 torch.nn.functional.gaussian_nll_loss(*args(torch, torch.from_numpy)))


def test_kl_div_mean_warns_at_the_users_line_as_torch():
    x, y = cr.rand(2, 3).log(), cr.rand(2, 3)
    with pytest.warns(UserWarning, match="kl_div: reduction='mean'") as record:
        F.kl_div(x, y, reduction="mean")
    assert [Path(w.filename).resolve() for w in record] == [Path(__file__).resolve()]
    with no_warnings():
        F.kl_div(x, y, reduction="batchmean")


# ------------------------------------------------- degrees of freedom <= 0 --
@pytest.mark.parametrize("name", ["var", "std", "var_mean", "std_mean"])
@pytest.mark.parametrize("values,kwargs", [
    ([2.0], {}),                                  # one element, correction 1: 0/0
    ([[1.0, 2.0], [3.0, 3.0]], {"dim": 1, "correction": 2}),  # n - correction = 0: inf, or nan
    ([1.0, 2.0, 5.0], {"correction": 5}),         # past zero: inf, as PyTorch (not negative)
    ([], {}),                                     # empty
])
def test_var_std_without_degrees_of_freedom_warn_and_match_torch(name, values, kwargs):
    x = cr.tensor(values)
    with pytest.warns(UserWarning, match=rf"^{name}\(\): degrees of freedom is <= 0") as record:
        ours = getattr(cr, name)(x, **kwargs)
    assert [Path(w.filename).resolve() for w in record] == [Path(__file__).resolve()]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        theirs = getattr(torch, name)(torch.tensor(values), **kwargs)
    for a, b in zip(ours if isinstance(ours, tuple) else (ours,),
                    theirs if isinstance(theirs, tuple) else (theirs,)):
        assert_close(a, b)


def test_var_gradient_without_degrees_of_freedom_matches_torch():
    values = [[1.0, 2.0], [3.0, 3.0]]
    x, tx = cr.tensor(values, requires_grad=True), torch.tensor(values, requires_grad=True)
    with pytest.warns(UserWarning, match="var"):
        cr.var(x, dim=1, correction=2).sum().backward()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.var(tx, dim=1, correction=2).sum().backward()
    assert_close(x.grad, tx.grad)


def test_var_with_degrees_of_freedom_left_does_not_warn():
    with no_warnings():
        cr.var(cr.tensor([2.0]), correction=0)
        cr.std(cr.tensor([[1.0, 2.0]]), dim=1)


# ---------------------------------------------------------------- anomaly --
def test_anomaly_mode_still_names_the_op_behind_a_nan_gradient():
    x = cr.tensor([0.0, 1.0], requires_grad=True)
    with no_warnings(), cr.autograd.detect_anomaly():
        y = (x.sqrt() * 0).sum()
        with pytest.raises(RuntimeError, match=r"anomaly: SqrtBackward returned non-finite values"):
            y.backward()


def test_std_of_a_constant_slice_has_gradient_zero_as_torch():
    values = [[3.0, 3.0], [1.0, 2.0]]
    x, tx = cr.tensor(values, requires_grad=True), torch.tensor(values, requires_grad=True)
    with no_warnings():
        (g,) = cr.autograd.grad(cr.std(x, dim=1).sum(), x, create_graph=True)
        g.sum().backward()
    (tg,) = torch.autograd.grad(torch.std(tx, dim=1).sum(), tx, create_graph=True)
    tg.sum().backward()
    assert_close(g, tg)
    assert_close(x.grad, tx.grad)


@pytest.mark.parametrize("name,args,shape", [
    ("batch_norm", lambda m: dict(running_mean=None, running_var=None, training=True), (3, 4)),
    ("layer_norm", lambda m: dict(normalized_shape=(4,)), (3, 4)),
    ("group_norm", lambda m: dict(num_groups=2), (2, 4, 3)),
])
def test_normalization_of_non_finite_inputs_matches_torch_without_warnings(name, args, shape):
    values = np.random.randn(*shape)
    values.reshape(-1)[:3] = [INF, -INF, NAN]  # the first slices' statistics become nan
    _forward_and_grad(lambda x: getattr(F, name)(x, **args(cr)),
                      lambda x: getattr(torch.nn.functional, name)(x, **args(torch)), values)


@pytest.mark.parametrize("call", [
    lambda m, dt: m.full((2,), 1e300, dtype=dt),
    lambda m, dt: m.ones(2, dtype=dt).fill_(1e300),
    lambda m, dt: m.ones(2, dtype=dt).masked_fill(m.tensor([True, False]), -1e300),
    lambda m, dt: m.where(m.tensor([True, False]), m.ones(2, dtype=dt), 1e300),
    lambda m, dt: m.clamp(m.ones(2, dtype=dt), max=1e300),
], ids=["full", "fill_", "masked_fill", "where", "clamp"])
def test_a_value_out_of_float_range_is_refused_as_torch(call):
    with pytest.raises(RuntimeError, match="cannot be converted to type float without overflow"):
        call(torch, torch.float32)
    with pytest.raises(RuntimeError, match=r"cannot be converted to float32 without overflow"):
        call(cr, cr.float32)


@pytest.mark.parametrize("call", [
    lambda m: m.full((1,), 70000.0, dtype=m.float16),
    lambda m: m.ones(2).fill_(m.tensor(1e300, dtype=m.float64)),
    lambda m: m.tensor([1e300, -1e300, 1.0]),
    lambda m: m.tensor([1e300, 70000.0], dtype=m.float64).to(m.float16),
], ids=["full-half", "fill_-float64-tensor", "tensor", "to-half"])
def test_a_value_past_the_dtype_but_within_float_range_is_inf_as_torch(call):
    with no_warnings():
        ours = call(cr)
    assert_close(ours.double(), call(torch).double())
