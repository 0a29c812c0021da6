"""Losses: values and gradients vs PyTorch (every reduction, float64 and float32), finite
differences for each, second order for the fused cross-entropy op, and errors."""
import math

import numpy as np
import pytest
import torch

import chainrule as cr
import chainrule.nn.functional as F
import torch.nn.functional as TF
from torch_oracle import assert_close

rng = np.random.default_rng(0)
LOGITS = rng.normal(0, 2, (6, 5))
LABELS = np.array([0, 4, 2, 2, 1, 3])
LOGITS_ND = rng.normal(0, 2, (3, 5, 4, 2))
LABELS_ND = rng.integers(0, 5, (3, 4, 2))
LABELS_ND_IGN = np.where(rng.random((3, 4, 2)) < 0.3, -100, LABELS_ND)
PROBS = np.exp(LOGITS) / np.exp(LOGITS).sum(1, keepdims=True)
CLASS_W = np.array([0.5, 2.0, 1.0, 0.1, 3.0])
PRED = rng.normal(size=(4, 3))
TARGET = rng.normal(size=(4, 3))
P01 = rng.uniform(0.05, 0.95, (4, 3))
Y01 = rng.uniform(0, 1, (4, 3))


def _t(x, dtype, grad):
    if np.issubdtype(np.asarray(x).dtype, np.integer):
        return cr.tensor(x), torch.tensor(x)
    return (cr.tensor(np.asarray(x, dtype=dtype), requires_grad=grad),
            torch.tensor(np.asarray(x, dtype=dtype), requires_grad=grad))


# name, chainrule fn, torch fn, arrays, which arrays get gradients
CASES = []


def case(name, ours, theirs, arrays, grads=(0,)):
    CASES.append(pytest.param(ours, theirs, arrays, grads, id=name))


for red in ("none", "mean", "sum"):
    case(f"ce-{red}", lambda x, t, r=red: F.cross_entropy(x, t, reduction=r),
         lambda x, t, r=red: TF.cross_entropy(x, t, reduction=r), [LOGITS, LABELS])
    case(f"ce-weight-ignore-smooth-{red}",
         lambda x, t, w, r=red: F.cross_entropy(x, t, w, ignore_index=2, reduction=r, label_smoothing=0.2),
         lambda x, t, w, r=red: TF.cross_entropy(x, t, w, ignore_index=2, reduction=r, label_smoothing=0.2),
         [LOGITS, LABELS, CLASS_W])
    case(f"ce-nd-ignore-{red}", lambda x, t, w, r=red: F.cross_entropy(x, t, w, reduction=r),
         lambda x, t, w, r=red: TF.cross_entropy(x, t, w, reduction=r), [LOGITS_ND, LABELS_ND_IGN, CLASS_W])
    case(f"ce-probs-{red}", lambda x, p, w, r=red: F.cross_entropy(x, p, w, reduction=r, label_smoothing=0.1),
         lambda x, p, w, r=red: TF.cross_entropy(x, p, w, reduction=r, label_smoothing=0.1),
         [LOGITS, PROBS, CLASS_W], (0, 1))
    case(f"nll-{red}", lambda x, t, w, r=red: F.nll_loss(F.log_softmax(x, 1), t, w, ignore_index=0, reduction=r),
         lambda x, t, w, r=red: TF.nll_loss(TF.log_softmax(x, 1), t, w, ignore_index=0, reduction=r),
         [LOGITS, LABELS, CLASS_W])
    case(f"nll-nd-{red}", lambda x, t, r=red: F.nll_loss(x, t, reduction=r),
         lambda x, t, r=red: TF.nll_loss(x, t, reduction=r), [LOGITS_ND, LABELS_ND])
    case(f"mse-{red}", lambda x, y, r=red: F.mse_loss(x, y, reduction=r),
         lambda x, y, r=red: TF.mse_loss(x, y, reduction=r), [PRED, TARGET], (0, 1))
    case(f"l1-{red}", lambda x, y, r=red: F.l1_loss(x, y, reduction=r),
         lambda x, y, r=red: TF.l1_loss(x, y, reduction=r), [PRED, TARGET], (0, 1))
    case(f"smoothl1-{red}", lambda x, y, r=red: F.smooth_l1_loss(x, y, reduction=r, beta=0.7),
         lambda x, y, r=red: TF.smooth_l1_loss(x, y, reduction=r, beta=0.7), [PRED, TARGET], (0, 1))
    case(f"huber-{red}", lambda x, y, r=red: F.huber_loss(x, y, reduction=r, delta=0.8),
         lambda x, y, r=red: TF.huber_loss(x, y, reduction=r, delta=0.8), [PRED, TARGET], (0, 1))
    case(f"bce-{red}", lambda x, y, w, r=red: F.binary_cross_entropy(x, y, w, reduction=r),
         lambda x, y, w, r=red: TF.binary_cross_entropy(x, y, w, reduction=r), [P01, Y01, P01[0]], (0, 1))
    case(f"bcelogits-{red}",
         lambda x, y, w, pw, r=red: F.binary_cross_entropy_with_logits(x, y, w, reduction=r, pos_weight=pw),
         lambda x, y, w, pw, r=red: TF.binary_cross_entropy_with_logits(x, y, w, reduction=r, pos_weight=pw),
         [PRED * 3, Y01, P01[0], np.array([0.5, 2.0, 3.0])], (0, 1))
for red in ("none", "mean", "sum", "batchmean"):
    case(f"kl-{red}", lambda x, y, r=red: F.kl_div(x, y, reduction=r),
         lambda x, y, r=red: TF.kl_div(x, y, reduction=r),
         [np.log(PROBS), np.where(PROBS < 0.1, 0.0, PROBS)], (0,))
    # d/dt of t log t is -inf at t = 0 (torch gives nan there), so the target's gradient is
    # compared where the target is positive
    case(f"kl-target-grad-{red}", lambda x, y, r=red: F.kl_div(x, y, reduction=r),
         lambda x, y, r=red: TF.kl_div(x, y, reduction=r), [np.log(PROBS), PROBS[::-1].copy()], (0, 1))
    case(f"kl-logtarget-{red}", lambda x, y, r=red: F.kl_div(x, y, reduction=r, log_target=True),
         lambda x, y, r=red: TF.kl_div(x, y, reduction=r, log_target=True),
         [np.log(PROBS), np.log(PROBS[::-1].copy())], (0, 1))
case("ce-unbatched", lambda x, t: F.cross_entropy(x, t), lambda x, t: TF.cross_entropy(x, t),
     [LOGITS[0], np.array(3)])
case("bcelogits-plain", lambda x, y: F.binary_cross_entropy_with_logits(x, y),
     lambda x, y: TF.binary_cross_entropy_with_logits(x, y), [PRED * 30, Y01], (0, 1))
case("soft-margin", lambda x, y: F.soft_margin_loss(x, y), lambda x, y: TF.soft_margin_loss(x, y),
     [PRED, np.sign(TARGET)])
case("margin-ranking", lambda a, b, y: F.margin_ranking_loss(a, b, y, 0.3),
     lambda a, b, y: TF.margin_ranking_loss(a, b, y, 0.3), [PRED[:, 0], TARGET[:, 0], np.sign(TARGET[:, 1])],
     (0, 1))
case("cosine-embedding", lambda a, b, y: F.cosine_embedding_loss(a, b, y, 0.1),
     lambda a, b, y: TF.cosine_embedding_loss(a, b, y, 0.1), [PRED, TARGET, np.array([1, -1, 1, -1])], (0, 1))
case("poisson", lambda x, y: F.poisson_nll_loss(x, y, full=True),
     lambda x, y: TF.poisson_nll_loss(x, y, full=True), [PRED, np.abs(TARGET) * 3], (0,))
case("gaussian-nll", lambda x, y, v: F.gaussian_nll_loss(x, y, v, full=True),
     lambda x, y, v: TF.gaussian_nll_loss(x, y, v, full=True), [PRED, TARGET, P01], (0, 1, 2))


def _run(fn, arrays, dtype, grads, lib):
    made = []
    for i, a in enumerate(arrays):
        ours, theirs = _t(a, dtype, i in grads)
        made.append(ours if lib == "cr" else theirs)
    return fn(*made), made


@pytest.mark.parametrize("dtype", ["float64", "float32"])
@pytest.mark.parametrize("ours,theirs,arrays,grads", CASES)
def test_loss_matches_torch(ours, theirs, arrays, grads, dtype):
    out_a, xs_a = _run(ours, arrays, dtype, grads, "cr")
    out_b, xs_b = _run(theirs, arrays, dtype, grads, "torch")
    assert_close(out_a, out_b, msg="loss")
    g = np.random.default_rng(1).normal(size=tuple(out_b.shape)).astype(dtype)
    out_a.backward(cr.tensor(g))
    out_b.backward(torch.tensor(g))
    for i in grads:
        assert_close(xs_a[i].grad, xs_b[i].grad, msg=f"gradient of argument {i}")


@pytest.mark.parametrize("ours,theirs,arrays,grads", CASES)
def test_loss_gradcheck(ours, theirs, arrays, grads):
    xs = [cr.tensor(a, requires_grad=i in grads and not np.issubdtype(np.asarray(a).dtype, np.integer))
          for i, a in enumerate(arrays)]
    assert cr.autograd.gradcheck(ours, tuple(xs))


@pytest.mark.parametrize("smoothing", [0.0, 0.3])
@pytest.mark.parametrize("weighted", [False, True])
def test_fused_cross_entropy_second_order(smoothing, weighted):
    x = cr.tensor(LOGITS[:4], requires_grad=True)
    t = cr.tensor([0, 4, -100, 2])
    w = cr.tensor(CLASS_W) if weighted else None
    assert cr.autograd.gradgradcheck(lambda x: F.cross_entropy(x, t, w, label_smoothing=smoothing,
                                                               reduction="sum"), (x,))


def test_fused_cross_entropy_hessian_matches_torch():
    x = cr.tensor(LOGITS[:3], requires_grad=True)
    tx = torch.tensor(LOGITS[:3], requires_grad=True)
    v = np.random.default_rng(7).normal(size=(3, 5))
    (g,) = cr.autograd.grad(F.cross_entropy(x, cr.tensor(LABELS[:3]), cr.tensor(CLASS_W),
                                            label_smoothing=0.2), x, create_graph=True)
    (tg,) = torch.autograd.grad(TF.cross_entropy(tx, torch.tensor(LABELS[:3]), torch.tensor(CLASS_W),
                                                 label_smoothing=0.2), tx, create_graph=True)
    assert_close(g, tg)
    (hv,) = cr.autograd.grad((g * cr.tensor(v)).sum(), x)
    (thv,) = torch.autograd.grad((tg * torch.tensor(v)).sum(), tx)
    assert_close(hv, thv)


def test_cross_entropy_backward_twice_with_retain_graph():
    x = cr.tensor(LOGITS, requires_grad=True)
    loss = F.cross_entropy(x, cr.tensor(LABELS))
    loss.backward(retain_graph=True)
    first = x.grad.numpy().copy()
    loss.backward()
    assert_close(x.grad, 2 * first)


def test_cross_entropy_is_one_fused_node():
    x = cr.tensor(LOGITS, requires_grad=True)
    loss = F.cross_entropy(x, cr.tensor(LABELS), reduction="sum")
    assert loss.grad_fn.next_nodes[0].name() == "CrossEntropyBackward"


def test_cross_entropy_extreme_logits_are_finite():
    x = cr.tensor([[1000.0, -1000.0, 0.0], [-1e4, 1e4, 3.0]], requires_grad=True)
    t = cr.tensor([1, 1])
    loss = F.cross_entropy(x, t)
    loss.backward()
    ref = TF.cross_entropy(torch.tensor([[1000.0, -1000.0, 0.0], [-1e4, 1e4, 3.0]]), torch.tensor([1, 1]))
    assert_close(loss, ref)
    assert np.isfinite(x.grad.numpy()).all()


def test_bce_with_logits_is_stable_where_naive_form_overflows():
    x = cr.tensor([-800.0, 800.0], requires_grad=True)
    y = cr.tensor([1.0, 0.0])
    loss = F.binary_cross_entropy_with_logits(x, y, reduction="none")
    loss.sum().backward()
    assert_close(loss, [800.0, 800.0])
    assert_close(x.grad, [-1.0, 1.0])


def test_modules_match_functionals_and_carry_weight_as_buffer():
    w = cr.tensor(CLASS_W)
    m = cr.nn.CrossEntropyLoss(weight=w, label_smoothing=0.1, ignore_index=4)
    assert "weight" in m.state_dict()
    x, t = cr.tensor(LOGITS), cr.tensor(LABELS)
    assert_close(m(x, t), F.cross_entropy(x, t, w, ignore_index=4, label_smoothing=0.1))
    tm = torch.nn.CrossEntropyLoss(weight=torch.tensor(CLASS_W), label_smoothing=0.1, ignore_index=4)
    assert_close(m(x, t), tm(torch.tensor(LOGITS), torch.tensor(LABELS)))
    for ours, theirs, args in [
        (cr.nn.MSELoss(reduction="sum"), torch.nn.MSELoss(reduction="sum"), (PRED, TARGET)),
        (cr.nn.L1Loss(), torch.nn.L1Loss(), (PRED, TARGET)),
        (cr.nn.SmoothL1Loss(beta=0.5), torch.nn.SmoothL1Loss(beta=0.5), (PRED, TARGET)),
        (cr.nn.HuberLoss(delta=0.5), torch.nn.HuberLoss(delta=0.5), (PRED, TARGET)),
        (cr.nn.NLLLoss(), torch.nn.NLLLoss(), (np.log(PROBS), LABELS)),
        (cr.nn.BCELoss(), torch.nn.BCELoss(), (P01, Y01)),
        (cr.nn.BCEWithLogitsLoss(pos_weight=cr.tensor([1.0, 2.0, 3.0])),
         torch.nn.BCEWithLogitsLoss(pos_weight=torch.tensor([1.0, 2.0, 3.0], dtype=torch.float64)),
         (PRED, Y01)),
        (cr.nn.KLDivLoss(reduction="batchmean"), torch.nn.KLDivLoss(reduction="batchmean"),
         (np.log(PROBS), PROBS)),
    ]:
        assert_close(ours(*[cr.tensor(a) for a in args]), theirs(*[torch.tensor(a) for a in args]))
        assert repr(ours) == repr(theirs)


def test_all_ignored_mean_is_nan_like_torch():
    x, t = cr.tensor(LOGITS[:2]), cr.tensor([-100, -100])
    with np.errstate(invalid="ignore"):  # 0 / 0, on purpose
        assert math.isnan(F.cross_entropy(x, t).item())
    assert math.isnan(TF.cross_entropy(torch.tensor(LOGITS[:2]), torch.tensor([-100, -100])).item())


def test_errors_name_the_loss_and_shapes():
    with pytest.raises(cr.errors.ShapeError, match=r"cross_entropy.*\(6, 5\).*\(6,\)"):
        F.cross_entropy(cr.tensor(LOGITS), cr.tensor([0, 1]))
    with pytest.raises(IndexError, match="cross_entropy.*target 7.*5 classes"):
        F.cross_entropy(cr.tensor(LOGITS), cr.tensor([7, 0, 0, 0, 0, 0]))
    with pytest.raises(cr.errors.ShapeError, match=r"cross_entropy.*weight.*\(3,\).*5 classes"):
        F.cross_entropy(cr.tensor(LOGITS), cr.tensor(LABELS), cr.ones(3))
    with pytest.raises(ValueError, match="mse_loss.*reduction"):
        F.mse_loss(cr.ones(2), cr.ones(2), reduction="avg")
    with pytest.raises(cr.errors.ShapeError, match=r"mse_loss.*\(2, 3\).*\(4,\)"):
        F.mse_loss(cr.ones(2, 3), cr.ones(4))
    with pytest.raises(ValueError, match="binary_cross_entropy.*probabilities"):
        F.binary_cross_entropy(cr.tensor([1.5]), cr.tensor([1.0]))
