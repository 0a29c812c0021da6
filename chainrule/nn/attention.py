"""``MultiheadAttention`` with PyTorch's parameters (``in_proj_weight``, ``in_proj_bias``,
``out_proj``; ``q/k/v_proj_weight`` when kdim/vdim differ), masks and return values.

>>> import chainrule as cr
>>> mha = cr.nn.MultiheadAttention(8, 2, batch_first=True)
>>> x = cr.randn(3, 5, 8)
>>> out, w = mha(x, x, x)
>>> tuple(out.shape), tuple(w.shape)
((3, 5, 8), (3, 5, 5))
"""
from __future__ import annotations

from ..creation import empty
from ..errors import ShapeError, op_error
from ..tensor import Tensor
from . import _args, init
from .functional._attention import multi_head_attention_forward
from .linear import Linear
from .module import Module
from .parameter import Parameter

__all__ = ["MultiheadAttention"]


class MultiheadAttention(Module):
    """Attention over ``num_heads`` subspaces of ``embed_dim``, then an output projection.

    ``forward(query, key, value, key_padding_mask=None, need_weights=True,
    attn_mask=None, average_attn_weights=True, is_causal=False)`` returns
    ``(attn_output, attn_weights)``; weights are averaged over heads unless
    ``average_attn_weights=False``, and None when ``need_weights=False``. Bool masks
    are True where attention is *not* allowed; float masks are added to the scores.
    Inputs are (L, N, E), or (N, L, E) with ``batch_first``, or unbatched (L, E).
    """

    def __init__(self, embed_dim: int, num_heads: int, dropout: float = 0.0, bias: bool = True,
                 add_bias_kv: bool = False, add_zero_attn: bool = False, kdim: int | None = None,
                 vdim: int | None = None, batch_first: bool = False, device=None,
                 dtype=None) -> None:
        super().__init__()
        _args.size(embed_dim, "embed_dim", "MultiheadAttention")
        _args.size(num_heads, "num_heads", "MultiheadAttention")
        if embed_dim <= 0 or num_heads <= 0:
            raise op_error(ValueError, "MultiheadAttention", f"embed_dim and num_heads must be "
                           f"positive, got embed_dim={embed_dim} and num_heads={num_heads}")
        if embed_dim % num_heads:
            raise op_error(ValueError, "MultiheadAttention", f"embed_dim ({embed_dim}) must be "
                           f"divisible by num_heads ({num_heads})")
        self.embed_dim = embed_dim
        self.kdim = kdim if kdim is not None else embed_dim
        self.vdim = vdim if vdim is not None else embed_dim
        self._qkv_same_embed_dim = self.kdim == embed_dim and self.vdim == embed_dim
        self.num_heads = num_heads
        self.dropout = float(dropout)
        self.batch_first = batch_first
        self.head_dim = embed_dim // num_heads
        kw = dict(dtype=dtype, device=device)
        if self._qkv_same_embed_dim:
            self.in_proj_weight = Parameter(empty(3 * embed_dim, embed_dim, **kw))
            self.register_parameter("q_proj_weight", None)
            self.register_parameter("k_proj_weight", None)
            self.register_parameter("v_proj_weight", None)
        else:
            self.q_proj_weight = Parameter(empty(embed_dim, embed_dim, **kw))
            self.k_proj_weight = Parameter(empty(embed_dim, self.kdim, **kw))
            self.v_proj_weight = Parameter(empty(embed_dim, self.vdim, **kw))
            self.register_parameter("in_proj_weight", None)
        if bias:
            self.in_proj_bias = Parameter(empty(3 * embed_dim, **kw))
        else:
            self.register_parameter("in_proj_bias", None)
        self.out_proj = Linear(embed_dim, embed_dim, bias=bias, **kw)
        if add_bias_kv:
            self.bias_k = Parameter(empty(1, 1, embed_dim, **kw))
            self.bias_v = Parameter(empty(1, 1, embed_dim, **kw))
        else:
            self.bias_k = self.bias_v = None
        self.add_zero_attn = add_zero_attn
        self._reset_parameters()

    def _reset_parameters(self) -> None:
        """Xavier-uniform projections, zero biases (PyTorch's choice); out_proj keeps
        Linear's own initialisation for its weight."""
        if self._qkv_same_embed_dim:
            init.xavier_uniform_(self.in_proj_weight)
        else:
            init.xavier_uniform_(self.q_proj_weight)
            init.xavier_uniform_(self.k_proj_weight)
            init.xavier_uniform_(self.v_proj_weight)
        if self.in_proj_bias is not None:
            init.constant_(self.in_proj_bias, 0.0)
            init.constant_(self.out_proj.bias, 0.0)
        if self.bias_k is not None:
            init.xavier_normal_(self.bias_k)
            init.xavier_normal_(self.bias_v)

    def forward(self, query: Tensor, key: Tensor, value: Tensor,
                key_padding_mask: Tensor | None = None, need_weights: bool = True,
                attn_mask: Tensor | None = None, average_attn_weights: bool = True,
                is_causal: bool = False):
        for what, t, dim in (("query", query, self.embed_dim), ("key", key, self.kdim),
                             ("value", value, self.vdim)):
            if not isinstance(t, Tensor) or t.ndim not in (2, 3) or t.shape[-1] != dim:
                got = tuple(t.shape) if isinstance(t, Tensor) else type(t).__name__
                layout = "(batch, seq, " if self.batch_first else "(seq, batch, "
                raise op_error(ShapeError, "MultiheadAttention", f"expected {what} of shape "
                               f"{layout}{dim}) or unbatched (seq, {dim}), got {got}")
        if self.batch_first and query.ndim == 3:
            # keep self-attention recognisable (query is key is value) after transposing
            if key is value:
                if query is key:
                    query = key = value = query.transpose(0, 1)
                else:
                    query, key = query.transpose(0, 1), key.transpose(0, 1)
                    value = key
            else:
                query, key, value = (x.transpose(0, 1) for x in (query, key, value))
        out, weights = multi_head_attention_forward(
            query, key, value, self.embed_dim, self.num_heads, self.in_proj_weight,
            self.in_proj_bias, self.bias_k, self.bias_v, self.add_zero_attn, self.dropout,
            self.out_proj.weight, self.out_proj.bias, training=self.training,
            key_padding_mask=key_padding_mask, need_weights=need_weights, attn_mask=attn_mask,
            use_separate_proj_weight=not self._qkv_same_embed_dim,
            q_proj_weight=self.q_proj_weight, k_proj_weight=self.k_proj_weight,
            v_proj_weight=self.v_proj_weight, average_attn_weights=average_attn_weights,
            is_causal=is_causal)
        if self.batch_first and query.ndim == 3:
            out = out.transpose(0, 1)
        return out, weights

    def extra_repr(self) -> str:
        return f"embed_dim={self.embed_dim}, num_heads={self.num_heads}" + \
            (f", dropout={self.dropout}" if self.dropout else "") + \
            (", batch_first=True" if self.batch_first else "")
