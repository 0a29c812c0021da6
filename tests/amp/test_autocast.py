"""chainrule.autocast against torch.autocast('cpu'): output dtypes and values of a sample
of ops from each of PyTorch's CPU lists (products in the lower dtype, the float32 list,
ops left alone), gradients of float32 inputs in float32, and a small CNN trained a step
under autocast. Values at PyTorch's tolerances for the dtype (torch.testing's defaults)."""
import numpy as np
import pytest
import torch

import chainrule as cr

TOL = {"bfloat16": dict(rtol=1.6e-2, atol=1e-5), "float16": dict(rtol=1e-3, atol=1e-5),
       "float32": dict(rtol=1.3e-6, atol=1e-5), "float64": dict(rtol=1e-7, atol=1e-7)}


def _host(t):
    return t.detach().float().numpy() if isinstance(t, torch.Tensor) else \
        t.detach().float().numpy()


def _name(t):
    return str(t.dtype).split(".")[-1]


def _check(ours, theirs, what, precision=None, exact=None):
    """Same dtype, and values at the tolerance of ``precision`` (default: that dtype; a
    float32 gradient that flowed through a bfloat16 product has bfloat16's precision).
    Where they differ by more, a value passes if it is at least as close to ``exact``
    (the float64 result from the same rounded values) as PyTorch's: the two round the
    terms of a product's backward at different steps (as in the low-precision op sweep)."""
    assert _name(ours) == _name(theirs), f"{what}: dtype {_name(ours)} != torch {_name(theirs)}"
    a, b = _host(ours).astype(np.float64), _host(theirs).astype(np.float64)
    tol = TOL[precision or _name(theirs)]
    close = np.isclose(a, b, **tol)
    if exact is not None:
        close |= np.abs(a - exact) <= np.abs(b - exact)
    np.testing.assert_allclose(a[~close], b[~close], **tol, err_msg=what)


# inputs: (shape, dtype); values in [0.5, 1.5] (no cancellation in sums of products) or
# int targets; the op gets them in order
def _cases():
    f, b = "float32", "low"  # low: the autocast dtype
    img, ker = ((1, 2, 5, 5), f), ((3, 2, 3, 3), f)
    return {
        # products: the lower dtype
        "matmul": (lambda m, x, y: x @ y, [((4, 6), f), ((6, 3), f)]),
        "mm": (lambda m, x, y: m.mm(x, y), [((4, 6), f), ((6, 3), b)]),
        "bmm": (lambda m, x, y: m.bmm(x, y), [((2, 4, 6), f), ((2, 6, 3), f)]),
        "addmm": (lambda m, a, x, y: m.addmm(a, x, y), [((4, 3), f), ((4, 6), f), ((6, 3), f)]),
        "baddbmm": (lambda m, a, x, y: m.baddbmm(a, x, y, beta=0.5),
                    [((2, 4, 3), f), ((2, 4, 6), f), ((2, 6, 3), f)]),
        "addbmm": (lambda m, a, x, y: m.addbmm(a, x, y), [((4, 3), f), ((2, 4, 6), f), ((2, 6, 3), f)]),
        "tensor.addmm": (lambda m, a, x, y: a.addmm(x, y), [((4, 3), f), ((4, 6), b), ((6, 3), f)]),
        "einsum": (lambda m, x, y: m.einsum("ij,jk->ik", x, y), [((4, 6), f), ((6, 3), f)]),
        "linear": (lambda m, x, w, c: m.nn.functional.linear(x, w, c), [((4, 6), f), ((3, 6), f), ((3,), f)]),
        "conv2d": (lambda m, x, w: m.nn.functional.conv2d(x, w, padding=1), [img, ker]),
        "conv1d": (lambda m, x, w: m.nn.functional.conv1d(x, w), [((2, 3, 7), f), ((4, 3, 2), f)]),
        "conv_transpose2d": (lambda m, x, w: m.nn.functional.conv_transpose2d(x, w), [img, ((2, 3, 2, 2), f)]),
        "prelu": (lambda m, x, w: m.nn.functional.prelu(x - 1, w), [((4, 6), f), ((1,), f)]),
        "sdpa": (lambda m, q, k, v: m.nn.functional.scaled_dot_product_attention(q, k, v),
                 [((1, 3, 4), f), ((1, 5, 4), f), ((1, 5, 4), f)]),
        # the float32 list: bfloat16 inputs computed in float32
        "prod": (lambda m, x: x.prod(1), [((4, 6), b)]),
        "trace": (lambda m, x: m.trace(x), [((4, 4), b)]),
        "cdist": (lambda m, x, y: m.cdist(x, y), [((4, 3), b), ((5, 3), b)]),
        "mse_loss": (lambda m, x, y: m.nn.functional.mse_loss(x, y), [((4, 6), b), ((4, 6), b)]),
        "l1_loss": (lambda m, x, y: m.nn.functional.l1_loss(x, y), [((4, 6), b), ((4, 6), f)]),
        "cross_entropy": (lambda m, x, t: m.nn.functional.cross_entropy(x, t), [((4, 6), b), "target"]),
        "nll_loss": (lambda m, x, t: m.nn.functional.nll_loss(x, t), [((4, 6), b), "target"]),
        "bce_with_logits": (lambda m, x, y: m.nn.functional.binary_cross_entropy_with_logits(x - 1, y - 0.5),
                            [((4, 6), b), ((4, 6), b)]),
        "smooth_l1_loss": (lambda m, x, y: m.nn.functional.smooth_l1_loss(x, y), [((4, 6), b), ((4, 6), b)]),
        "kl_div": (lambda m, x, y: m.nn.functional.kl_div(x, y, reduction="batchmean"), [((4, 6), b), ((4, 6), b)]),
        "avg_pool3d": (lambda m, x: m.nn.functional.avg_pool3d(x, 2), [((1, 2, 4, 4, 4), b)]),
        "max_pool3d": (lambda m, x: m.nn.functional.max_pool3d(x, 2), [((1, 2, 4, 4, 4), b)]),
        "pad_reflect": (lambda m, x: m.nn.functional.pad(x, (1, 1, 1, 1), mode="reflect"), [((1, 2, 4, 4), b)]),
        "pad_constant": (lambda m, x: m.nn.functional.pad(x, (1, 1)), [((1, 2, 4, 4), b)]),
        # left alone: the dtype of their inputs (on CPU, softmax and the norms too)
        "softmax": (lambda m, x: x.softmax(-1), [((4, 6), b)]),
        "log_softmax_f32": (lambda m, x: x.log_softmax(-1), [((4, 6), f)]),
        "gelu": (lambda m, x: m.nn.functional.gelu(x), [((4, 6), b)]),
        "sum": (lambda m, x: x.sum(), [((4, 6), b)]),
        "mv": (lambda m, x, v: m.mv(x, v), [((4, 6), f), ((6,), f)]),
        "dot": (lambda m, x, v: m.dot(x, v), [((6,), f), ((6,), f)]),
        "adaptive_avg_pool2d": (lambda m, x: m.nn.functional.adaptive_avg_pool2d(x, 2), [img]),
        "interpolate_area": (lambda m, x: m.nn.functional.interpolate(x, size=3, mode="area"), [img]),
        "max_pool2d": (lambda m, x: m.nn.functional.max_pool2d(x, 2), [img]),
        "relu_of_product": (lambda m, x, y: (x @ y - 3).relu(), [((4, 6), f), ((6, 3), f)]),
        "mixed_add": (lambda m, x, y: x + y, [((4, 6), f), ((4, 6), b)]),
        "cat_promotes": (lambda m, x, y: m.cat([x, y]), [((2, 6), f), ((3, 6), b)]),
        "stack_promotes": (lambda m, x, y: m.stack([x, y]), [((2, 6), b), ((2, 6), f)]),
        "explicit_dtype": (lambda m, x: x.prod(dtype=m.float64), [((4, 3), b)]),
        "float64_product": (lambda m, x, y: x @ y, [((4, 6), "float64"), ((6, 3), "float64")]),
    }


def _inputs(specs, seed, low):
    rng = np.random.default_rng(seed)
    out = []
    for spec in specs:
        if spec == "target":
            out.append(("target", rng.integers(0, 6, size=4)))
        else:
            shape, dtype = spec
            out.append((low if dtype == "low" else dtype, rng.uniform(0.5, 1.5, size=shape).astype(np.float32)))
    return out


def _make(m, inputs):
    made = []
    for dtype, values in inputs:
        if dtype == "target":
            made.append(m.tensor(values))
        else:
            t = m.tensor(values).to(getattr(m, dtype))
            made.append(t.detach().requires_grad_(True))
    return made


CASES = _cases()
PRODUCTS = {"matmul", "mm", "bmm", "addmm", "baddbmm", "addbmm", "tensor.addmm", "einsum", "linear",
            "conv2d", "conv1d", "conv_transpose2d", "prelu", "sdpa", "relu_of_product"}


@pytest.mark.parametrize("dtype", ["bfloat16", "float16"])
@pytest.mark.parametrize("name", list(CASES))
def test_op_under_autocast_as_pytorch(name, dtype):
    fn, specs = CASES[name]
    inputs = _inputs(specs, seed=len(name), low=dtype)
    results = {}
    for m in (cr, torch):
        args = _make(m, inputs)
        with m.autocast("cpu", dtype=getattr(m, dtype)):
            out = fn(m, *args)
        # a random cotangent (a plain sum cancels in layer_norm's and softmax's gradients)
        weights = np.random.default_rng(7).standard_normal(tuple(out.shape)).astype(np.float32)
        grads = m.autograd.grad((out.float() * m.tensor(weights)).sum(),
                                [a for a in args if a.requires_grad], allow_unused=True)
        results[m] = (out, grads)
    (out, grads), (tout, tgrads) = results[cr], results[torch]
    _check(out, tout, "output")
    # a gradient has the precision of the lowest dtype that its values went through
    lowest = dtype if name in PRODUCTS or "low" in str(specs) else None
    exact = _exact_product_grads(fn, inputs, dtype, tuple(tout.shape)) \
        if name in PRODUCTS else [None] * len(grads)
    for k, (g, tg, x) in enumerate(zip(grads, tgrads, exact)):
        assert (g is None) == (tg is None), f"gradient {k}: presence"
        if g is not None:
            _check(g, tg, f"gradient {k}", precision=lowest if _name(tg) != "float64" else None,
                   exact=x)


def _exact_product_grads(fn, inputs, dtype, shape):
    """A product's input gradients in float64 from what autocast gives it: the inputs and
    the cotangent rounded to ``dtype``."""
    low = getattr(torch, dtype)
    args = [torch.tensor(v).to(low).double().requires_grad_(True) for _, v in inputs]
    out = fn(torch, *args)
    weights = np.random.default_rng(7).standard_normal(shape).astype(np.float32)
    grads = torch.autograd.grad(out, args, torch.tensor(weights).to(low).double())
    return [g.numpy() for g in grads]


def test_the_float32_parameters_of_a_cnn_get_float32_gradients_as_pytorch():
    rng = np.random.default_rng(3)
    x = rng.standard_normal((8, 1, 8, 8)).astype(np.float32)
    y = rng.integers(0, 5, size=8)
    results = {}
    for m in (cr, torch):
        m.manual_seed(0)
        nn = m.nn
        model = nn.Sequential(nn.Conv2d(1, 4, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
                              nn.Flatten(), nn.Linear(64, 5))
        for p, w in zip(model.parameters(), _weights(rng_seed=4)):
            with m.no_grad():
                p.copy_(m.tensor(w))
        with m.autocast("cpu", dtype=m.bfloat16):
            logits = model(m.tensor(x))
            loss = nn.functional.cross_entropy(logits, m.tensor(y))
        loss.backward()
        results[m] = (logits, loss, [p.grad for p in model.parameters()])
    (logits, loss, grads), (tlogits, tloss, tgrads) = results[cr], results[torch]
    assert logits.dtype is cr.bfloat16 and loss.dtype is cr.float32
    _check(logits, tlogits, "logits")
    _check(loss, tloss, "loss")
    for k, (g, tg) in enumerate(zip(grads, tgrads)):
        assert g.dtype is cr.float32
        _check(g, tg, f"gradient of parameter {k}")


def _weights(rng_seed):
    rng = np.random.default_rng(rng_seed)
    shapes = [(4, 1, 3, 3), (4,), (5, 64), (5,)]
    return [(rng.standard_normal(s) * 0.3).astype(np.float32) for s in shapes]
