"""Attention, functional form: ``scaled_dot_product_attention`` and
``multi_head_attention_forward`` with PyTorch's signatures and mask conventions.

Two mask conventions meet here, both PyTorch's: in ``scaled_dot_product_attention`` a
bool mask is True where attention is *allowed*; in ``multi_head_attention_forward``
(and ``nn.MultiheadAttention``) a bool ``attn_mask`` / ``key_padding_mask`` is True
where it is *not*. Float masks are added to the scores in both.
"""
from __future__ import annotations

import math

from ..._host_calls import fast_path
from ...creation import arange, zeros
from ...errors import DTypeError, ShapeError, op_error
from ...ops.indexing import where
from ...ops.join import cat, chunk
from ...ops.softmax import softmax
from ...tensor import Tensor
from .. import _args
from ._dropout import dropout
from ._linear import linear

__all__ = ["scaled_dot_product_attention", "multi_head_attention_forward"]


def _linear(x: Tensor, w: Tensor, b: Tensor | None) -> Tensor:
    return linear(x, w, b)  # the fused op: one node, one GEMM over all positions


def _causal_mask(length: int, source: int, like: Tensor) -> Tensor:
    """Bool (L, S) mask, True on and below the diagonal (PyTorch's ``tril``)."""
    rows = arange(length, device=like.device).unsqueeze(1)
    cols = arange(source, device=like.device).unsqueeze(0)
    return rows >= cols


def scaled_dot_product_attention(query: Tensor, key: Tensor, value: Tensor,
                                 attn_mask: Tensor | None = None, dropout_p: float = 0.0,
                                 is_causal: bool = False, scale: float | None = None,
                                 enable_gqa: bool = False) -> Tensor:
    """``softmax(q kᵀ · scale + mask) v`` over the last two dims; batch dims broadcast.

    ``query`` (…, L, E), ``key`` (…, S, E), ``value`` (…, S, Ev) → (…, L, Ev).
    ``scale`` defaults to 1/sqrt(E). A bool ``attn_mask`` is True where attention is
    allowed; a float one is added to the scores. ``is_causal`` masks keys after each
    query. As PyTorch, a query whose keys are all masked gets zeros (not NaN).

    >>> import chainrule as cr
    >>> q = k = v = cr.ones(1, 2, 3, 4)
    >>> tuple(cr.nn.functional.scaled_dot_product_attention(q, k, v, is_causal=True).shape)
    (1, 2, 3, 4)
    """
    name = "scaled_dot_product_attention"
    _args.probability(dropout_p, "dropout_p", name)
    for what, t in (("query", query), ("key", key), ("value", value)):
        if not isinstance(t, Tensor) or t.ndim < 2 or not t.is_floating_point():
            got = f"shape {tuple(t.shape)} dtype {t.dtype.name}" if isinstance(t, Tensor) \
                else type(t).__name__
            raise op_error(ShapeError, name, f"{what} must be a floating tensor with at least 2 "
                           f"dims (..., seq_len, features), got {got}")
    if query.dtype != key.dtype or query.dtype != value.dtype:
        raise op_error(DTypeError, name, f"query, key and value must have one dtype, got "
                       f"{query.dtype.name}, {key.dtype.name} and {value.dtype.name}")
    if query.shape[-1] != key.shape[-1] or key.shape[-2] != value.shape[-2]:
        raise op_error(ShapeError, name, f"expected query (..., L, E), key (..., S, E) and value "
                       f"(..., S, Ev), got {tuple(query.shape)}, {tuple(key.shape)} and "
                       f"{tuple(value.shape)}")
    if enable_gqa and query.ndim >= 3 and key.shape[-3] != query.shape[-3]:
        # grouped-query attention: each key/value head serves a group of query heads
        groups, rem = divmod(query.shape[-3], key.shape[-3])
        if rem:
            raise op_error(ShapeError, name, f"with enable_gqa the query heads ({query.shape[-3]}) "
                           f"must be a multiple of the key/value heads ({key.shape[-3]})")
        key = key.repeat_interleave(groups, dim=-3)
        value = value.repeat_interleave(groups, dim=-3)
    length, source = query.shape[-2], key.shape[-2]
    if is_causal:
        if attn_mask is not None:
            raise op_error(ValueError, name, "pass either attn_mask or is_causal=True, not both")
        attn_mask = _causal_mask(length, source, query)
    scale = 1.0 / math.sqrt(query.shape[-1]) if scale is None else scale
    scores = (query * scale) @ key.transpose(-2, -1)
    masked = None
    if attn_mask is not None:
        if not isinstance(attn_mask, Tensor):
            raise op_error(TypeError, name, f"attn_mask must be a Tensor, got "
                           f"{type(attn_mask).__name__}")
        if attn_mask.dtype.name == "bool":
            masked = ~attn_mask
            scores = scores.masked_fill(masked, float("-inf")) if \
                _broadcasts(attn_mask, scores) else _bad_mask(attn_mask, scores, name)
        elif attn_mask.is_floating_point():
            if not _broadcasts(attn_mask, scores):
                _bad_mask(attn_mask, scores, name)
            scores = scores + attn_mask.to(scores.dtype)
            masked = attn_mask == float("-inf")
        else:
            raise op_error(DTypeError, name, f"attn_mask must be bool or floating, got "
                           f"{attn_mask.dtype.name}")
    if masked is not None:
        # a row with every key masked would be 0/0; PyTorch gives it zeros
        dead = (scores == float("-inf")).all(-1, keepdim=True)
        if scores.device.type != "cpu" or not fast_path(~dead._data.any()):  # (asking would sync
            # a GPU; a capture guards the choice, or takes the path for all data)
            weights = where(dead, 0.0, softmax(where(dead, 0.0, scores), -1))
        else:
            weights = softmax(scores, -1)
    else:
        weights = softmax(scores, -1)
    if dropout_p > 0.0:
        weights = dropout(weights, dropout_p)
    return weights @ value


def _broadcasts(mask: Tensor, scores: Tensor) -> bool:
    if mask.ndim > scores.ndim:
        return False
    return all(m in (1, s) for m, s in zip(reversed(mask.shape), reversed(scores.shape)))


def _bad_mask(mask: Tensor, scores: Tensor, name: str):
    raise op_error(ShapeError, name, f"attn_mask of shape {tuple(mask.shape)} does not broadcast "
                   f"to the attention scores' shape {tuple(scores.shape)} (..., L, S)")


# ----------------------------------------------------------- multi-head --
def _float_mask(mask: Tensor | None, what: str, dtype) -> Tensor | None:
    """MHA's masks as additive floats: a bool True (= masked out) becomes -inf."""
    if mask is None:
        return None
    if mask.dtype.name == "bool":
        return zeros(*mask.shape, dtype=dtype, device=mask.device).masked_fill(mask, float("-inf"))
    if not mask.is_floating_point():
        raise op_error(DTypeError, "multi_head_attention_forward", f"only bool and floating "
                       f"{what} are supported, got {mask.dtype.name}")
    return mask.to(dtype)


def multi_head_attention_forward(
        query: Tensor, key: Tensor, value: Tensor, embed_dim_to_check: int, num_heads: int,
        in_proj_weight: Tensor | None, in_proj_bias: Tensor | None, bias_k: Tensor | None,
        bias_v: Tensor | None, add_zero_attn: bool, dropout_p: float, out_proj_weight: Tensor,
        out_proj_bias: Tensor | None, training: bool = True,
        key_padding_mask: Tensor | None = None, need_weights: bool = True,
        attn_mask: Tensor | None = None, use_separate_proj_weight: bool = False,
        q_proj_weight: Tensor | None = None, k_proj_weight: Tensor | None = None,
        v_proj_weight: Tensor | None = None, static_k=None, static_v=None,
        average_attn_weights: bool = True, is_causal: bool = False):
    """PyTorch's ``F.multi_head_attention_forward``: sequence-first (L, N, E) inputs, or
    unbatched (L, E). Returns ``(attn_output, attn_weights or None)``.

    ``attn_mask`` (L, S) or (N*num_heads, L, S) and ``key_padding_mask`` (N, S): bool
    True means *masked out*; floats are added to the scores.
    """
    name = "MultiheadAttention"
    if static_k is not None or static_v is not None:
        raise op_error(NotImplementedError, name, "static_k / static_v are not supported")
    batched = query.ndim == 3
    if query.ndim not in (2, 3) or key.ndim != query.ndim or value.ndim != query.ndim:
        raise op_error(ShapeError, name, f"expected query, key and value all 3-D (seq, batch, "
                       f"embed) — (batch, seq, embed) with batch_first — or all 2-D unbatched "
                       f"(seq, embed), got {tuple(query.shape)}, {tuple(key.shape)} and "
                       f"{tuple(value.shape)}")
    if not batched:
        query, key, value = query.unsqueeze(1), key.unsqueeze(1), value.unsqueeze(1)
        if key_padding_mask is not None:
            key_padding_mask = key_padding_mask.unsqueeze(0)
    tgt_len, bsz, embed_dim = query.shape
    src_len = key.shape[0]
    if embed_dim != embed_dim_to_check:
        raise op_error(ShapeError, name, f"expected query's last dim to be embed_dim="
                       f"{embed_dim_to_check}, got query of shape {tuple(query.shape)}")
    if key.shape[:2] != value.shape[:2] or key.shape[1] != bsz:
        raise op_error(ShapeError, name, f"key {tuple(key.shape)} and value {tuple(value.shape)} "
                       f"must share (seq, batch) and match query's batch {bsz}")
    head_dim = embed_dim // num_heads
    if is_causal and attn_mask is None:
        raise op_error(ValueError, name, "is_causal is only a hint: pass the causal attn_mask too "
                       "(e.g. nn.Transformer.generate_square_subsequent_mask)")

    # -- input projections ----------------------------------------------------
    if not use_separate_proj_weight:
        if query is key and key is value:  # self-attention: one matmul for q, k and v
            q, k, v = chunk(_linear(query, in_proj_weight, in_proj_bias), 3, -1)
        else:
            w_q, w_k, w_v = chunk(in_proj_weight, 3, 0)
            b_q, b_k, b_v = chunk(in_proj_bias, 3, 0) if in_proj_bias is not None else (None,) * 3
            q, k, v = _linear(query, w_q, b_q), _linear(key, w_k, b_k), _linear(value, w_v, b_v)
    else:
        b_q, b_k, b_v = chunk(in_proj_bias, 3, 0) if in_proj_bias is not None else (None,) * 3
        q = _linear(query, q_proj_weight, b_q)
        k = _linear(key, k_proj_weight, b_k)
        v = _linear(value, v_proj_weight, b_v)

    dtype = q.dtype
    attn_mask = _float_mask(attn_mask, "attn_mask", dtype)
    key_padding_mask = _float_mask(key_padding_mask, "key_padding_mask", dtype)
    if attn_mask is not None:
        if attn_mask.ndim == 2:
            if tuple(attn_mask.shape) != (tgt_len, src_len):
                raise op_error(ShapeError, name, f"the 2-D attn_mask should have shape "
                               f"{(tgt_len, src_len)} (L, S), got {tuple(attn_mask.shape)}")
            attn_mask = attn_mask.unsqueeze(0)
        elif attn_mask.ndim == 3:
            if tuple(attn_mask.shape) != (bsz * num_heads, tgt_len, src_len):
                raise op_error(ShapeError, name, f"the 3-D attn_mask should have shape "
                               f"{(bsz * num_heads, tgt_len, src_len)} (N*num_heads, L, S), got "
                               f"{tuple(attn_mask.shape)}")
        else:
            raise op_error(ShapeError, name, f"attn_mask must be 2-D or 3-D, got shape "
                           f"{tuple(attn_mask.shape)}")
    if key_padding_mask is not None and tuple(key_padding_mask.shape) != (bsz, src_len):
        raise op_error(ShapeError, name, f"expected key_padding_mask of shape {(bsz, src_len)} "
                       f"(N, S), got {tuple(key_padding_mask.shape)}")

    # -- extra key/value positions: learned bias, then a zero one -------------
    if bias_k is not None and bias_v is not None:
        k = cat([k, bias_k.reshape(1, 1, embed_dim).expand(1, bsz, embed_dim)], 0)
        v = cat([v, bias_v.reshape(1, 1, embed_dim).expand(1, bsz, embed_dim)], 0)
        attn_mask = _pad_last(attn_mask)
        key_padding_mask = _pad_last(key_padding_mask)
    # (seq, N, E) → (N, H, seq, head_dim)
    q = q.reshape(tgt_len, bsz, num_heads, head_dim).permute(1, 2, 0, 3)
    k = k.reshape(k.shape[0], bsz, num_heads, head_dim).permute(1, 2, 0, 3)
    v = v.reshape(v.shape[0], bsz, num_heads, head_dim).permute(1, 2, 0, 3)
    if add_zero_attn:
        k = cat([k, zeros(bsz, num_heads, 1, head_dim, dtype=dtype, device=k.device)], 2)
        v = cat([v, zeros(bsz, num_heads, 1, head_dim, dtype=dtype, device=v.device)], 2)
        attn_mask = _pad_last(attn_mask)
        key_padding_mask = _pad_last(key_padding_mask)
    src_len = k.shape[2]

    # one additive mask of shape broadcastable to (N, H, L, S)
    mask = None
    if attn_mask is not None:
        mask = attn_mask.unsqueeze(0) if attn_mask.shape[0] == 1 else \
            attn_mask.reshape(bsz, num_heads, tgt_len, src_len)
    if key_padding_mask is not None:
        kpm = key_padding_mask.reshape(bsz, 1, 1, src_len)
        mask = kpm if mask is None else mask + kpm
    if not training:
        dropout_p = 0.0

    if need_weights:
        scores = (q * (1.0 / math.sqrt(head_dim))) @ k.transpose(-2, -1)
        if mask is not None:
            scores = scores + mask
        weights = softmax(scores, -1)
        if dropout_p > 0.0:
            weights = dropout(weights, dropout_p)
        out = weights @ v
    else:
        weights = None
        out = scaled_dot_product_attention(q, k, v, mask, dropout_p)
    # (N, H, L, hd) → (L, N, E), then the output projection
    out = out.permute(2, 0, 1, 3).reshape(tgt_len, bsz, embed_dim)
    out = _linear(out, out_proj_weight, out_proj_bias)
    if weights is not None and average_attn_weights:
        weights = weights.mean(1)
    if not batched:
        out = out.squeeze(1)
        if weights is not None:
            weights = weights.squeeze(0)
    return out, weights


def _pad_last(mask: Tensor | None) -> Tensor | None:
    """Append one unmasked (0.0) key position to an additive mask."""
    if mask is None:
        return None
    return cat([mask, zeros(*mask.shape[:-1], 1, dtype=mask.dtype, device=mask.device)], -1)
