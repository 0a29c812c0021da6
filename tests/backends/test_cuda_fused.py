"""The fused CuPy kernels (``cupy.fuse``: chainrule/backends/cupy_fused.py) on the ``cuda``
device: the stand-in's ``fuse`` itself, then each fused path (activation backwards,
Adam/AdamW/SGD steps) launching once and agreeing with the CPU's NumPy result, for
0-d, contiguous and non-contiguous arrays, float64 and float32; options that change the
formula each get their kernel; what cannot fuse falls back to the array code."""
from __future__ import annotations

import contextlib

import numpy as np
import pytest

import chainrule as cr
import chainrule.nn as nn
from chainrule.backends import NUMPY, backend_for_device, standin
from chainrule.backends.cupy_fused import fused_kernel
from chainrule.ops.registry import REGISTRY
from chainrule.optim.functional import adam_update, sgd_update

from tests.backends.cuda_device import REAL_CUDA, cuda, standin_only  # noqa: F401 (cuda: a fixture)

RTOL = {np.float64: 1e-12, np.float32: 1e-6}
DTYPES = [np.float64, np.float32]


@contextlib.contextmanager
def launches(expected: dict):
    """Assert that the block launched exactly these fused kernels (name: count) on the
    stand-in (a real GPU's launches are not counted: there only the values are checked)."""
    before = standin.fused_launches()
    yield
    if REAL_CUDA:
        return
    after = standin.fused_launches()
    ran = {k: n - before.get(k, 0) for k, n in after.items() if n != before.get(k, 0)}
    assert ran == expected


def _close(got, want, dtype):
    """Equal to ``RTOL`` relative to the array's scale: a gradient that cancels (gelu's
    ``cdf + x·pdf`` near x = -0.75) is as exact as its terms, not as its small sum (there the
    CPU's float32 erf and SciPy's/CUDA's differ by an ulp of the terms)."""
    assert got.dtype == want.dtype and got.shape == want.shape
    rtol = RTOL[dtype]
    np.testing.assert_allclose(got, want, rtol=rtol, atol=rtol * np.abs(want).max(initial=1e-300))


# ------------------------------------------------------------- stand-in fuse --
@standin_only
def test_fuse_forms_count_launches_by_kernel_name(cuda):
    cp = standin.module

    @cp.fuse
    def plain(x):
        return x + 1

    @cp.fuse()
    def called(x):
        return x * 2

    @cp.fuse(kernel_name="doubled_then_one")
    def named(x):
        return x * 2 + 1

    x = cp.arange(4.0)
    with launches({"plain": 2, "called": 1, "doubled_then_one": 1}):
        assert plain(plain(x)).tolist() == [2.0, 3.0, 4.0, 5.0]
        assert called(x).tolist() == [0.0, 2.0, 4.0, 6.0]
        assert named(x).tolist() == [1.0, 3.0, 5.0, 7.0]
    assert plain.__name__ == "plain" and "plain" in repr(plain)
    with launches({}):  # no device array among the arguments: a plain Python call
        assert named(2.0) == 5.0
    standin.reset_fused_launches()
    assert standin.fused_launches() == {}


@standin_only
def test_fused_functions_write_arguments_in_place_and_return_fresh_arrays(cuda):
    cp = standin.module

    @cp.fuse(kernel_name="axpy_in_place")
    def axpy(y, x, a):
        y += a * x

    @cp.fuse(kernel_name="identity")
    def identity(x):
        return x

    y, x = cp.ones(3), cp.arange(3.0)
    with launches({"axpy_in_place": 1, "identity": 1}):
        assert axpy(y, x, 2.0) is None
        same = identity(x)
    assert y.tolist() == [1.0, 3.0, 5.0]
    same += 1  # a kernel's output is never one of its arguments
    assert x.tolist() == [0.0, 1.0, 2.0] and type(same) is standin.ndarray


@standin_only
@pytest.mark.parametrize("body, error, match", [
    (lambda x: x.shape, TypeError, "not supported in cupy.fuse"),
    (lambda x: abs(x), TypeError, "abs"),
    (lambda x: x[0], ValueError, "supports `\\[...\\]`"),
    (lambda x: x.sum(), AttributeError, "no attribute 'sum'"),
    (lambda x: x.item(), TypeError, "host"),
    (lambda x: x if (x > 0) else -x, standin.HostSyncError, "bool"),
    (lambda x: np.exp(x), TypeError, "NumPy function"),
])
def test_fuse_refuses_what_cupys_tracer_refuses(cuda, body, error, match):
    kernel = standin.module.fuse(kernel_name="refused")(body)
    with pytest.raises(error, match=match):
        kernel(standin.module.ones(3))


@standin_only
def test_fuse_refuses_host_arrays_and_other_objects(cuda):
    kernel = standin.module.fuse(lambda x, y: x + y)
    with pytest.raises(TypeError, match="Invalid argument type"):
        kernel(standin.module.ones(2), np.ones(2))
    with pytest.raises(TypeError, match="Invalid argument type"):
        kernel(standin.module.ones(2), [1.0, 2.0])
    assert kernel(standin.module.ones(2), np.float32(1)).tolist() == [2.0, 2.0]


# --------------------------------------------------------- activation backwards --
RULES = {  # test id: (op, params, fused kernel)
    "relu": ("relu", {}, "chainrule_relu_backward"),
    "sigmoid": ("sigmoid", {}, "chainrule_sigmoid_backward"),
    "tanh": ("tanh", {}, "chainrule_tanh_backward"),
    "silu": ("silu", {}, "chainrule_silu_backward"),
    "gelu": ("gelu", {"approximate": "none"}, "chainrule_gelu_backward"),
    "gelu_tanh": ("gelu", {"approximate": "tanh"}, "chainrule_gelu_backward_tanh"),
}
# (full shape, the view taken of it): 0-d, contiguous, transposed, strided, 3-d
LAYOUTS = {"0d": ((), lambda a: a), "flat": ((7,), lambda a: a), "transposed": ((4, 6), lambda a: a.T),
           "strided": ((3, 8), lambda a: a[:, ::2]), "3d": ((2, 3, 5), lambda a: a)}


def _host_and_device(rng, shape, view, dtype, xp):
    host = np.asarray(rng.standard_normal(shape) * 3, dtype)  # (0-d: an array, not a scalar)
    if host.ndim:
        host.reshape(-1)[::5] = 0  # relu's kink, tanh's and sigmoid's centre
    return view(host), view(xp.from_host(host))


@pytest.mark.parametrize("layout", sorted(LAYOUTS))
@pytest.mark.parametrize("dtype", DTYPES, ids=["float64", "float32"])
@pytest.mark.parametrize("name", sorted(RULES))
def test_activation_backward_is_one_kernel_and_matches_the_cpu(cuda, name, dtype, layout):
    op_name, params, kernel = RULES[name]
    op, xp = REGISTRY[op_name], backend_for_device(cuda)
    rng = np.random.default_rng(sorted(RULES).index(name))
    shape, view = LAYOUTS[layout]
    x_h, x_d = _host_and_device(rng, shape, view, dtype, xp)
    g_h, g_d = _host_and_device(rng, shape, view, dtype, xp)
    ans_h = op.forward(NUMPY, x_h, **params)
    ans_d = xp.from_host(np.array(ans_h))
    want = op.vjps[0](NUMPY, g_h, ans_h, x_h, **params)
    with launches({kernel: 1}):
        got = op.vjps[0](xp, g_d, ans_d, x_d, **params)
    _close(xp.to_host(got), np.asarray(want), dtype)


@pytest.mark.parametrize("name", sorted(RULES))
def test_activation_gradients_through_autograd_match_the_cpu(cuda, name):
    op_name, params, kernel = RULES[name]
    fn = {"relu": cr.relu, "sigmoid": cr.sigmoid, "tanh": cr.tanh, "silu": nn.functional.silu,
          "gelu": nn.functional.gelu}[op_name]
    rng = np.random.default_rng(7)
    x0, w0 = rng.standard_normal((5, 4)), rng.standard_normal((5, 4))
    grads = []
    for device in ("cpu", cuda):
        x = cr.tensor(x0, device=device, requires_grad=True)
        loss = (fn(x, **params) * cr.tensor(w0, device=device)).sum()
        with launches({kernel: 1} if device == cuda else {}):
            loss.backward()
        grads.append(x.grad.cpu().numpy())
    _close(grads[1], grads[0], np.float64)


@pytest.mark.parametrize("name", ["relu", "tanh", "gelu"])
def test_second_derivatives_on_cuda_match_the_cpu(cuda, name):
    op_name, params, _ = RULES[name]
    fn = {"relu": cr.relu, "tanh": cr.tanh, "gelu": nn.functional.gelu}[op_name]
    x0 = np.random.default_rng(3).standard_normal(6)
    out = []
    for device in ("cpu", cuda):
        x = cr.tensor(x0, device=device, requires_grad=True)
        (g,) = cr.autograd.grad((fn(x, **params) ** 2).sum(), x, create_graph=True)
        (gg,) = cr.autograd.grad(g.sum(), x)
        out.append((g.detach().cpu().numpy(), gg.cpu().numpy()))
    for got, want in zip(out[1], out[0]):
        _close(got, want, np.float64)


def test_what_cannot_fuse_runs_the_array_rule(cuda):
    xp = backend_for_device(cuda)
    a32, a64 = xp.from_host(np.ones(3, np.float32)), xp.from_host(np.ones(3))
    assert fused_kernel(NUMPY, "tanh_backward", np.ones(3), np.ones(3)) is None
    assert fused_kernel(xp, "tanh_backward", a32, a64) is None  # mixed dtypes
    assert fused_kernel(xp, "tanh_backward", xp.from_host(np.ones(3, np.int64))) is None
    assert fused_kernel(xp, "tanh_backward", a64, a64) is not None
    with launches({}):  # mixed dtypes: the rule's array code, same values
        got = REGISTRY["tanh"].vjps[0](xp, a32, a64 * 0.5, a64)
    assert xp.to_host(got).tolist() == [0.75] * 3


@standin_only
def test_fused_and_unfused_are_the_same_arithmetic(cuda):
    xp = backend_for_device(cuda)
    rng = np.random.default_rng(11)
    x, g = (xp.from_host(rng.standard_normal((4, 5)).astype(np.float32)) for _ in range(2))
    results = []
    for fused in (True, False):
        was = xp.use_fused_kernels(fused)
        try:
            results.append([xp.to_host(REGISTRY[op].vjps[0](xp, g, REGISTRY[op].forward(xp, x, **p),
                                                             x, **p)) for op, p, _ in RULES.values()])
        finally:
            xp.use_fused_kernels(was)
    for fused, unfused in zip(*results):
        np.testing.assert_array_equal(fused, unfused)  # the stand-in rounds each op alike


# ------------------------------------------------------------ optimizer steps --
ADAM = {  # test id: (adam_update options, the kernel it runs)
    "adam": (dict(), "chainrule_adam"),
    "amsgrad": (dict(amsgrad=True), "chainrule_adam_amsgrad"),
    "maximize": (dict(maximize=True), "chainrule_adam_maximize"),
    "weight_decay": (dict(weight_decay=0.1), "chainrule_adam_coupled"),
    "maximize_weight_decay": (dict(maximize=True, weight_decay=0.1), "chainrule_adam_maximize_coupled"),
    "adamw_amsgrad": (dict(weight_decay=0.1, decoupled_weight_decay=True, amsgrad=True),
                      "chainrule_adam_amsgrad_decoupled"),
    "low_beta1": (dict(beta1=0.3), "chainrule_adam_lerp_high"),  # lerp weight 0.7
}
SGD = {
    "plain": (dict(), "chainrule_sgd"),
    "maximize_weight_decay": (dict(maximize=True, weight_decay=0.1), "chainrule_sgd_maximize_coupled"),
    "momentum": (dict(momentum=0.9), "chainrule_sgd_running"),
    "dampening": (dict(momentum=0.9, dampening=0.3, weight_decay=0.01), "chainrule_sgd_coupled_running"),
    "nesterov": (dict(momentum=0.9, nesterov=True), "chainrule_sgd_running_nesterov"),
}
STEPS = 4


def _arrays(xp, rng, dtype, count):
    """``count`` equal (host, device) pairs per layout: 0-d, contiguous and non-contiguous."""
    pairs = []
    for shape, view in LAYOUTS.values():
        host = [np.asarray(rng.standard_normal(shape), dtype) for _ in range(count)]
        pairs.append(([view(h) for h in host], [view(xp.from_host(h)) for h in host]))
    return pairs


def _scaled(xp, grad, factor):
    """``grad * factor`` as an array (NumPy makes a 0-d array times a number a scalar)."""
    return xp.asarray(grad * factor)


def _adam_run(xp, params, grads, options, dtype):
    amsgrad = options.get("amsgrad", False)
    state = [[xp.zeros(p.shape, dtype) for p in params] for _ in range(3)]
    steps = [np.zeros(()) for _ in params]
    kw = {**dict(beta1=0.9, beta2=0.999, lr=0.01, weight_decay=0.0, eps=1e-8, maximize=False),
          **options, "amsgrad": amsgrad}
    for k in range(STEPS):
        adam_update(params, [_scaled(xp, g, k + 1) for g in grads], state[0], state[1],
                    state[2] if amsgrad else [], steps, **kw)
    return params + state[0] + state[1] + (state[2] if amsgrad else [])


@pytest.mark.parametrize("dtype", DTYPES, ids=["float64", "float32"])
@pytest.mark.parametrize("name", sorted(ADAM))
def test_adam_steps_are_one_kernel_per_parameter_and_match_the_cpu(cuda, name, dtype):
    options, kernel = ADAM[name]
    xp = backend_for_device(cuda)
    params_h, params_d, grads_h, grads_d = _parameters_and_grads(xp, 5, dtype)
    want = _adam_run(NUMPY, params_h, grads_h, options, dtype)
    with launches({kernel: STEPS * len(params_d)}):
        got = _adam_run(xp, params_d, grads_d, options, dtype)
    for g, w in zip(got, want):
        _close(xp.to_host(g), w, dtype)


def _parameters_and_grads(xp, seed: int, dtype):
    """The same parameters and gradients on the host and on the device."""
    pairs = _arrays(xp, np.random.default_rng(seed), dtype, 2)
    return ([p[0][0] for p in pairs], [p[1][0] for p in pairs],
            [p[0][1] for p in pairs], [p[1][1] for p in pairs])


def _sgd_run(xp, params, grads, options):
    bufs = [None] * len(params)
    for k in range(STEPS):
        sgd_update(params, [_scaled(xp, g, k + 1) for g in grads], bufs, lr=0.1, **options)
    return params + ([] if options.get("momentum", 0) == 0 else bufs)


@pytest.mark.parametrize("dtype", DTYPES, ids=["float64", "float32"])
@pytest.mark.parametrize("name", sorted(SGD))
def test_sgd_steps_are_one_kernel_per_parameter_and_match_the_cpu(cuda, name, dtype):
    options, kernel = SGD[name]
    xp = backend_for_device(cuda)
    params_h, params_d, grads_h, grads_d = _parameters_and_grads(xp, 6, dtype)
    want = _sgd_run(NUMPY, params_h, grads_h, options)
    n = len(params_d)
    # a momentum run's first step fills the buffers (its own kernel), later steps run them
    expected = {kernel: STEPS * n} if "running" not in kernel else \
        {kernel: (STEPS - 1) * n, kernel.replace("running", "first"): n}
    with launches(expected):
        got = _sgd_run(xp, params_d, grads_d, options)
    for g, w in zip(got, want):
        _close(xp.to_host(g), w, dtype)


OPTIMIZERS = {  # optimizer, options, kernels of a run of STEPS steps over a model's 4 parameters
    "Adam": (dict(lr=0.01, amsgrad=True, weight_decay=0.01),
             {"chainrule_adam_amsgrad_coupled": 4 * STEPS}),
    "AdamW": (dict(lr=0.01), {"chainrule_adam_decoupled": 4 * STEPS}),
    "SGD": (dict(lr=0.05, momentum=0.9, nesterov=True),
            {"chainrule_sgd_first_nesterov": 4, "chainrule_sgd_running_nesterov": 4 * (STEPS - 1)}),
}


def _train(device, name, dtype):
    cr.manual_seed(0)
    model = nn.Sequential(nn.Linear(6, 5), nn.Tanh(), nn.Linear(5, 2)).to(dtype).to(device)
    options, _ = OPTIMIZERS[name]
    opt = getattr(cr.optim, name)(model.parameters(), **options)
    rng = np.random.default_rng(2)
    x, y = (cr.tensor(rng.standard_normal(s), dtype=dtype, device=device) for s in ((8, 6), (8, 2)))
    for _ in range(STEPS):
        opt.zero_grad()
        ((model(x) - y) ** 2).mean().backward()
        opt.step()
    return model, opt


@pytest.mark.parametrize("dtype", [cr.float64, cr.float32], ids=["float64", "float32"])
@pytest.mark.parametrize("name", sorted(OPTIMIZERS))
def test_training_runs_on_cuda_match_cpu_parameters_and_state(cuda, name, dtype):
    ref, ref_opt = _train("cpu", name, dtype)
    kernels = dict(OPTIMIZERS[name][1], chainrule_tanh_backward=STEPS)
    with launches(kernels):
        model, opt = _train(cuda, name, dtype)
    np_dtype = np.float64 if dtype == cr.float64 else np.float32
    for (pc, pr), p, q in zip(zip(model.parameters(), ref.parameters()), opt.state.values(),
                              ref_opt.state.values()):
        _close(pc.detach().cpu().numpy(), pr.detach().numpy(), np_dtype)
        assert sorted(p) == sorted(q)
        for key in q:
            _close(p[key].cpu().numpy(), q[key].numpy(), q[key].numpy().dtype.type)


def test_optimizer_arrays_that_cannot_fuse_take_the_array_path(cuda):
    xp = backend_for_device(cuda)
    host = [np.linspace(-1, 1, 6, dtype=np.float32).reshape(2, 3)]
    grad = [np.full((2, 3), 0.5)]  # float64 gradient of a float32 parameter: no one kernel
    device = [xp.from_host(host[0].copy())]
    for params, grads, m in ((host, grad, NUMPY), (device, [xp.from_host(grad[0])], xp)):
        with launches({}):
            adam_update(params, grads, [m.zeros((2, 3), np.float32)], [m.zeros((2, 3), np.float32)],
                        [], [np.zeros(())], amsgrad=False, beta1=0.9, beta2=0.999, lr=0.1,
                        weight_decay=0.0, eps=1e-8, maximize=False)
            sgd_update(params, grads, [None], lr=0.1, momentum=0.5)
    _close(xp.to_host(device[0]), host[0], np.float32)


@standin_only
def test_numpy_updates_launch_nothing_and_unfused_cuda_steps_equal_fused_ones(cuda):
    xp = backend_for_device(cuda)
    results = []
    for fused in (True, False):
        was = xp.use_fused_kernels(fused)
        try:
            with launches({"chainrule_adam_amsgrad_decoupled": 3 * STEPS} if fused else {}):
                pairs = _arrays(xp, np.random.default_rng(9), np.float32, 2)[:3]
                params, grads = [p[1][0] for p in pairs], [p[1][1] for p in pairs]
                results.append(_adam_run(xp, params, grads, ADAM["adamw_amsgrad"][0], np.float32))
        finally:
            xp.use_fused_kernels(was)
    for fused, unfused in zip(*results):  # the same operations in the same order
        np.testing.assert_array_equal(xp.to_host(fused), xp.to_host(unfused))
    with launches({}):
        _adam_run(NUMPY, [np.ones(3)], [np.ones(3)], {}, np.float64)


@standin_only
def test_the_environment_variable_turns_fused_kernels_off(cuda, monkeypatch):
    from chainrule.backends.cupy_backend import FUSED_ENV
    x0 = np.linspace(-2, 2, 5)
    monkeypatch.setenv(FUSED_ENV, "0")
    standin.enable()  # (a fresh backend reads the variable)
    try:
        x = cr.tensor(x0, device=cuda, requires_grad=True)
        with launches({}):
            cr.tanh(x).sum().backward()
        assert not backend_for_device(cuda).use_fused_kernels(True)  # it was off
        y = cr.tensor(x0, device=cuda, requires_grad=True)
        with launches({"chainrule_tanh_backward": 1}):
            cr.tanh(y).sum().backward()
        _close(y.grad.cpu().numpy(), x.grad.cpu().numpy(), np.float64)
    finally:
        monkeypatch.delenv(FUSED_ENV)
        standin.enable()
