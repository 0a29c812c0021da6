"""scaled_dot_product_attention and MultiheadAttention against PyTorch.

Forward values and the gradients of every input (float masks included) and every
parameter are compared with identical weights, copied through ``state_dict``.
"""
import math

import numpy as np
import pytest
import torch
import torch.nn.functional as TF

import chainrule as cr
import chainrule.nn.functional as F
from chainrule.errors import DTypeError, ShapeError
from tests.torch_oracle import assert_close, to_torch, load_into_torch

DTYPES = {"float64": (cr.float64, torch.float64), "float32": (cr.float32, torch.float32)}


def _t(t):
    """A torch copy of a tensor (bool masks too), requiring grad as ours does."""
    if t is None:
        return None
    if t.dtype == cr.bool:
        return torch.from_numpy(np.array(t.numpy(), copy=True))
    return to_torch(t)


def _backward_both(ours, theirs):
    g = cr.randn(*ours.shape, dtype=ours.dtype)
    ours.backward(g)
    theirs.backward(to_torch(g))


# ------------------------------------------------------------------ SDPA --
MASKS = ["none", "bool-2d", "bool-4d", "float-2d", "float-3d", "causal", "causal-rect"]


@pytest.mark.parametrize("dtype", list(DTYPES))
@pytest.mark.parametrize("mask", MASKS)
def test_sdpa_matches_torch(mask, dtype):
    dt = DTYPES[dtype][0]
    length = 4 if mask != "causal-rect" else 3
    source = 4 if mask.startswith("causal") and mask != "causal-rect" else 6
    q = cr.randn(2, 3, length, 5, dtype=dt, requires_grad=True)
    k = cr.randn(2, 3, source, 5, dtype=dt, requires_grad=True)
    v = cr.randn(2, 3, source, 7, dtype=dt, requires_grad=True)
    attn_mask, is_causal = None, mask.startswith("causal")
    if mask == "bool-2d":
        attn_mask = cr.rand(length, source) > 0.4
    elif mask == "bool-4d":
        attn_mask = cr.rand(2, 1, length, source) > 0.4
    elif mask == "float-2d":
        attn_mask = cr.randn(length, source, dtype=dt, requires_grad=True)
    elif mask == "float-3d":
        attn_mask = cr.randn(3, length, source, dtype=dt, requires_grad=True)
    if attn_mask is not None and attn_mask.dtype == cr.bool:
        attn_mask[..., 0] = True  # keep every row alive here (dead rows: next test)
    leaves = [q, k, v] + ([attn_mask] if attn_mask is not None and attn_mask.requires_grad else [])
    tleaves = [_t(x) for x in leaves]
    tmask = tleaves[3] if len(leaves) == 4 else _t(attn_mask)
    ours = F.scaled_dot_product_attention(q, k, v, attn_mask=attn_mask, is_causal=is_causal)
    theirs = TF.scaled_dot_product_attention(*tleaves[:3], attn_mask=tmask, is_causal=is_causal)
    assert_close(ours, theirs)
    _backward_both(ours, theirs)
    for i, (a, b) in enumerate(zip(leaves, tleaves)):
        assert_close(a.grad, b.grad, msg=f"grad of input {i}")


def test_sdpa_scale_and_3d_inputs():
    q = cr.randn(2, 4, 5, dtype=cr.float64, requires_grad=True)
    k = cr.randn(2, 6, 5, dtype=cr.float64, requires_grad=True)
    v = cr.randn(2, 6, 3, dtype=cr.float64, requires_grad=True)
    tq, tk, tv = map(_t, (q, k, v))
    ours = F.scaled_dot_product_attention(q, k, v, scale=0.37)
    theirs = TF.scaled_dot_product_attention(tq, tk, tv, scale=0.37)
    assert_close(ours, theirs)
    _backward_both(ours, theirs)
    for a, b in zip((q, k, v), (tq, tk, tv)):
        assert_close(a.grad, b.grad)


def test_sdpa_fully_masked_row_gives_zeros_like_torch():
    q = cr.randn(1, 3, 4, dtype=cr.float64, requires_grad=True)
    k = cr.randn(1, 5, 4, dtype=cr.float64, requires_grad=True)
    v = cr.randn(1, 5, 4, dtype=cr.float64, requires_grad=True)
    for mask in (cr.ones(3, 5, dtype=cr.bool), cr.zeros(3, 5, dtype=cr.float64)):
        for t in (q, k, v):
            t.grad = None
        if mask.dtype == cr.bool:
            mask[1] = False
        else:
            mask[1] = float("-inf")
        tq, tk, tv = map(_t, (q, k, v))
        ours = F.scaled_dot_product_attention(q, k, v, attn_mask=mask)
        theirs = TF.scaled_dot_product_attention(tq, tk, tv, attn_mask=_t(mask))
        assert np.all(ours.detach().numpy()[0, 1] == 0)
        assert_close(ours, theirs)
        _backward_both(ours, theirs)
        for a, b in zip((q, k, v), (tq, tk, tv)):
            assert np.isfinite(a.grad.numpy()).all()
            assert_close(a.grad, b.grad)


def test_sdpa_grouped_query_attention():
    q = cr.randn(2, 4, 3, 5, dtype=cr.float64, requires_grad=True)
    k = cr.randn(2, 2, 6, 5, dtype=cr.float64, requires_grad=True)
    v = cr.randn(2, 2, 6, 5, dtype=cr.float64, requires_grad=True)
    tq, tk, tv = map(_t, (q, k, v))
    ours = F.scaled_dot_product_attention(q, k, v, enable_gqa=True)
    theirs = TF.scaled_dot_product_attention(tq, tk, tv, enable_gqa=True)
    assert_close(ours, theirs)
    _backward_both(ours, theirs)
    for a, b in zip((q, k, v), (tq, tk, tv)):
        assert_close(a.grad, b.grad)


def test_sdpa_dropout():
    q, k, v = (cr.randn(2, 2, 8, 4, dtype=cr.float64) for _ in range(3))
    plain = F.scaled_dot_product_attention(q, k, v).numpy()
    cr.manual_seed(3)
    a = F.scaled_dot_product_attention(q, k, v, dropout_p=0.5).numpy()
    cr.manual_seed(3)
    b = F.scaled_dot_product_attention(q, k, v, dropout_p=0.5).numpy()
    np.testing.assert_array_equal(a, b)  # seeded: reproducible
    assert not np.allclose(a, plain)
    np.testing.assert_array_equal(F.scaled_dot_product_attention(q, k, v, dropout_p=1.0).numpy(), 0)


def test_sdpa_gradcheck():
    q = cr.randn(1, 2, 3, 4, dtype=cr.float64, requires_grad=True)
    k = cr.randn(1, 2, 5, 4, dtype=cr.float64, requires_grad=True)
    v = cr.randn(1, 2, 5, 3, dtype=cr.float64, requires_grad=True)
    mask = cr.randn(3, 5, dtype=cr.float64, requires_grad=True)
    assert cr.autograd.gradcheck(
        lambda *a: F.scaled_dot_product_attention(*a[:3], attn_mask=a[3]), (q, k, v, mask))


def test_sdpa_errors():
    q = cr.randn(2, 3, 4)
    with pytest.raises(ValueError, match="attn_mask or is_causal"):
        F.scaled_dot_product_attention(q, q, q, attn_mask=cr.ones(3, 3, dtype=cr.bool),
                                       is_causal=True)
    with pytest.raises(ShapeError, match=r"attn_mask of shape \(2, 2\).*\(2, 3, 3\)"):
        F.scaled_dot_product_attention(q, q, q, attn_mask=cr.ones(2, 2, dtype=cr.bool))
    with pytest.raises(ShapeError, match=r"query.*\(2, 3, 4\).*\(2, 3, 5\)"):
        F.scaled_dot_product_attention(q, cr.randn(2, 3, 5), cr.randn(2, 3, 5))
    with pytest.raises(DTypeError, match="float32.*float64"):
        F.scaled_dot_product_attention(q, q, q.double())


# ------------------------------------------------------------------- MHA --
CONFIGS = {"default": {}, "kdim-vdim": dict(kdim=3, vdim=6), "bias-kv-zero-attn":
           dict(add_bias_kv=True, add_zero_attn=True), "no-bias": dict(bias=False)}


def _mha_pair(dtype, batch_first, dropout=0.0, **kw):
    cr_dt, t_dt = DTYPES[dtype]
    ours = cr.nn.MultiheadAttention(8, 2, dropout=dropout, batch_first=batch_first, dtype=cr_dt, **kw)
    theirs = torch.nn.MultiheadAttention(8, 2, dropout=dropout, batch_first=batch_first,
                                         dtype=t_dt, **kw)
    load_into_torch(ours, theirs)
    return ours, theirs, cr_dt


def _seq(batch_first, length, batch, dim, dtype):
    shape = (batch, length, dim) if batch_first else (length, batch, dim)
    return cr.randn(*shape, dtype=dtype, requires_grad=True)


def _compare_mha(ours, theirs, inputs, **kw):
    by_id = {id(x): _t(x) for x in inputs}  # self-attention: one tensor, one torch leaf
    tinputs = [by_id[id(x)] for x in inputs]
    tkw = {k: _t(v) if isinstance(v, cr.Tensor) else v for k, v in kw.items()}
    out, w = ours(*inputs, **kw)
    tout, tw = theirs(*tinputs, **tkw)
    assert_close(out, tout, msg="attn_output")
    if kw.get("need_weights", True):
        assert_close(w, tw, msg="attn_weights")
        # the returned weights take part in backward as well
        gs = [cr.randn(*t.shape, dtype=t.dtype) for t in (out, w)]
        cr.autograd.backward([out, w], gs)
        torch.autograd.backward([tout, tw], [to_torch(g) for g in gs])
    else:
        assert w is None and tw is None
        _backward_both(out, tout)
    seen = set()
    for i, (a, b) in enumerate(zip(inputs, tinputs)):
        if id(a) not in seen:
            seen.add(id(a))
            assert_close(a.grad, b.grad, msg=f"grad of input {i}")
    for (name, p), (tname, tp) in zip(ours.named_parameters(), theirs.named_parameters()):
        assert name == tname
        assert_close(p.grad, tp.grad, msg=f"grad of {name}")


@pytest.mark.parametrize("dtype", list(DTYPES))
@pytest.mark.parametrize("batch_first", [False, True])
@pytest.mark.parametrize("config", list(CONFIGS))
def test_mha_cross_attention_with_masks(config, batch_first, dtype):
    kw = CONFIGS[config]
    ours, theirs, dt = _mha_pair(dtype, batch_first, **kw)
    query = _seq(batch_first, 5, 2, 8, dt)
    key = _seq(batch_first, 6, 2, kw.get("kdim", 8), dt)
    value = _seq(batch_first, 6, 2, kw.get("vdim", 8), dt)
    padding = cr.tensor([[False] * 4 + [True] * 2, [False] * 6])
    attn_mask = cr.rand(5, 6) > 0.7
    attn_mask[:, 0] = False
    _compare_mha(ours, theirs, [query, key, value], key_padding_mask=padding, attn_mask=attn_mask)


@pytest.mark.parametrize("need_weights", [True, False])
@pytest.mark.parametrize("batch_first", [False, True])
def test_mha_self_attention_causal(batch_first, need_weights):
    ours, theirs, dt = _mha_pair("float64", batch_first)
    x = _seq(batch_first, 5, 3, 8, dt)
    causal = cr.arange(5).unsqueeze(0) > cr.arange(5).unsqueeze(1)  # True above the diagonal
    _compare_mha(ours, theirs, [x, x, x], attn_mask=causal, need_weights=need_weights,
                 is_causal=True)


@pytest.mark.parametrize("need_weights", [True, False])
def test_mha_float_masks_per_head_and_unaveraged_weights(need_weights):
    ours, theirs, dt = _mha_pair("float64", True)
    x = _seq(True, 4, 2, 8, dt)
    attn_mask = cr.randn(2 * 2, 4, 4, dtype=dt)  # (N*num_heads, L, S)
    padding = cr.zeros(2, 4, dtype=dt)
    padding[0, 3] = -1e9
    _compare_mha(ours, theirs, [x, x, x], attn_mask=attn_mask, key_padding_mask=padding,
                 need_weights=need_weights, average_attn_weights=False)


@pytest.mark.parametrize("config", ["default", "kdim-vdim"])
def test_mha_unbatched(config):
    kw = CONFIGS[config]
    ours, theirs, dt = _mha_pair("float64", True, **kw)
    q = cr.randn(5, 8, dtype=dt, requires_grad=True)
    k = cr.randn(6, kw.get("kdim", 8), dtype=dt, requires_grad=True)
    v = cr.randn(6, kw.get("vdim", 8), dtype=dt, requires_grad=True)
    out, w = ours(q, k, v)
    assert tuple(out.shape) == (5, 8) and tuple(w.shape) == (5, 6)
    for t in (q, k, v):
        t.grad = None
    _compare_mha(ours, theirs, [q, k, v], key_padding_mask=cr.tensor([False] * 5 + [True]))


def test_mha_eval_with_dropout_is_deterministic_and_matches_torch():
    ours, theirs, dt = _mha_pair("float64", True, dropout=0.5)
    ours.eval()
    theirs.eval()
    x = _seq(True, 5, 2, 8, dt)
    first = ours(x, x, x)[0].detach().numpy()
    np.testing.assert_array_equal(ours(x, x, x)[0].detach().numpy(), first)
    _compare_mha(ours, theirs, [x, x, x])


def test_mha_training_dropout_drops_weights():
    ours = cr.nn.MultiheadAttention(8, 2, dropout=0.5, dtype=cr.float64)
    x = cr.randn(6, 2, 8, dtype=cr.float64)
    clean = ours.eval()(x, x, x, average_attn_weights=False)[1].detach().numpy()
    dropped = ours.train()(x, x, x, average_attn_weights=False)[1].detach().numpy()
    zero = dropped == 0
    assert 0.2 < zero.mean() < 0.8
    np.testing.assert_allclose(dropped[~zero], clean[~zero] / 0.5, rtol=1e-12)


def test_mha_initialisation():
    m = cr.nn.MultiheadAttention(40, 4)
    bound = math.sqrt(6 / (40 + 120))  # xavier_uniform on (3E, E)
    w = m.in_proj_weight.detach().numpy()
    assert w.min() >= -bound and w.max() <= bound and w.std() > bound / 2
    assert np.all(m.in_proj_bias.detach().numpy() == 0)
    assert np.all(m.out_proj.bias.detach().numpy() == 0)
    assert [n for n, _ in m.named_parameters()] == \
        [n for n, _ in torch.nn.MultiheadAttention(40, 4).named_parameters()]


def test_mha_errors():
    with pytest.raises(ValueError, match=r"embed_dim \(10\).*divisible.*num_heads \(3\)"):
        cr.nn.MultiheadAttention(10, 3)
    m = cr.nn.MultiheadAttention(8, 2)
    x = cr.randn(5, 2, 8)
    with pytest.raises(ShapeError, match=r"query.*\(seq, batch, 8\).*\(5, 2, 7\)"):
        m(cr.randn(5, 2, 7), x, x)
    with pytest.raises(ShapeError, match=r"attn_mask should have shape \(5, 5\).*\(4, 5\)"):
        m(x, x, x, attn_mask=cr.ones(4, 5, dtype=cr.bool))
    with pytest.raises(ShapeError, match=r"key_padding_mask of shape \(2, 5\).*\(2, 4\)"):
        m(x, x, x, key_padding_mask=cr.ones(2, 4, dtype=cr.bool))
    with pytest.raises(ValueError, match="is_causal"):
        m(x, x, x, is_causal=True)


def test_mha_bool_per_head_mask_and_2d_sdpa():
    ours, theirs, dt = _mha_pair("float64", False)
    x = _seq(False, 5, 3, 8, dt)
    mask = cr.rand(3 * 2, 5, 5) > 0.7  # (N*num_heads, L, S), True = not attended
    mask[..., 0] = False
    _compare_mha(ours, theirs, [x, x, x], attn_mask=mask)
    # SDPA on plain (L, E) matrices, no batch dims at all
    q, k, v = (cr.randn(4, 5, dtype=dt, requires_grad=True) for _ in range(3))
    tq, tk, tv = map(_t, (q, k, v))
    ours_out = F.scaled_dot_product_attention(q, k, v, is_causal=True)
    theirs_out = TF.scaled_dot_product_attention(tq, tk, tv, is_causal=True)
    assert_close(ours_out, theirs_out)
    _backward_both(ours_out, theirs_out)
    for a, b in zip((q, k, v), (tq, tk, tv)):
        assert_close(a.grad, b.grad)
