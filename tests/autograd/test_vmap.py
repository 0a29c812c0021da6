"""chainrule.func.vmap and functional_call against torch.func: per-sample gradients,
nested vmap, in_dims / out_dims / randomness, and the errors PyTorch raises."""
import numpy as np
import pytest
import torch
import torch.func as tf

import chainrule as cr
from chainrule import func as cf
from tests.torch_oracle import assert_close, load_into_torch

RNG = np.random.default_rng(0)
XA = RNG.normal(size=(5, 3))
YA = RNG.normal(size=(5, 4))
XF, YF = XA.astype(np.float32), YA.astype(np.float32)  # for modules (float32 parameters)


def both(a):
    return cr.tensor(a.copy()), torch.tensor(a.copy())


@pytest.mark.parametrize("in_dims, out_dims", [(0, 0), ((0, None), 0), ((1, None), 1),
                                                ((-1, None), -1), ((0, 0), (0, 1))])
def test_batched_functions_match_torch(in_dims, out_dims):
    w = RNG.normal(size=(3,))
    res = {}
    for lib, f in ((cr, cf), (torch, tf)):
        x = lib.tensor(XA if in_dims in (0, (0, None), (0, 0)) else XA.T.copy())
        second = lib.tensor(w) if in_dims != (0, 0) else lib.tensor(XA * 2)
        if out_dims == (0, 1):
            fn = lambda a, b: ((a * b).tanh(), (a.unsqueeze(1) * b).exp())  # noqa: E731
        elif out_dims == 0:
            fn = lambda a, b: (a * b).sum() + a.max()  # noqa: E731
        else:
            fn = lambda a, b: a.unsqueeze(0) * b.unsqueeze(1)  # noqa: E731
        if in_dims == 0:
            res[lib] = f.vmap(lambda a: (a.sin() * a).sum(0), in_dims, out_dims)(x)
        else:
            res[lib] = f.vmap(fn, in_dims, out_dims)(x, second)
    ours, theirs = res[cr], res[torch]
    for a, b in zip(ours if isinstance(ours, tuple) else (ours,),
                    theirs if isinstance(theirs, tuple) else (theirs,)):
        assert_close(a, b)


def test_nested_vmap_and_trees():
    res = {}
    for lib, f in ((cr, cf), (torch, tf)):
        x, y = lib.tensor(XA), lib.tensor(YA)
        outer = f.vmap(f.vmap(lambda a, b: a * b.sum(), in_dims=(0, None)), in_dims=(None, 0))
        d = f.vmap(lambda p: {"s": p["a"].sum(), "t": (p["a"] * 2, p["b"])},
                   in_dims=({"a": 0, "b": None},))({"a": x, "b": y})
        res[lib] = (outer(x, y), d["s"], d["t"][0], d["t"][1])
    for a, b in zip(res[cr], res[torch]):
        assert_close(a, b)


def test_vmap_is_differentiable():
    xc, xt = cr.tensor(XA, requires_grad=True), torch.tensor(XA, requires_grad=True)
    cf.vmap(lambda r: (r.exp() * r).sum())(xc).pow(2).sum().backward()
    tf.vmap(lambda r: (r.exp() * r).sum())(xt).pow(2).sum().backward()
    assert_close(xc.grad, xt.grad)


def test_out_dims_none_and_empty_batch():
    for lib, f in ((cr, cf), (torch, tf)):
        x = lib.tensor(XA)
        assert tuple(f.vmap(lambda a: x, out_dims=None)(x).shape) == (5, 3)
        assert tuple(f.vmap(lambda a: a.sum())(lib.zeros(0, 2)).shape) == (0,)
        assert tuple(f.vmap(lambda a: a * 2, out_dims=1)(lib.zeros(0, 2)).shape) == (2, 0)


@pytest.mark.parametrize("call, text", [
    (lambda f, lib: f.vmap(lambda a, b: a + b)(lib.zeros(3, 2), lib.zeros(4, 2)),
     r"same size in the mapped dimension, got sizes \[3, 4\]"),
    (lambda f, lib: f.vmap(lambda a: a, in_dims=(None,))(lib.zeros(3)),
     "at least one Tensor to vmap over"),
    (lambda f, lib: f.vmap(lambda a: a, in_dims=2)(lib.zeros(3, 2)),
     r"Got in_dim=2 for some input, but that input is a Tensor of dimensionality 2 so expected "
     r"in_dim to satisfy -2 <= in_dim < 2"),
    (lambda f, lib: f.vmap(lambda a: a, in_dims=[0])(lib.zeros(3)),
     "expected `in_dims` to be int or a \\(potentially nested\\) tuple"),
    (lambda f, lib: f.vmap(lambda a, b: a, in_dims=(0,))(lib.zeros(3), lib.zeros(3)),
     "in_dims is not compatible with the structure of `inputs`"),
    (lambda f, lib: f.vmap(lambda a, k: a * k, in_dims=(0, 0))(lib.zeros(3), 3),
     "Got in_dim=0 for an input but the input is of type <class 'int'>"),
    (lambda f, lib: f.vmap(lambda a: 3)(lib.zeros(3)), "must only return Tensors, got type"),
    (lambda f, lib: f.vmap(lambda a: a, out_dims=None)(lib.arange(3.0)),
     "can not return a BatchedTensor when out_dim is None"),
    (lambda f, lib: f.vmap(lambda a: a, chunk_size=0)(lib.zeros(3)),
     r"chunk_size should be None or greater than 0. \(got 0\)"),
    (lambda f, lib: f.vmap(lambda a: a, randomness="foo")(lib.zeros(3)),
     "Only allowed values for randomness are 'error', 'different', or 'same'. Got foo"),
    (lambda f, lib: f.vmap(lambda a: a + lib.rand(2))(lib.zeros(3, 2)),
     "called random operation while in randomness error mode"),
])
def test_errors_match_torch(call, text):
    with pytest.raises((ValueError, RuntimeError), match=text):
        call(tf, torch)
    with pytest.raises((ValueError, RuntimeError), match=text) as info:
        call(cf, cr)
    assert "test_vmap.py" in str(info.value)


def test_randomness_same_and_different():
    cr.manual_seed(0)
    same = cf.vmap(lambda a: a + cr.rand(2), randomness="same")(cr.zeros(4, 2))
    assert np.allclose(same.numpy(), same.numpy()[0])
    diff = cf.vmap(lambda a: a + cr.rand(2), randomness="different")(cr.zeros(4, 2))
    assert not np.allclose(diff.numpy(), diff.numpy()[0])
    x = cr.zeros(3)  # the default generator is restored after an error-mode refusal
    with pytest.raises(RuntimeError):
        cf.vmap(lambda a: a + cr.rand(()))(x)
    assert cr.rand(2).shape == (2,)


def _mlp(lib):
    lib.manual_seed(0)
    return lib.nn.Sequential(lib.nn.Linear(3, 8), lib.nn.Tanh(), lib.nn.Linear(8, 4))


def test_per_sample_gradients_recipe_matches_torch():
    """functional_call + grad + vmap over a small MLP, as in PyTorch's tutorial."""
    grads = {}
    for lib, f in ((cr, cf), (torch, tf)):
        model = _mlp(lib)
        if lib is torch:
            load_into_torch(grads["model"], model)
        else:
            grads["model"] = model
        params = {k: v.detach() for k, v in model.named_parameters()}
        buffers = {k: v.detach() for k, v in model.named_buffers()}

        def loss_fn(params, buffers, sample, target):
            out = f.functional_call(model, (params, buffers), (sample.unsqueeze(0),))
            return lib.nn.functional.mse_loss(out, target.unsqueeze(0))
        x, y = lib.tensor(XF), lib.tensor(YF)
        grads[lib] = f.vmap(f.grad(loss_fn), in_dims=(None, None, 0, 0))(params, buffers, x, y)
        # the parameters are back, untouched
        assert all(p is q for p, q in zip(model.parameters(), [p for p in model.parameters()]))
    assert set(grads[cr]) == set(grads[torch])
    for k in grads[torch]:
        assert_close(grads[cr][k], grads[torch][k], msg=k)
    # the mean of the per-sample gradients is the batch gradient
    model = grads["model"]
    model(cr.tensor(XF)).sub(cr.tensor(YF)).pow(2).mean(1).mean().backward()
    for k, p in model.named_parameters():
        assert_close(grads[cr][k].mean(0), p.grad.numpy(), msg=k)


def test_functional_call_substitutes_and_restores():
    lin_c, lin_t = cr.nn.Linear(3, 2), torch.nn.Linear(3, 2)
    load_into_torch(lin_c, lin_t)
    w = RNG.normal(size=(2, 3)).astype(np.float32)
    wc, wt = cr.tensor(w, requires_grad=True), torch.tensor(w, requires_grad=True)
    xc, xt = both(XF)
    before = lin_c.weight
    oc = cf.functional_call(lin_c, {"weight": wc}, (xc,))
    ot = tf.functional_call(lin_t, {"weight": wt}, (xt,))
    assert_close(oc, ot)
    oc.sum().backward()
    ot.sum().backward()
    assert_close(wc.grad, wt.grad)
    assert lin_c.weight is before and lin_c.weight.grad is None
    assert_close(cf.functional_call(lin_c, {"weight": wc}, xc), ot)  # one argument, no tuple

    class Boom(cr.nn.Module):
        def __init__(self):
            super().__init__()
            self.lin = cr.nn.Linear(3, 2)
            self.register_buffer("scale", cr.ones(2))

        def forward(self, x):
            raise KeyError("boom")
    m = Boom()
    old = (m.lin.weight, m.scale)
    with pytest.raises(KeyError):
        cf.functional_call(m, {"lin.weight": wc, "scale": cr.zeros(2)}, (xc,))
    assert (m.lin.weight, m.scale) == old


def test_functional_call_errors_and_tied_weights():
    m = cr.nn.Linear(2, 3)
    mt = torch.nn.Linear(2, 3)
    for f, mod, lib in ((cf, m, cr), (tf, mt, torch)):
        with pytest.raises(RuntimeError, match="Unexpected key\\(s\\): 'foo'.\n\tMissing key\\(s\\): "
                           "'bias'."):
            f.functional_call(mod, {"weight": lib.zeros(3, 2), "foo": lib.ones(1)},
                              (lib.ones(1, 2),), strict=True)
        with pytest.raises(ValueError, match="appeared in multiple dictionaries"):
            f.functional_call(mod, ({"weight": lib.zeros(3, 2)}, {"weight": lib.ones(3, 2)}),
                              (lib.ones(1, 2),))
        out = f.functional_call(mod, {"weight": lib.zeros(3, 2), "foo": lib.ones(1)},
                                (lib.ones(1, 2),))
        assert tuple(out.shape) == (1, 3)

    class Tied(cr.nn.Module):
        def __init__(self):
            super().__init__()
            self.a = cr.nn.Linear(2, 2, bias=False)
            self.b = cr.nn.Linear(2, 2, bias=False)
            self.b.weight = self.a.weight

        def forward(self, x):
            return self.b(self.a(x))
    t = Tied()
    w = cr.eye(2) * 2
    out = cf.functional_call(t, {"a.weight": w}, (cr.ones(1, 2),))
    assert_close(out, np.full((1, 2), 4.0))  # both uses see the new weight
    out = cf.functional_call(t, {"a.weight": w}, (cr.ones(1, 2),), tie_weights=False)
    assert not np.allclose(out.detach().numpy(), 4.0)
    with pytest.raises(ValueError, match="which are tied"):
        cf.functional_call(t, {"a.weight": w, "b.weight": w * 3}, (cr.ones(1, 2),))


def test_vmap_of_custom_function():
    res = {}
    for lib, f in ((cr, cf), (torch, tf)):
        class Exp(lib.autograd.Function):
            generate_vmap_rule = True  # (torch's functorch needs it; a loop needs nothing)

            @staticmethod
            def forward(x):
                return x.exp()

            @staticmethod
            def setup_context(ctx, inputs, output):
                ctx.save_for_backward(output)

            @staticmethod
            def backward(ctx, g):
                (y,) = ctx.saved_tensors
                return g * y
        x = lib.tensor(XA, requires_grad=True)
        out = f.vmap(lambda r: Exp.apply(r).sum())(x)
        out.sum().backward()
        per_sample = f.vmap(f.grad(lambda r: (Exp.apply(r) * r).sum()))(x.detach())
        res[lib] = (out, x.grad, per_sample)
    for a, b in zip(res[cr], res[torch]):
        assert_close(a, b)


def test_ensemble_with_stack_module_state_matches_torch():
    """PyTorch's model-ensembling recipe: stack_module_state + vmap(functional_call)."""
    outs = {}
    models_c = [_mlp(cr) for _ in range(3)]
    for i, m in enumerate(models_c):
        with cr.no_grad():
            for p in m.parameters():
                p.mul_(1 + i)
    models_t = [_mlp(torch) for _ in range(3)]
    for mc, mt in zip(models_c, models_t):
        load_into_torch(mc, mt)
    for lib, f, models in ((cr, cf, models_c), (torch, tf, models_t)):
        params, buffers = f.stack_module_state(models)
        assert all(p.is_leaf and p.requires_grad for p in params.values())
        base = models[0]
        out = f.vmap(lambda p, b, x: f.functional_call(base, (p, b), (x,)),
                     in_dims=(0, 0, None))(params, buffers, lib.tensor(XF))
        out.pow(2).sum().backward()
        outs[lib] = (out, params["0.weight"].grad)
        g, v = f.grad_and_value(lambda w: (w * w).sum())(lib.tensor(XA))
        outs[lib] += (g, v)
    for a, b in zip(outs[cr], outs[torch]):
        assert_close(a, b)
