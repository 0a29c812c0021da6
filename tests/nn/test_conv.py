"""Conv1d, Conv2d, ConvTranspose1d/2d and their functionals: values and gradients vs PyTorch
with the same weights (many configurations, float64 and float32), finite differences,
second order, default initialisation, errors."""
import math

import numpy as np
import pytest
import torch

import chainrule as cr
import chainrule.nn.functional as F
from chainrule.errors import DTypeError, ShapeError
from torch_oracle import assert_close


def _copy_weights(ours: cr.nn.Module, theirs: torch.nn.Module) -> None:
    ours.load_state_dict({k: cr.tensor(v.detach().numpy()) for k, v in theirs.state_dict().items()})


def _check_module(ours, theirs, x_shape, dtype, seed=0, **call):
    """Forward, input gradient and every parameter gradient equal PyTorch's."""
    rng = np.random.default_rng(seed)
    x = rng.normal(size=x_shape).astype(dtype)
    cx, tx = cr.tensor(x, requires_grad=True), torch.tensor(x, requires_grad=True)
    out, tout = ours(cx, **call), theirs(tx, **call)
    assert out.dtype == getattr(cr, dtype)
    assert_close(out, tout, msg="forward")
    g = rng.normal(size=tuple(tout.shape)).astype(dtype)
    out.backward(cr.tensor(g))
    tout.backward(torch.tensor(g))
    assert_close(cx.grad, tx.grad, msg="input gradient")
    for (name, p), (tname, tp) in zip(ours.named_parameters(), theirs.named_parameters()):
        assert name == tname
        assert_close(p.grad, tp.grad, msg=f"gradient of {name}")


CONV2D = [  # (in, out, kernel, options, input shape)
    (3, 4, 3, {}, (2, 3, 7, 6)),
    (3, 4, (3, 2), dict(stride=2, padding=1), (2, 3, 9, 8)),
    (2, 6, 3, dict(stride=(2, 3), padding=(2, 0), dilation=(1, 2)), (3, 2, 11, 13)),
    (4, 6, 3, dict(groups=2, padding=1), (2, 4, 5, 5)),
    (4, 4, 3, dict(groups=4, padding=1, bias=False), (2, 4, 6, 5)),  # depthwise
    (3, 5, 1, dict(stride=2), (2, 3, 7, 7)),                        # 1x1
    (2, 3, (4, 2), dict(padding="same", dilation=(1, 2)), (2, 2, 7, 8)),  # even kernel
    (2, 3, 3, dict(padding="valid"), (2, 6, 6)),                     # unbatched
    (1, 2, 5, dict(padding=2, stride=3), (1, 1, 4, 4)),              # kernel > input
    (3, 2, 3, dict(dilation=3, bias=False), (1, 3, 9, 10)),
]


@pytest.mark.parametrize("dtype", ["float64", "float32"])
@pytest.mark.parametrize("cin,cout,k,opts,shape", CONV2D)
def test_conv2d_matches_torch(cin, cout, k, opts, shape, dtype):
    if len(shape) == 3:
        cin = shape[0]
    torch.manual_seed(0)
    theirs = torch.nn.Conv2d(cin, cout, k, **opts).to(getattr(torch, dtype))
    ours = cr.nn.Conv2d(cin, cout, k, **opts, dtype=getattr(cr, dtype))
    _copy_weights(ours, theirs)
    _check_module(ours, theirs, shape, dtype)


CONV1D = [
    (3, 4, 3, {}, (2, 3, 10)),
    (4, 6, 5, dict(stride=2, padding=2, dilation=2, groups=2), (3, 4, 17)),
    (2, 2, 4, dict(padding="same"), (2, 2, 9)),
    (2, 3, 3, dict(bias=False), (2, 8)),
]


@pytest.mark.parametrize("dtype", ["float64", "float32"])
@pytest.mark.parametrize("cin,cout,k,opts,shape", CONV1D)
def test_conv1d_matches_torch(cin, cout, k, opts, shape, dtype):
    torch.manual_seed(1)
    theirs = torch.nn.Conv1d(cin, cout, k, **opts).to(getattr(torch, dtype))
    ours = cr.nn.Conv1d(cin, cout, k, **opts, dtype=getattr(cr, dtype))
    _copy_weights(ours, theirs)
    _check_module(ours, theirs, shape, dtype)


TRANSPOSED = [
    (3, 4, 3, {}, (2, 3, 5, 4)),
    (3, 2, 3, dict(stride=2, padding=1, output_padding=1), (2, 3, 5, 6)),
    (4, 6, (2, 3), dict(stride=(2, 1), groups=2, dilation=(1, 2), bias=False), (1, 4, 4, 3)),
    (2, 2, 4, dict(stride=3, padding=2, output_padding=(2, 0)), (2, 2, 3, 3)),
    (2, 3, 3, dict(stride=2), (2, 4, 4)),  # unbatched
]


@pytest.mark.parametrize("dtype", ["float64", "float32"])
@pytest.mark.parametrize("cin,cout,k,opts,shape", TRANSPOSED)
def test_conv_transpose2d_matches_torch(cin, cout, k, opts, shape, dtype):
    torch.manual_seed(2)
    theirs = torch.nn.ConvTranspose2d(cin, cout, k, **opts).to(getattr(torch, dtype))
    ours = cr.nn.ConvTranspose2d(cin, cout, k, **opts, dtype=getattr(cr, dtype))
    _copy_weights(ours, theirs)
    _check_module(ours, theirs, shape, dtype)


def test_conv_transpose_output_size_and_1d():
    torch.manual_seed(3)
    theirs = torch.nn.ConvTranspose2d(2, 3, 3, stride=2, padding=1).double()
    ours = cr.nn.ConvTranspose2d(2, 3, 3, stride=2, padding=1, dtype=cr.float64)
    _copy_weights(ours, theirs)
    _check_module(ours, theirs, (1, 2, 4, 5), "float64", output_size=(8, 10))
    with pytest.raises(ShapeError, match="output_size"):
        ours(cr.ones(1, 2, 4, 5, dtype=cr.float64), output_size=(12, 10))
    theirs1 = torch.nn.ConvTranspose1d(4, 2, 3, stride=2, groups=2, output_padding=1).double()
    ours1 = cr.nn.ConvTranspose1d(4, 2, 3, stride=2, groups=2, output_padding=1, dtype=cr.float64)
    _copy_weights(ours1, theirs1)
    _check_module(ours1, theirs1, (2, 4, 6), "float64")


def test_functional_forms_match_torch():
    rng = np.random.default_rng(4)
    x, w, b = rng.normal(size=(2, 4, 6, 5)), rng.normal(size=(6, 2, 3, 3)), rng.normal(size=6)
    kw = dict(stride=(1, 2), padding=1, dilation=(2, 1), groups=2)
    assert_close(F.conv2d(cr.tensor(x), cr.tensor(w), cr.tensor(b), **kw),
                 torch.nn.functional.conv2d(torch.tensor(x), torch.tensor(w), torch.tensor(b), **kw))
    wt = rng.normal(size=(4, 3, 2, 2))
    kw = dict(stride=2, padding=(0, 1), output_padding=1)
    assert_close(F.conv_transpose2d(cr.tensor(x), cr.tensor(wt), None, **kw),
                 torch.nn.functional.conv_transpose2d(torch.tensor(x), torch.tensor(wt), None, **kw))
    x1, w1 = rng.normal(size=(2, 4, 9)), rng.normal(size=(2, 4, 3))
    assert_close(F.conv1d(cr.tensor(x1), cr.tensor(w1), stride=2),
                 torch.nn.functional.conv1d(torch.tensor(x1), torch.tensor(w1), stride=2))


# ------------------------------------------------------- finite differences --
@pytest.mark.parametrize("kw", [dict(), dict(stride=2, padding=1), dict(dilation=2, groups=2)])
def test_conv2d_gradcheck_and_second_order(kw):
    rng = np.random.default_rng(5)
    x = cr.tensor(rng.normal(size=(2, 2, 5, 5)), requires_grad=True)
    w = cr.tensor(rng.normal(size=(2, 2 // kw.get("groups", 1), 3, 2)), requires_grad=True)
    b = cr.tensor(rng.normal(size=(2,)), requires_grad=True)
    assert cr.autograd.gradcheck(lambda x, w, b: F.conv2d(x, w, b, **kw), (x, w, b))
    assert cr.autograd.gradgradcheck(lambda x, w: F.conv2d(x, w, **kw), (x, w), fast_mode=True)


def test_conv_transpose2d_gradcheck_and_second_order():
    rng = np.random.default_rng(6)
    x = cr.tensor(rng.normal(size=(1, 2, 3, 4)), requires_grad=True)
    w = cr.tensor(rng.normal(size=(2, 3, 2, 3)), requires_grad=True)
    kw = dict(stride=2, padding=1, output_padding=1)
    assert cr.autograd.gradcheck(lambda x, w: F.conv_transpose2d(x, w, **kw), (x, w))
    assert cr.autograd.gradgradcheck(lambda x, w: F.conv_transpose2d(x, w, **kw), (x, w),
                                     fast_mode=True)


def test_conv2d_double_backward_matches_torch():
    rng = np.random.default_rng(7)
    x, w = rng.normal(size=(2, 3, 6, 5)), rng.normal(size=(4, 3, 3, 3))
    cx, cw = cr.tensor(x, requires_grad=True), cr.tensor(w, requires_grad=True)
    tx, tw = torch.tensor(x, requires_grad=True), torch.tensor(w, requires_grad=True)
    loss = (F.conv2d(cx, cw, stride=2, padding=1) ** 2).sum()
    gx, gw = cr.autograd.grad(loss, (cx, cw), create_graph=True)
    ((gx ** 2).sum() + (gw * gw).sum()).backward()
    tloss = (torch.nn.functional.conv2d(tx, tw, stride=2, padding=1) ** 2).sum()
    tgx, tgw = torch.autograd.grad(tloss, (tx, tw), create_graph=True)
    ((tgx ** 2).sum() + (tgw * tgw).sum()).backward()
    assert_close(cx.grad, tx.grad)
    assert_close(cw.grad, tw.grad)


# ------------------------------------------------------------------- init --
@pytest.mark.parametrize("cls,args,fan_in", [
    (cr.nn.Conv2d, (3, 8, (3, 5)), 3 * 15), (cr.nn.Conv2d, (4, 8, 3, 1, 0, 1, 2), 2 * 9),
    (cr.nn.Conv1d, (6, 4, 7), 6 * 7), (cr.nn.ConvTranspose2d, (4, 6, 3), 6 * 9)])
def test_default_init_follows_pytorch_formula(cls, args, fan_in):
    layer = cls(*args)
    bound = 1 / math.sqrt(fan_in)
    w, b = layer.weight.detach().numpy(), layer.bias.detach().numpy()
    assert np.abs(w).max() <= bound and np.abs(b).max() <= bound
    assert np.abs(w).max() > 0.8 * bound  # spread over the whole interval, not a narrower one
    assert w.std() == pytest.approx(bound / math.sqrt(3), rel=0.35)
    assert layer.weight.requires_grad and layer.bias.requires_grad


def test_shapes_names_and_repr_match_torch():
    for args, kw in [((3, 8, 3), dict(stride=2, padding=1)), ((4, 8, (3, 5)), dict(groups=2, bias=False)),
                     ((2, 2, 3), dict(padding="same", dilation=2))]:
        ours, theirs = cr.nn.Conv2d(*args, **kw), torch.nn.Conv2d(*args, **kw)
        assert repr(ours) == repr(theirs)
        assert [(n, tuple(p.shape)) for n, p in ours.named_parameters()] == \
            [(n, tuple(p.shape)) for n, p in theirs.named_parameters()]
    ours, theirs = cr.nn.ConvTranspose2d(4, 2, 3, stride=2, output_padding=1), \
        torch.nn.ConvTranspose2d(4, 2, 3, stride=2, output_padding=1)
    assert repr(ours) == repr(theirs)
    assert tuple(ours.weight.shape) == tuple(theirs.weight.shape)
    assert repr(cr.nn.Conv1d(2, 3, 4)) == repr(torch.nn.Conv1d(2, 3, 4))


def test_reproducible_init_with_manual_seed():
    cr.manual_seed(11)
    a = cr.nn.Conv2d(3, 4, 3).weight.detach().numpy().copy()
    cr.manual_seed(11)
    assert np.array_equal(a, cr.nn.Conv2d(3, 4, 3).weight.detach().numpy())


# ----------------------------------------------------------------- errors --
def test_wrong_input_channels_names_layer_and_shapes():
    conv = cr.nn.Conv2d(1, 16, 3)
    with pytest.raises(ShapeError) as e:
        conv(cr.ones(8, 3, 28, 28))
    text = str(e.value)
    assert "Conv2d" in text and "(8, 3, 28, 28)" in text and "3 channels" in text
    assert "expects 1 channel" in text
    with pytest.raises(ShapeError, match="expects 2 channels"):
        cr.nn.Conv1d(2, 3, 3)(cr.ones(4, 5, 9))
    with pytest.raises(ShapeError, match=r"expected input with 4 channels"):
        F.conv2d(cr.ones(1, 3, 5, 5), cr.ones(2, 2, 3, 3), groups=2)


def test_wrong_dims_dtype_and_arguments():
    with pytest.raises(ShapeError, match=r"3-D \(unbatched\) or 4-D \(batched\)"):
        cr.nn.Conv2d(1, 2, 3)(cr.ones(28, 28))
    with pytest.raises(ShapeError, match="smaller than the dilated kernel"):
        F.conv2d(cr.ones(1, 1, 2, 2), cr.ones(1, 1, 3, 3))
    with pytest.raises(DTypeError, match="same dtype"):
        F.conv2d(cr.ones(1, 1, 4, 4, dtype=cr.float64), cr.ones(1, 1, 3, 3))
    with pytest.raises(ValueError, match="strided"):
        cr.nn.Conv2d(1, 1, 3, stride=2, padding="same")
    with pytest.raises(ValueError, match="divisible by groups"):
        cr.nn.Conv2d(3, 4, 3, groups=2)
    with pytest.raises(ValueError, match="padding_mode"):
        cr.nn.Conv2d(1, 1, 3, padding_mode="bogus")
    with pytest.raises(ShapeError, match="bias of shape"):
        F.conv2d(cr.ones(1, 1, 4, 4), cr.ones(2, 1, 3, 3), cr.ones(3))
    with pytest.raises(ValueError, match="output_padding"):
        F.conv_transpose2d(cr.ones(1, 1, 3, 3), cr.ones(1, 1, 3, 3), stride=2, output_padding=2)


def test_cnn_trains_like_torch():
    """A small conv net: the same losses as PyTorch over a few SGD steps."""
    torch.manual_seed(8)
    t_net = torch.nn.Sequential(torch.nn.Conv2d(1, 4, 3, padding=1), torch.nn.ReLU(),
                                torch.nn.MaxPool2d(2), torch.nn.Conv2d(4, 6, 3, stride=2),
                                torch.nn.ReLU(), torch.nn.Flatten(), torch.nn.Linear(6, 3)).double()
    net = cr.nn.Sequential(cr.nn.Conv2d(1, 4, 3, padding=1), cr.nn.ReLU(), cr.nn.MaxPool2d(2),
                           cr.nn.Conv2d(4, 6, 3, stride=2), cr.nn.ReLU(), cr.nn.Flatten(),
                           cr.nn.Linear(6, 3)).double()
    _copy_weights(net, t_net)
    rng = np.random.default_rng(9)
    x, y = rng.normal(size=(8, 1, 8, 8)), rng.integers(0, 3, size=8)
    for _ in range(3):
        out, tout = net(cr.tensor(x)), t_net(torch.tensor(x))
        loss = F.cross_entropy(out, cr.tensor(y))
        tloss = torch.nn.functional.cross_entropy(tout, torch.tensor(y))
        assert float(loss) == pytest.approx(float(tloss), rel=1e-10)
        net.zero_grad()
        t_net.zero_grad()
        loss.backward()
        tloss.backward()
        with cr.no_grad():
            for p in net.parameters():
                p.sub_(p.grad * 0.1)
        with torch.no_grad():
            for p in t_net.parameters():
                p.sub_(p.grad * 0.1)


# ------------------------------------------------------------ columns cache --
def test_forward_columns_are_kept_by_the_node_and_taken_once():
    rng = np.random.default_rng(12)
    x = cr.tensor(rng.normal(size=(2, 3, 6, 5)))
    w = cr.tensor(rng.normal(size=(4, 3, 3, 3)), requires_grad=True)
    y = F.conv2d(x, w, padding=1, stride=(1, 2))
    assert y.grad_fn.kept is not None and y.grad_fn.kept.dtype == x.numpy().dtype  # its columns
    y.backward(cr.ones_like(y))
    assert y.grad_fn.kept is None  # taken by the weight gradient, not held after it
    cached = w.grad.numpy().copy()
    w.grad = None
    # the same gradient when the columns are recomputed (nothing kept)
    y = F.conv2d(x, w, padding=1, stride=(1, 2))
    del y.grad_fn.kept
    y.backward(cr.ones_like(y))
    np.testing.assert_allclose(w.grad.numpy(), cached, rtol=1e-12)


def test_columns_are_kept_only_for_a_weight_gradient():
    rng = np.random.default_rng(13)
    x = cr.tensor(rng.normal(size=(2, 3, 6, 5)), requires_grad=True)
    w = cr.tensor(rng.normal(size=(4, 3, 3, 3)))
    assert F.conv2d(x, w, padding=1).grad_fn.kept is None  # frozen weight: nothing to reuse
    w.requires_grad_()
    with cr.no_grad():
        assert F.conv2d(x, w, padding=1).grad_fn is None
    # under saved-tensor hooks (checkpointing) the hooks decide what is held: nothing kept
    with cr.autograd.graph.saved_tensors_hooks(lambda t: t, lambda t: t):
        y = F.conv2d(x, w, padding=1)
    assert y.grad_fn.kept is None
    y.sum().backward()
    tx = torch.tensor(x.detach().numpy(), requires_grad=True)
    tw = torch.tensor(w.detach().numpy(), requires_grad=True)
    torch.nn.functional.conv2d(tx, tw, padding=1).sum().backward()
    np.testing.assert_allclose(w.grad.numpy(), tw.grad.numpy(), rtol=1e-10)
    np.testing.assert_allclose(x.grad.numpy(), tx.grad.numpy(), rtol=1e-10)


def test_a_retained_graph_recomputes_the_columns_for_its_second_backward():
    rng = np.random.default_rng(14)
    x = cr.tensor(rng.normal(size=(2, 3, 6, 5)))
    w = cr.tensor(rng.normal(size=(4, 3, 3, 3)), requires_grad=True)
    y = F.conv2d(x, w, padding=1)
    (first,) = cr.autograd.grad(y.sum(), w, retain_graph=True)
    assert y.grad_fn.kept is None
    (second,) = cr.autograd.grad(y.sum(), w)
    np.testing.assert_array_equal(first.numpy(), second.numpy())


def test_input_changed_in_place_after_forward_is_an_error():
    a = cr.randn(1, 2, 5, 5, requires_grad=True)
    x = a * 1.0
    w = cr.randn(3, 2, 3, 3, requires_grad=True)
    y = F.conv2d(x, w)
    with cr.no_grad():
        x.add_(1.0)
    with pytest.raises(cr.errors.BackwardError, match="in-place"):
        y.sum().backward()


@pytest.mark.parametrize("mode", ["reflect", "replicate", "circular"])
@pytest.mark.parametrize("cls,tcls,shape,kw", [
    (cr.nn.Conv2d, torch.nn.Conv2d, (2, 2, 6, 5), dict(padding=(1, 2), stride=(2, 1))),
    (cr.nn.Conv2d, torch.nn.Conv2d, (1, 2, 5, 5), dict(padding="same", dilation=2)),
    (cr.nn.Conv1d, torch.nn.Conv1d, (2, 2, 7), dict(padding=2))])
def test_padding_modes_match_torch(mode, cls, tcls, shape, kw):
    torch.manual_seed(13)
    theirs = tcls(2, 3, 3, padding_mode=mode, **kw).double()
    ours = cls(2, 3, 3, padding_mode=mode, dtype=cr.float64, **kw)
    _copy_weights(ours, theirs)
    assert repr(ours) == repr(theirs)
    _check_module(ours, theirs, shape, "float64")
