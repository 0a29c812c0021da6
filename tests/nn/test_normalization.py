"""BatchNorm1d/2d, LayerNorm, GroupNorm: values and gradients vs PyTorch (float64, float32),
running statistics over several steps (momentum, cumulative average, eval mode), finite
differences, second order, errors."""
import numpy as np
import pytest
import torch

import chainrule as cr
import chainrule.nn.functional as F
from chainrule.errors import ShapeError
from torch_oracle import assert_close


def _copy_state(ours: cr.nn.Module, theirs: torch.nn.Module) -> None:
    ours.load_state_dict({k: cr.tensor(v.detach().numpy()) for k, v in theirs.state_dict().items()})


def _randomise(theirs: torch.nn.Module, seed: int) -> None:
    gen = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for p in theirs.parameters():
            p.copy_(torch.randn(p.shape, generator=gen, dtype=p.dtype))


def _step(ours, theirs, shape, dtype, seed):
    """One forward/backward; outputs, input gradients and parameter gradients equal torch's."""
    rng = np.random.default_rng(seed)
    x = (rng.normal(size=shape) * 2 + 0.5).astype(dtype)
    cx, tx = cr.tensor(x, requires_grad=True), torch.tensor(x, requires_grad=True)
    out, tout = ours(cx), theirs(tx)
    assert out.dtype == getattr(cr, dtype)
    assert_close(out, tout, msg="forward")
    g = rng.normal(size=shape).astype(dtype)
    out.backward(cr.tensor(g))
    tout.backward(torch.tensor(g))
    assert_close(cx.grad, tx.grad, msg="input gradient")
    for (name, p), (_, tp) in zip(ours.named_parameters(), theirs.named_parameters()):
        assert_close(p.grad, tp.grad, msg=f"gradient of {name}")
    ours.zero_grad()
    theirs.zero_grad()


def _buffers_match(ours, theirs):
    for (name, b), (tname, tb) in zip(ours.named_buffers(), theirs.named_buffers()):
        assert name == tname
        assert_close(b, tb, msg=name)


BATCHNORM = [(cr.nn.BatchNorm1d, torch.nn.BatchNorm1d, (8, 4)),
             (cr.nn.BatchNorm1d, torch.nn.BatchNorm1d, (6, 4, 5)),
             (cr.nn.BatchNorm2d, torch.nn.BatchNorm2d, (4, 4, 3, 5))]


@pytest.mark.parametrize("dtype", ["float64", "float32"])
@pytest.mark.parametrize("momentum", [0.1, 0.5, None])
@pytest.mark.parametrize("ours_cls,theirs_cls,shape", BATCHNORM)
def test_batchnorm_train_steps_then_eval_match_torch(ours_cls, theirs_cls, shape, momentum, dtype):
    theirs = theirs_cls(4, momentum=momentum).to(getattr(torch, dtype))
    _randomise(theirs, 0)
    ours = ours_cls(4, momentum=momentum, dtype=getattr(cr, dtype))
    _copy_state(ours, theirs)
    for step in range(3):
        _step(ours, theirs, shape, dtype, seed=step)
        _buffers_match(ours, theirs)
    assert int(ours.num_batches_tracked) == 3
    ours.eval()
    theirs.eval()
    _step(ours, theirs, shape, dtype, seed=10)  # uses the running statistics
    _buffers_match(ours, theirs)                # and leaves them alone
    assert int(ours.num_batches_tracked) == 3


@pytest.mark.parametrize("affine,track", [(False, True), (True, False), (False, False)])
def test_batchnorm_options_match_torch(affine, track):
    theirs = torch.nn.BatchNorm2d(3, affine=affine, track_running_stats=track, eps=1e-3).double()
    ours = cr.nn.BatchNorm2d(3, affine=affine, track_running_stats=track, eps=1e-3,
                             dtype=cr.float64)
    if affine:
        _randomise(theirs, 1)
    _copy_state(ours, theirs)
    assert sorted(ours.state_dict()) == sorted(theirs.state_dict())
    _step(ours, theirs, (5, 3, 2, 2), "float64", seed=2)
    ours.eval()
    theirs.eval()
    _step(ours, theirs, (5, 3, 2, 2), "float64", seed=3)
    _buffers_match(ours, theirs)


def test_batchnorm_train_and_eval_differ():
    bn = cr.nn.BatchNorm1d(3)
    x = cr.randn(16, 3) * 3 + 2
    train_out = bn(x)
    bn.eval()
    eval_out = bn(x)
    assert float((train_out - eval_out).abs().max()) > 0.1
    # in training each channel is standardised by the batch itself
    np.testing.assert_allclose(train_out.detach().numpy().mean(0), 0, atol=1e-5)


def test_functional_batch_norm_updates_given_buffers():
    rng = np.random.default_rng(4)
    x = rng.normal(size=(6, 3, 4))
    rm, rv = cr.zeros(3, dtype=cr.float64), cr.ones(3, dtype=cr.float64)
    trm, trv = torch.zeros(3, dtype=torch.float64), torch.ones(3, dtype=torch.float64)
    out = F.batch_norm(cr.tensor(x), rm, rv, training=True, momentum=0.3)
    tout = torch.nn.functional.batch_norm(torch.tensor(x), trm, trv, training=True, momentum=0.3)
    assert_close(out, tout)
    assert_close(rm, trm)
    assert_close(rv, trv)


@pytest.mark.parametrize("dtype", ["float64", "float32"])
@pytest.mark.parametrize("shape,normalized,kw", [
    ((4, 6), 6, {}), ((2, 3, 4), (3, 4), {}), ((2, 5), (5,), dict(elementwise_affine=False)),
    ((3, 2, 6), 6, dict(bias=False)), ((2, 3, 4), 4, dict(eps=1e-2))])
def test_layernorm_matches_torch(shape, normalized, kw, dtype):
    theirs = torch.nn.LayerNorm(normalized, **kw).to(getattr(torch, dtype))
    _randomise(theirs, 5)
    ours = cr.nn.LayerNorm(normalized, **kw, dtype=getattr(cr, dtype))
    _copy_state(ours, theirs)
    _step(ours, theirs, shape, dtype, seed=6)


@pytest.mark.parametrize("dtype", ["float64", "float32"])
@pytest.mark.parametrize("groups,channels,shape,affine", [
    (2, 4, (3, 4, 5), True), (3, 6, (2, 6, 2, 3), True), (1, 4, (2, 4), True),
    (4, 4, (2, 4, 3, 3), False)])
def test_groupnorm_matches_torch(groups, channels, shape, affine, dtype):
    theirs = torch.nn.GroupNorm(groups, channels, affine=affine).to(getattr(torch, dtype))
    if affine:
        _randomise(theirs, 7)
    ours = cr.nn.GroupNorm(groups, channels, affine=affine, dtype=getattr(cr, dtype))
    _copy_state(ours, theirs)
    _step(ours, theirs, shape, dtype, seed=8)


def test_default_parameters_and_repr():
    for ours, theirs in [(cr.nn.BatchNorm2d(5), torch.nn.BatchNorm2d(5)),
                         (cr.nn.LayerNorm((3, 4)), torch.nn.LayerNorm((3, 4))),
                         (cr.nn.GroupNorm(2, 6), torch.nn.GroupNorm(2, 6))]:
        assert repr(ours) == repr(theirs)
        for (n, p), (tn, tp) in zip(ours.state_dict().items(), theirs.state_dict().items()):
            assert n == tn
            np.testing.assert_array_equal(p.numpy(), tp.numpy())


# ------------------------------------------------------- finite differences --
@pytest.mark.parametrize("fn,shapes", [
    (lambda x, w, b: F.batch_norm(x, None, None, w, b, training=True), [(4, 3, 2), (3,), (3,)]),
    (lambda x, w, b: F.layer_norm(x, (2, 3), w, b), [(2, 2, 3), (2, 3), (2, 3)]),
    (lambda x, w, b: F.group_norm(x, 2, w, b), [(2, 4, 3), (4,), (4,)]),
])
def test_normalization_gradcheck_and_second_order(fn, shapes):
    rng = np.random.default_rng(9)
    inputs = tuple(cr.tensor(rng.normal(size=s), requires_grad=True) for s in shapes)
    assert cr.autograd.gradcheck(fn, inputs)
    assert cr.autograd.gradgradcheck(fn, inputs, fast_mode=True)


def test_layernorm_double_backward_matches_torch():
    rng = np.random.default_rng(10)
    x = rng.normal(size=(3, 5))
    cx, tx = cr.tensor(x, requires_grad=True), torch.tensor(x, requires_grad=True)
    y = (F.layer_norm(cx, (5,)) ** 3).sum()
    (g,) = cr.autograd.grad(y, cx, create_graph=True)
    (g * g).sum().backward()
    ty = (torch.nn.functional.layer_norm(tx, (5,)) ** 3).sum()
    (tg,) = torch.autograd.grad(ty, tx, create_graph=True)
    (tg * tg).sum().backward()
    assert_close(cx.grad, tx.grad)


# ----------------------------------------------------------------- errors --
def test_normalization_errors():
    with pytest.raises(ShapeError) as e:
        cr.nn.BatchNorm2d(3)(cr.ones(2, 4, 5, 5))
    assert "BatchNorm2d" in str(e.value) and "(2, 4, 5, 5)" in str(e.value)
    assert "expects 3 channels" in str(e.value)
    with pytest.raises(ShapeError, match="4-D"):
        cr.nn.BatchNorm2d(3)(cr.ones(2, 3))
    with pytest.raises(ValueError, match="more than 1 value per channel"):
        cr.nn.BatchNorm1d(3)(cr.ones(1, 3))
    with pytest.raises(ShapeError, match="last dims"):
        cr.nn.LayerNorm(4)(cr.ones(2, 5))
    with pytest.raises(ValueError, match="divisible"):
        cr.nn.GroupNorm(3, 4)
    with pytest.raises(ShapeError, match="num_groups"):
        F.group_norm(cr.ones(2, 6, 3), 4)


@pytest.mark.parametrize("make", [
    lambda m: m.BatchNorm1d(3, affine=False), lambda m: m.BatchNorm1d(3, bias=False),
    lambda m: m.LayerNorm(3, elementwise_affine=False), lambda m: m.LayerNorm(3, bias=False),
    lambda m: m.GroupNorm(1, 3, affine=False), lambda m: m.GroupNorm(1, 3, bias=False)])
def test_optional_affine_parts_match_torch(make):
    ours, theirs = make(cr.nn), make(torch.nn).double()
    assert repr(ours) == repr(theirs)
    assert sorted(ours.state_dict()) == sorted(theirs.state_dict())
    _randomise(theirs, 12)
    _copy_state(ours.double(), theirs)
    shape = (4, 3, 2) if not isinstance(theirs, torch.nn.LayerNorm) else (4, 2, 3)
    _step(ours, theirs, shape, "float64", seed=13)
