"""nn.utils: clip_grad_norm_ / clip_grad_value_ vs PyTorch, parameters_to_vector and back;
and the functional helpers pad / interpolate / one_hot / normalize / cosine_similarity."""
import math

import numpy as np
import pytest
import torch

import chainrule as cr
import chainrule.nn.functional as F
import torch.nn.functional as TF
from torch_oracle import assert_close


def _params_with_grads(scale=1.0):
    rng = np.random.default_rng(0)
    arrays = [rng.normal(size=s) * scale for s in [(3, 4), (4,), (2, 2, 2)]]
    ours = [cr.nn.Parameter(cr.zeros(*a.shape, dtype=cr.float64)) for a in arrays]
    theirs = [torch.nn.Parameter(torch.zeros(*a.shape, dtype=torch.float64)) for a in arrays]
    for p, tp, a in zip(ours, theirs, arrays):
        p.grad = cr.tensor(a)
        tp.grad = torch.tensor(a)
    return ours, theirs


@pytest.mark.parametrize("norm_type", [2.0, 1.0, 3.0, math.inf])
@pytest.mark.parametrize("max_norm", [0.5, 1e6])
def test_clip_grad_norm_matches_torch(norm_type, max_norm):
    ours, theirs = _params_with_grads()
    total = cr.nn.utils.clip_grad_norm_(ours, max_norm, norm_type)
    ttotal = torch.nn.utils.clip_grad_norm_(theirs, max_norm, norm_type)
    assert_close(total, ttotal)
    for p, tp in zip(ours, theirs):
        assert_close(p.grad, tp.grad)


def test_clip_grad_norm_accepts_a_single_tensor_and_skips_missing_grads():
    p = cr.nn.Parameter(cr.zeros(2, dtype=cr.float64))
    q = cr.nn.Parameter(cr.zeros(2))
    p.grad = cr.tensor([3.0, 4.0], dtype=cr.float64)
    assert cr.nn.utils.clip_grad_norm_(p, 1.0).item() == pytest.approx(5.0)
    assert cr.nn.utils.clip_grad_norm_([p, q], 10.0).item() == pytest.approx(1.0, rel=1e-5)


def test_clip_grad_norm_nonfinite():
    ours, _ = _params_with_grads()
    ours[0].grad._data[0, 0] = np.nan
    with pytest.raises(RuntimeError, match="clip_grad_norm_.*nan.*error_if_nonfinite"):
        cr.nn.utils.clip_grad_norm_(ours, 1.0, error_if_nonfinite=True)
    total = cr.nn.utils.clip_grad_norm_(ours, 1.0)
    assert math.isnan(total.item())


def test_clip_grad_value_matches_torch():
    ours, theirs = _params_with_grads(scale=3.0)
    cr.nn.utils.clip_grad_value_(ours, 1.5)
    torch.nn.utils.clip_grad_value_(theirs, 1.5)
    for p, tp in zip(ours, theirs):
        assert_close(p.grad, tp.grad)
        assert np.abs(p.grad.numpy()).max() <= 1.5


def test_parameters_vector_round_trip_and_torch_order():
    ours = cr.nn.Sequential(cr.nn.Linear(3, 4), cr.nn.Linear(4, 2)).double()
    theirs = torch.nn.Sequential(torch.nn.Linear(3, 4), torch.nn.Linear(4, 2)).double()
    ours.load_state_dict({k: cr.tensor(v.detach().numpy()) for k, v in theirs.state_dict().items()})
    v = cr.nn.utils.parameters_to_vector(ours.parameters())
    assert_close(v, torch.nn.utils.parameters_to_vector(theirs.parameters()))
    v.sum().backward()  # differentiable: every parameter gets ones
    assert np.all(ours[0].weight.grad.numpy() == 1)
    cr.nn.utils.vector_to_parameters(cr.arange(v.numel(), dtype=cr.float64), ours.parameters())
    torch.nn.utils.vector_to_parameters(torch.arange(v.numel(), dtype=torch.float64), theirs.parameters())
    for p, tp in zip(ours.parameters(), theirs.parameters()):
        assert_close(p, tp)
    with pytest.raises(cr.errors.ShapeError, match="vector_to_parameters.*5 entries.*26"):
        cr.nn.utils.vector_to_parameters(cr.zeros(5), ours.parameters())


# ------------------------------------------------------- functional helpers --
X4 = np.random.default_rng(1).normal(size=(2, 3, 5, 6))


def _fwd_bwd(fn, tfn, x, dtype="float64"):
    a = cr.tensor(x.astype(dtype), requires_grad=True)
    b = torch.tensor(x.astype(dtype), requires_grad=True)
    out_a, out_b = fn(a), tfn(b)
    assert_close(out_a, out_b)
    g = np.random.default_rng(2).normal(size=tuple(out_b.shape)).astype(dtype)
    out_a.backward(cr.tensor(g))
    out_b.backward(torch.tensor(g))
    assert_close(a.grad, b.grad)


@pytest.mark.parametrize("dtype", ["float64", "float32"])
@pytest.mark.parametrize("mode", ["constant", "reflect", "replicate", "circular"])
@pytest.mark.parametrize("pad", [(1, 2), (2, 1, 0, 3), (4, 0, 1, 1)])
def test_pad_matches_torch(mode, pad, dtype):
    # torch pads the last dim of 3-D inputs and the last two of 4-D ones in these modes
    x = X4[0] if len(pad) == 2 else X4
    _fwd_bwd(lambda x: F.pad(x, pad, mode=mode), lambda x: TF.pad(x, pad, mode=mode), x, dtype)


def test_pad_constant_value_and_errors():
    _fwd_bwd(lambda x: F.pad(x, (1, 1), value=2.5), lambda x: TF.pad(x, (1, 1), value=2.5), X4)
    with pytest.raises(cr.errors.ShapeError, match=r"pad: reflect padding of \(6, 0\).*size 6"):
        F.pad(cr.tensor(X4), (6, 0, 0, 0), mode="reflect")
    with pytest.raises(ValueError, match="pad: mode"):
        F.pad(cr.tensor(X4), (1, 1), mode="mirror")


@pytest.mark.parametrize("dtype", ["float64", "float32"])
@pytest.mark.parametrize("mode,align", [("nearest", None), ("nearest-exact", None),
                                        ("bilinear", False), ("bilinear", True)])
@pytest.mark.parametrize("kw", [dict(size=(9, 4)), dict(scale_factor=2), dict(scale_factor=(0.6, 1.5)),
                                dict(size=1)])
def test_interpolate_2d_matches_torch(mode, align, kw, dtype):
    _fwd_bwd(lambda x: F.interpolate(x, mode=mode, align_corners=align, **kw),
             lambda x: TF.interpolate(x, mode=mode, align_corners=align, **kw), X4, dtype)


@pytest.mark.parametrize("mode,align", [("linear", False), ("linear", True), ("nearest", None)])
def test_interpolate_1d_matches_torch(mode, align):
    x = X4[:, :, 0]
    _fwd_bwd(lambda t: F.interpolate(t, size=11, mode=mode, align_corners=align),
             lambda t: TF.interpolate(t, size=11, mode=mode, align_corners=align), x)


def test_interpolate_gradcheck_and_errors():
    x = cr.tensor(X4[:1, :1, :3, :4], requires_grad=True)
    assert cr.autograd.gradcheck(lambda t: F.interpolate(t, size=(5, 7), mode="bilinear"), (x,))
    with pytest.raises(cr.errors.ShapeError, match="interpolate.*bilinear.*4-D"):
        F.interpolate(cr.tensor(X4[0]), size=3, mode="bilinear")
    with pytest.raises(ValueError, match="exactly one of size and scale_factor"):
        F.interpolate(cr.tensor(X4), mode="nearest")


def test_one_hot_matches_torch():
    idx = np.array([[0, 3], [2, 1]])
    for n in (-1, 5):
        np.testing.assert_array_equal(F.one_hot(cr.tensor(idx), n).numpy(),
                                      TF.one_hot(torch.tensor(idx), n).numpy())
    assert F.one_hot(cr.tensor(idx)).dtype == cr.int64
    with pytest.raises(cr.errors.ShapeError, match="one_hot.*\\[0, 3\\)"):
        F.one_hot(cr.tensor(idx), 3)


@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_normalize_cosine_pairwise_match_torch(dtype):
    y = np.random.default_rng(3).normal(size=X4.shape)
    _fwd_bwd(lambda x: F.normalize(x, dim=1), lambda x: TF.normalize(x, dim=1), X4, dtype)
    _fwd_bwd(lambda x: F.normalize(x, p=1, dim=-1), lambda x: TF.normalize(x, p=1, dim=-1), X4, dtype)
    _fwd_bwd(lambda x: F.cosine_similarity(x, cr.tensor(y.astype(dtype)), dim=1),
             lambda x: TF.cosine_similarity(x, torch.tensor(y.astype(dtype)), dim=1), X4, dtype)
    _fwd_bwd(lambda x: F.pairwise_distance(x, cr.tensor(y.astype(dtype))),
             lambda x: TF.pairwise_distance(x, torch.tensor(y.astype(dtype))), X4, dtype)
