"""chainrule.autograd.Function against torch.autograd.Function: the same Function classes,
written once for both libraries (``_functions(lib)``), must give the same values, gradients,
second derivatives and errors; gradients also against central differences (gradcheck)."""
import types

import numpy as np
import pytest
import torch

import chainrule as cr
from chainrule.errors import BackwardError, ChainruleError, ShapeError
from tests.torch_oracle import assert_close

LIBS = {"cr": cr, "torch": torch}


def _functions(lib):
    """The tutorials' custom Functions (and a few more), for ``lib`` (chainrule or torch)."""
    F = lib.autograd.Function
    once = lib.autograd.function.once_differentiable

    class Legendre3(F):  # P3(x) = (5x^3 - 3x) / 2: backward in tensor ops (twice differentiable)
        @staticmethod
        def forward(ctx, x):
            ctx.save_for_backward(x)
            return 0.5 * (5 * x ** 3 - 3 * x)

        @staticmethod
        def backward(ctx, g):
            (x,) = ctx.saved_tensors
            return g * 1.5 * (5 * x ** 2 - 1)

    class MyReLU(F):
        @staticmethod
        def forward(ctx, x):
            ctx.save_for_backward(x)
            return x.clamp(min=0)

        @staticmethod
        def backward(ctx, g):
            (x,) = ctx.saved_tensors
            gx = g.clone()
            gx[x < 0] = 0
            return gx

    class MyExp(F):  # saves its output
        @staticmethod
        def forward(ctx, x):
            y = x.exp()
            ctx.save_for_backward(y)
            return y

        @staticmethod
        def backward(ctx, g):
            (y,) = ctx.saved_tensors
            return g * y

    class OnceExp(F):
        @staticmethod
        def forward(ctx, x):
            y = x.exp()
            ctx.save_for_backward(y)
            return y

        @staticmethod
        @once
        def backward(ctx, g):
            (y,) = ctx.saved_tensors
            return g * y

    class STE(F):  # straight-through estimator: round forward, identity backward
        @staticmethod
        def forward(ctx, x):
            return x.round()

        @staticmethod
        def backward(ctx, g):
            return g

    class GradReverse(F):  # domain adaptation: identity forward, -alpha * g backward
        @staticmethod
        def forward(ctx, x, alpha):
            ctx.alpha = alpha
            return x.view_as(x)

        @staticmethod
        def backward(ctx, g):
            return g.neg() * ctx.alpha, None

    class MyLinear(F):
        @staticmethod
        def forward(ctx, x, w, b=None):
            ctx.save_for_backward(x, w, b)
            out = x.mm(w.t())
            if b is not None:
                out = out + b.unsqueeze(0).expand_as(out)
            return out

        @staticmethod
        def backward(ctx, g):
            x, w, b = ctx.saved_tensors
            gx = gw = gb = None
            if ctx.needs_input_grad[0]:
                gx = g.mm(w)
            if ctx.needs_input_grad[1]:
                gw = g.t().mm(x)
            if b is not None and ctx.needs_input_grad[2]:
                gb = g.sum(0)
            return gx, gw, gb

    class Scale(F):  # the setup_context form; keyword default bound by position
        @staticmethod
        def forward(x, k=3.0):
            return x * k

        @staticmethod
        def setup_context(ctx, inputs, output):
            ctx.k = inputs[1]

        @staticmethod
        def backward(ctx, g):
            return g * ctx.k, None

    class TwoOut(F):  # (2x, sin x), saving an input and an output
        @staticmethod
        def forward(ctx, x, materialize):
            ctx.set_materialize_grads(materialize)
            s = x.sin()
            ctx.save_for_backward(x, s)
            return x * 2, s

        @staticmethod
        def backward(ctx, ga, gb):
            x, s = ctx.saved_tensors
            ctx.seen = (ga is None, gb is None)
            out = 0
            if ga is not None:
                out = out + 2 * ga
            if gb is not None:
                out = out + gb * x.cos()
            return out, None

    class SinCos(F):  # saves both of its outputs: double backward flows through them
        @staticmethod
        def forward(ctx, x):
            s, c = x.sin(), x.cos()
            ctx.save_for_backward(s, c)
            return s, c

        @staticmethod
        def backward(ctx, gs, gc):
            s, c = ctx.saved_tensors
            return gs * c - gc * s

    class MixedOut(F):  # float, integer and non-tensor outputs
        @staticmethod
        def forward(ctx, x):
            return x * 3, (x > 0).long(), 7

        @staticmethod
        def backward(ctx, ga, gi, gn):
            ctx.seen = (gi is None, gn is None, None if gi is None else float(gi.sum()))
            return ga * 3

    class SortVals(F):  # marks its second float output non-differentiable
        @staticmethod
        def forward(ctx, x):
            y = x * 2
            z = x + 1
            ctx.mark_non_differentiable(z)
            return y, z

        @staticmethod
        def backward(ctx, gy, gz):
            return gy * 2

    class MulTwo_(F):  # in place, marked dirty
        @staticmethod
        def forward(ctx, x):
            x.mul_(2)
            ctx.mark_dirty(x)
            return x

        @staticmethod
        def backward(ctx, g):
            return g * 2

    class Mixed(F):  # tensors and non-tensors mixed; a keyword argument counts as an input
        @staticmethod
        def forward(ctx, a, n, b, scale=1.0):
            ctx.n = n
            ctx.scale = scale
            ctx.save_for_backward(a, b)
            return (a * b) * (n * scale)

        @staticmethod
        def backward(ctx, g):
            a, b = ctx.saved_tensors
            c = ctx.n * ctx.scale
            return g * b * c, None, g * a * c, None

    return types.SimpleNamespace(**{k: v for k, v in locals().items() if isinstance(v, type)})


FN = {name: _functions(lib) for name, lib in LIBS.items()}


def pair(values, dtype=np.float64, requires_grad=True):
    a = np.asarray(values, dtype=dtype)
    return (cr.tensor(a.copy(), requires_grad=requires_grad),
            torch.tensor(a.copy(), requires_grad=requires_grad))


X = np.array([[0.3, -1.2, 0.8], [2.0, -0.1, 0.0]])


# ------------------------------------------------------------------ first order --
@pytest.mark.parametrize("name", ["Legendre3", "MyReLU", "MyExp", "OnceExp", "STE"])
@pytest.mark.parametrize("walk", ["backward", "grad", "anomaly"])
def test_unary_functions_match_torch(name, walk):
    xc, xt = pair(X)
    yc = getattr(FN["cr"], name).apply(xc * 1.5)
    yt = getattr(FN["torch"], name).apply(xt * 1.5)
    assert_close(yc, yt)
    assert yc.grad_fn.name() == yt.grad_fn.name() == f"{name}Backward"
    w = np.linspace(-1, 1, X.size).reshape(X.shape)
    lc, lt = (yc * cr.tensor(w)).sum(), (yt * torch.tensor(w)).sum()
    lt.backward()
    if walk == "backward":  # the plain walk (rules on arrays)
        lc.backward()
        gc = xc.grad
    elif walk == "grad":
        (gc,) = cr.autograd.grad(lc, xc)
    else:
        with cr.autograd.detect_anomaly():
            (gc,) = cr.autograd.grad(lc, xc)
    assert_close(gc, xt.grad)


@pytest.mark.parametrize("name", ["Legendre3", "MyReLU", "MyExp", "OnceExp"])
def test_gradcheck(name):
    fn = getattr(FN["cr"], name)
    x = cr.tensor(X + 0.05, requires_grad=True)  # (away from ReLU's kink)
    assert cr.autograd.gradcheck(fn.apply, (x,))


def test_double_backward_matches_torch_and_gradgradcheck():
    xc, xt = pair(X)
    for lib, x in (("cr", xc), ("torch", xt)):
        y = FN[lib].Legendre3.apply(x)
        (g,) = LIBS[lib].autograd.grad(y.sum(), x, create_graph=True)
        (gg,) = LIBS[lib].autograd.grad((g * g).sum(), x)
        if lib == "cr":
            gc, ggc = g, gg
    assert_close(gc, g)
    assert_close(ggc, gg)
    assert_close(ggc, 2 * 1.5 * (5 * X ** 2 - 1) * 15 * X)  # d/dx (P3')^2 by hand
    x = cr.tensor(X, requires_grad=True)
    assert cr.autograd.gradgradcheck(FN["cr"].Legendre3.apply, (x,))
    assert cr.autograd.gradgradcheck(FN["cr"].MyExp.apply, (x,))


def test_gradreverse_in_a_model_matches_torch():
    rng = np.random.default_rng(0)
    w1, x, w2 = rng.normal(size=(4, 3)), rng.normal(size=(5, 3)), rng.normal(size=(2, 4))
    grads = {}
    for lib_name, lib in LIBS.items():
        W1, W2 = (lib.tensor(w1.copy(), requires_grad=True), lib.tensor(w2.copy(),
                                                                          requires_grad=True))
        feat = lib.tensor(x).mm(W1.t()).tanh()
        head = FN[lib_name].GradReverse.apply(feat, 0.7).mm(W2.t())
        (head.pow(2).sum() + feat.sum()).backward()
        grads[lib_name] = (W1.grad, W2.grad)
    for a, b in zip(grads["cr"], grads["torch"]):
        assert_close(a, b)


@pytest.mark.parametrize("with_bias", [True, False])
def test_linear_function_with_and_without_bias(with_bias):
    rng = np.random.default_rng(1)
    xa, wa, ba = rng.normal(size=(4, 3)), rng.normal(size=(2, 3)), rng.normal(size=2)
    res = {}
    for lib_name, lib in LIBS.items():
        x, w = lib.tensor(xa.copy(), requires_grad=True), lib.tensor(wa.copy(), requires_grad=True)
        b = lib.tensor(ba.copy(), requires_grad=True) if with_bias else None
        y = FN[lib_name].MyLinear.apply(x, w, b) if with_bias else FN[lib_name].MyLinear.apply(x, w)
        y.pow(2).sum().backward()
        res[lib_name] = (y, x.grad, w.grad, b.grad if with_bias else None)
    for a, b in zip(res["cr"], res["torch"]):
        if a is None:
            assert b is None
        else:
            assert_close(a, b)
    x = cr.tensor(xa, requires_grad=True)
    w = cr.tensor(wa, requires_grad=True)
    args = (x, w, cr.tensor(ba, requires_grad=True)) if with_bias else (x, w)
    assert cr.autograd.gradcheck(FN["cr"].MyLinear.apply, args)
    assert cr.autograd.gradgradcheck(FN["cr"].MyLinear.apply, args)


def test_needs_input_grad_and_forward_runs_without_recording():
    seen = {}
    for lib_name, lib in LIBS.items():
        class Probe(lib.autograd.Function):
            @staticmethod
            def forward(ctx, a, k, b):
                inner = a * 2
                seen[lib_name] = (ctx.needs_input_grad, lib.is_grad_enabled(), inner.requires_grad,
                                  inner.grad_fn is None)
                return inner + b

            @staticmethod
            def backward(ctx, g):
                return g, None, g
        a = lib.ones(2, requires_grad=True)
        Probe.apply(a, 3, lib.ones(2))
    assert seen["cr"] == seen["torch"] == ((True, False, False), False, False, True)


def test_setup_context_form_and_keyword_arguments():
    xc, xt = pair([1.0, -2.0])
    for x, fns in ((xc, FN["cr"]), (xt, FN["torch"])):
        fns.Scale.apply(x).sum().backward()
        fns.Scale.apply(x, 0.5).sum().backward()
        fns.Mixed.apply(x, 2, x * 1, scale=0.5).sum().backward()
    assert_close(xc.grad, xt.grad)
    assert_close(FN["cr"].Scale.apply(xc), FN["torch"].Scale.apply(xt))
    with pytest.raises(TypeError, match="missing required argument: 'n'"):
        FN["cr"].Mixed.apply(xc, b=xc, scale=0.5)
    with pytest.raises(TypeError, match="missing required argument: 'n'"):
        FN["torch"].Mixed.apply(xt, b=xt, scale=0.5)


def test_no_graph_without_grad():
    for lib_name, lib in LIBS.items():
        y = FN[lib_name].Legendre3.apply(lib.ones(2))
        assert not y.requires_grad and y.grad_fn is None
        with lib.no_grad():
            y = FN[lib_name].Legendre3.apply(lib.ones(2, requires_grad=True))
        assert not y.requires_grad and y.grad_fn is None


def test_grad_fn_is_the_ctx():
    xc, xt = pair([1.0, 2.0])
    for lib_name, x in (("cr", xc), ("torch", xt)):
        y = FN[lib_name].Mixed.apply(x, 2, x * 3)
        assert y.grad_fn.n == 2 and y.grad_fn.needs_input_grad == (True, False, True)
        assert len(y.grad_fn.saved_tensors) == 2
        assert y.grad_fn.saved_tensors[0] is not None


# ------------------------------------------------------------ several outputs --
@pytest.mark.parametrize("materialize", [True, False])
@pytest.mark.parametrize("use", ["first", "second", "both"])
@pytest.mark.parametrize("walk", ["backward", "grad"])
def test_two_outputs(materialize, use, walk):
    xc, xt = pair(X)
    res = {}
    for lib_name, x in (("cr", xc), ("torch", xt)):
        a, b = FN[lib_name].TwoOut.apply(x, materialize)
        loss = {"first": (a * a).sum(), "second": b.sum(), "both": (a * b).sum()}[use]
        if walk == "backward":
            loss.backward()
            g = x.grad
        else:
            (g,) = LIBS[lib_name].autograd.grad(loss, x)
        res[lib_name] = (g, (a if use != "second" else b).grad_fn.seen)
    assert_close(res["cr"][0], res["torch"][0])
    assert res["cr"][1] == res["torch"][1]


def test_two_outputs_double_backward_and_hooks():
    xc, xt = pair(X)
    out = {}
    for lib_name, x in (("cr", xc), ("torch", xt)):
        a, b = FN[lib_name].TwoOut.apply(x, True)
        seen = []
        b.register_hook(lambda g: seen.append(g.shape) or g * 10)
        a.retain_grad()
        (g,) = LIBS[lib_name].autograd.grad((a * b).sum(), x, create_graph=True)
        (gg,) = LIBS[lib_name].autograd.grad(g.sum(), x)
        out[lib_name] = (g, gg, tuple(seen[0]))
    assert_close(out["cr"][0], out["torch"][0])
    assert_close(out["cr"][1], out["torch"][1])
    assert out["cr"][2] == out["torch"][2]
    x = cr.tensor(X, requires_grad=True)
    assert cr.autograd.gradgradcheck(lambda t: FN["cr"].TwoOut.apply(t, True), (x,))


@pytest.mark.parametrize("walk", ["backward", "grad"])
def test_saved_outputs_of_several_double_backward(walk):
    xc, xt = pair(X)
    out = {}
    for lib_name, x in (("cr", xc), ("torch", xt)):
        lib = LIBS[lib_name]
        s, c = FN[lib_name].SinCos.apply(x)
        (g,) = lib.autograd.grad((s * s * c).sum(), x, create_graph=True)
        if walk == "backward":
            (g * g).sum().backward()
            gg = x.grad
        else:
            (gg,) = lib.autograd.grad((g * g).sum(), x)
        out[lib_name] = (g, gg)
    assert_close(out["cr"][0], out["torch"][0])
    assert_close(out["cr"][1], out["torch"][1])
    x = cr.tensor(X, requires_grad=True)
    assert cr.autograd.gradgradcheck(FN["cr"].SinCos.apply, (x,))


@pytest.mark.parametrize("name, args", [("MyExp", ()), ("TwoOut", (True,)), ("SinCos", ())])
def test_graph_is_freed_without_the_cycle_collector(name, args):
    import gc
    import weakref
    x = cr.ones(3, requires_grad=True)
    gc.disable()
    try:
        out = getattr(FN["cr"], name).apply(x, *args)
        first = out[0] if isinstance(out, tuple) else out
        node = first.grad_fn if name == "MyExp" else first.grad_fn.next_nodes[0]
        ref = weakref.ref(node)
        del out, first, node
        assert ref() is None
    finally:
        gc.enable()


def test_integer_and_non_tensor_outputs():
    xc, xt = pair([1.0, -2.0])
    seen = {}
    for lib_name, x in (("cr", xc), ("torch", xt)):
        y, i, n = FN[lib_name].MixedOut.apply(x)
        assert n == 7 and not i.requires_grad and i.grad_fn is None and y.requires_grad
        y.sum().backward()
        seen[lib_name] = y.grad_fn.seen
    assert seen["cr"] == seen["torch"] == (False, True, 0.0)
    assert_close(xc.grad, xt.grad)


def test_mark_non_differentiable():
    xc, xt = pair([1.0, -2.0])
    for lib_name, x in (("cr", xc), ("torch", xt)):
        y, z = FN[lib_name].SortVals.apply(x)
        assert y.requires_grad and not z.requires_grad and z.grad_fn is None
        (y.sum() + z.sum()).backward()
    assert_close(xc.grad, xt.grad)


# ------------------------------------------------------------------- in place --
def test_mark_dirty_on_a_non_leaf():
    ac, at = pair([1.0, -2.0, 3.0])
    for lib_name, a in (("cr", ac), ("torch", at)):
        x = a * 1
        old = x._version
        y = FN[lib_name].MulTwo_.apply(x)
        assert y is x and x._version > old and y.grad_fn.name() == "MulTwo_Backward"
        (y * y).sum().backward()
    assert_close(ac.grad, at.grad)


def test_mark_dirty_refuses_a_leaf_that_requires_grad():
    with pytest.raises(ChainruleError, match="leaf"):
        FN["cr"].MulTwo_.apply(cr.ones(2, requires_grad=True))
    with pytest.raises(RuntimeError, match="leaf"):
        FN["torch"].MulTwo_.apply(torch.ones(2, requires_grad=True))


@pytest.mark.parametrize("walk", ["backward", "grad"])
def test_modified_saved_tensor_raises(walk):
    for lib_name, lib in LIBS.items():
        x = lib.tensor([0.5, 1.0], requires_grad=True)
        y = FN[lib_name].MyExp.apply(x)
        with lib.no_grad():
            y.mul_(2)  # the saved output
        with pytest.raises(RuntimeError, match="in-?place"):
            if walk == "backward":
                y.sum().backward()
            else:
                lib.autograd.grad(y.sum(), x)


def test_second_backward_needs_retain_graph():
    for lib_name, lib in LIBS.items():
        x = lib.tensor([0.5, 1.0], requires_grad=True)
        y = FN[lib_name].MyExp.apply(x)
        y.sum().backward(retain_graph=True)
        y.sum().backward()
        with pytest.raises(RuntimeError, match="second time"):
            y.sum().backward()
        with pytest.raises(RuntimeError, match="second time|freed"):
            y.grad_fn.saved_tensors
        z = FN[lib_name].STE.apply(x)  # saved nothing: may run backward twice
        z.sum().backward()
        z.sum().backward()


# ---------------------------------------------------------- once_differentiable --
def test_once_differentiable_refuses_double_backward():
    xc, xt = pair([0.5, 1.0])
    for lib_name, x in (("cr", xc), ("torch", xt)):
        lib = LIBS[lib_name]
        y = FN[lib_name].OnceExp.apply(x)
        go = lib.ones(2, requires_grad=True)
        (g,) = lib.autograd.grad(y, x, go, create_graph=True)
        assert g.requires_grad
        with pytest.raises(RuntimeError, match="once_differentiable"):
            g.sum().backward()
    with pytest.raises(Exception):
        cr.autograd.gradgradcheck(FN["cr"].OnceExp.apply, (cr.tensor([0.5], requires_grad=True),))


# ---------------------------------------------------------------------- errors --
def _bad(lib, returns):
    class Bad(lib.autograd.Function):
        @staticmethod
        def forward(ctx, x, k):
            return x * k

        @staticmethod
        def backward(ctx, g):
            return returns(g)
    return Bad


@pytest.mark.parametrize("returns, torch_text, ours", [
    (lambda g: g, "incorrect number of gradients \\(expected 2, got 1\\)",
     "BadBackward: returned an incorrect number of gradients \\(expected 2, got 1\\)"),
    (lambda g: (g, 1.0), "different than None at position 2",
     "BadBackward: returned a gradient different than None at position 2"),
    (lambda g: (g[0], None), "invalid gradient at index 0 - got \\[3\\] but expected shape "
     "compatible with \\[2, 3\\]", "BadBackward: returned an invalid gradient at index 0 - got "
     "\\[3\\] but expected shape compatible with \\[2, 3\\]"),
    (lambda g: (3.0, None), "expected Variable or None", "BadBackward: expected a Tensor or None"),
])
@pytest.mark.parametrize("walk", ["backward", "grad"])
def test_bad_backward_results_are_clear_errors(returns, torch_text, ours, walk):
    xt = torch.ones(2, 3, requires_grad=True)
    with pytest.raises(RuntimeError, match=torch_text):
        _bad(torch, returns).apply(xt, 2.0).sum().backward()
    x = cr.ones(2, 3, requires_grad=True)
    y = _bad(cr, returns).apply(x, 2.0).sum()
    with pytest.raises(ChainruleError, match=ours) as info:
        y.backward() if walk == "backward" else cr.autograd.grad(y, x)
    assert "test_custom_function.py" in str(info.value)  # the caller's line


def test_broadcast_gradient_is_summed_as_torch_does():
    res = {}
    for lib in (cr, torch):
        x = lib.ones(2, 3, requires_grad=True)
        _bad(lib, lambda g: (g.expand(4, 2, 3) * 1, None)).apply(x, 2.0).sum().backward()
        res[lib] = x.grad
    assert_close(res[cr], res[torch])


def test_gradient_takes_the_input_dtype():
    x = cr.ones(2, dtype=cr.float32, requires_grad=True)
    _bad(cr, lambda g: (g.double(), None)).apply(x, 2.0).sum().backward()
    assert x.grad.dtype == cr.float32


def test_missing_backward_and_legacy_call():
    class NoBackward(cr.autograd.Function):
        @staticmethod
        def forward(ctx, x):
            return x * 1
    with pytest.raises(NotImplementedError, match="backward or vjp"):
        NoBackward.apply(cr.ones(2, requires_grad=True)).sum().backward()
    with pytest.raises(ChainruleError, match="staticmethod"):
        FN["cr"].STE()(cr.ones(2))
    with pytest.raises(TypeError, match="save_for_backward"):
        class SavesInt(cr.autograd.Function):
            @staticmethod
            def forward(ctx, x):
                ctx.save_for_backward(x, 3)
                return x
        SavesInt.apply(cr.ones(2, requires_grad=True))


def test_function_inside_a_module_trains_like_torch():
    rng = np.random.default_rng(3)
    xa, ya = rng.normal(size=(8, 3)), rng.normal(size=(8, 1))
    losses = {}
    for lib_name, lib in LIBS.items():
        lib.manual_seed(0)
        w1 = lib.tensor(rng.normal(size=(5, 3)) if lib is cr else losses["w1"], requires_grad=True)
        if lib is cr:
            losses["w1"] = w1.detach().numpy().copy()
            w1 = lib.tensor(losses["w1"].copy(), requires_grad=True)
        w2 = lib.tensor(np.full((1, 5), 0.1), requires_grad=True)
        opt = lib.optim.SGD([w1, w2], lr=0.05)
        trace = []
        for _ in range(5):
            opt.zero_grad()
            h = FN[lib_name].MyReLU.apply(FN[lib_name].MyLinear.apply(lib.tensor(xa), w1))
            loss = ((FN[lib_name].MyLinear.apply(h, w2) - lib.tensor(ya)) ** 2).mean()
            loss.backward()
            opt.step()
            trace.append(float(loss))
        losses[lib_name] = trace
    np.testing.assert_allclose(losses["cr"], losses["torch"], rtol=1e-10)


# ------------------------------------------------- aliasing, hooks, reuse of g --
def _aliasing_run(lib):
    class Ident(lib.autograd.Function):
        @staticmethod
        def forward(ctx, x): return x
        @staticmethod
        def backward(ctx, g): return g * 2
    class Add(lib.autograd.Function):
        @staticmethod
        def forward(ctx, a, b): return a + b
        @staticmethod
        def backward(ctx, g): return g, g
    class Split(lib.autograd.Function):
        @staticmethod
        def forward(ctx, a): return a * 1, a * 1
        @staticmethod
        def backward(ctx, g1, g2): return g1 if g2 is None else g1 + g2
    class Pass2(lib.autograd.Function):
        @staticmethod
        def forward(ctx, a): return a * 1, a * 2
        @staticmethod
        def backward(ctx, g1, g2): return g1   # hands on the first output's gradient unchanged
    x = lib.tensor([1.0, 2.0], requires_grad=True)
    y = Ident.apply(x)
    res = [x.is_leaf, y is x, y.grad_fn.name()]
    seen = []
    y.register_hook(lambda g: seen.append(g.sum().item()) or g * 3)
    y.retain_grad()
    (y * y).sum().backward()
    res += [x.grad.tolist(), y.grad.tolist(), seen]
    x.grad = None
    z = Add.apply(x, x)
    w = Add.apply(z, x)
    (w * w).sum().backward()
    res.append(x.grad.tolist()); x.grad = None
    a, b = Split.apply(x)
    (a.sum() * 2 + b.sum()).backward(); res.append(x.grad.tolist()); x.grad = None
    p, q = Pass2.apply(x)
    (p * 3).sum().backward(); res.append(x.grad.tolist())
    p, q = Pass2.apply(x)
    t = p * 1
    (t + x).sum().backward(); res.append(x.grad.tolist())
    return res


def test_identity_outputs_hooks_and_gradients_handed_on_unchanged():
    """An input returned as is, hooks and retain_grad on outputs, a backward returning g
    for two inputs (or one output's g from a two-output Function): the engine must not sum
    into a gradient shared by two consumers."""
    assert _aliasing_run(cr) == _aliasing_run(torch)
