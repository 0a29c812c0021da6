"""Op specs for convolution, pooling, normalization, embedding and dropout.

Covers the registry ops of ``chainrule/ops/conv.py`` (conv2d, conv_transpose2d,
conv2d_weight, max_pool2d, max_pool2d_argmax, max_pool2d_backward, max_pool2d_select,
adaptive_max_pool2d_indices, pool_gather, pool_scatter, window_sum, window_sum_t) and the fused ``standardize``,
``embedding`` and ``embedding_backward`` ops of ``chainrule/nn/functional``.
Backward ops (conv2d_weight, max_pool2d_backward/select, pool_scatter, window_sum_t,
embedding_backward) are
reached by the gradient and second-order checks of their forward ops.
"""
from __future__ import annotations

from harness import C, F, I, IV, S, both, distinct

SPECS = []

NO_TIES = distinct()


def add(*specs):
    SPECS.extend(specs)


def _f(m):
    return m.nn.functional


# ------------------------------------------------------------ convolution --
CONV_OPS = ("conv2d", "conv_transpose2d", "conv2d_weight")
add(
    S("nn_conv2d", both(lambda m, x, w, b=None, **k: _f(m).conv2d(x, w, b, **k)),
      [C((2, 3, 5, 4), (4, 3, 3, 2), (4,), id="basic"),
       C((1, 4, 6, 5), (6, 2, 3, 3), kw=dict(stride=(2, 1), padding=(1, 2), dilation=(2, 1),
                                            groups=2), id="strided-grouped"),
       C((2, 2, 5, 5), (2, 1, 2, 2), kw=dict(padding="same", groups=2), id="same-even"),
       C((2, 5, 5), (3, 2, 3, 3), kw=dict(padding="valid"), id="unbatched"),
       C((1, 2, 4, 4), (1, 2, 1, 1), kw=dict(stride=3), id="1x1-stride"),
       # stride 1 runs on the padded grid (flat runs): dilated, asymmetric sizes, one row out
       C((2, 2, 7, 6), (3, 2, 2, 3), (3,), kw=dict(padding=(1, 2), dilation=(2, 1)),
         id="flat-dilated"),
       C((1, 2, 3, 6), (2, 2, 3, 2), kw=dict(padding=(0, 1)), id="one-row")],
      ops=CONV_OPS),
    S("nn_conv1d", both(lambda m, x, w, b=None, **k: _f(m).conv1d(x, w, b, **k)),
      [C((2, 3, 7), (4, 3, 3), (4,), kw=dict(stride=2, padding=1)),
       C((2, 4, 9), (4, 1, 3), kw=dict(dilation=2, groups=4), id="depthwise")],
      ops=CONV_OPS),
    S("nn_conv_transpose2d",
      both(lambda m, x, w, b=None, **k: _f(m).conv_transpose2d(x, w, b, **k)),
      [C((2, 3, 3, 4), (3, 2, 3, 2), (2,), kw=dict(stride=2, padding=1, output_padding=1)),
       C((1, 4, 3, 3), (4, 1, 2, 3), kw=dict(stride=(1, 2), groups=2, dilation=(2, 1)),
         id="grouped-dilated"),
       C((2, 2, 4, 3), (2, 3, 3, 2), (3,), kw=dict(padding=1, dilation=2, output_padding=1),
         id="stride1-output-padding")],
      ops=CONV_OPS),
    S("nn_conv_transpose1d",
      both(lambda m, x, w, b=None, **k: _f(m).conv_transpose1d(x, w, b, **k)),
      [C((2, 3, 4), (3, 2, 3), (2,), kw=dict(stride=2))], ops=CONV_OPS),
)

# ---------------------------------------------------------------- pooling --
POOL_OPS = ("max_pool2d", "max_pool2d_argmax", "max_pool2d_backward", "max_pool2d_select")
add(
    S("nn_max_pool2d", both(lambda m, x, **k: _f(m).max_pool2d(x, **k)),
      [C((2, 2, 6, 5), kw=dict(kernel_size=2)),
       C((1, 2, 7, 6), kw=dict(kernel_size=3, stride=2, padding=1, dilation=1, ceil_mode=True),
         id="padded-ceil"),
       C((1, 1, 7, 7), kw=dict(kernel_size=(2, 3), stride=1, dilation=2), id="overlapping"),
       C((2, 5, 4), kw=dict(kernel_size=2, stride=1), id="unbatched")],
      domain=NO_TIES, ops=POOL_OPS),
    S("nn_max_pool2d_indices",
      both(lambda m, x, **k: _f(m).max_pool2d(x, return_indices=True, **k)),
      [C((1, 2, 5, 5), kw=dict(kernel_size=3, stride=2, padding=1))], domain=NO_TIES,
      ops=POOL_OPS),
    S("nn_max_pool1d", both(lambda m, x, **k: _f(m).max_pool1d(x, **k)),
      [C((2, 3, 9), kw=dict(kernel_size=3, stride=2, padding=1, ceil_mode=True))],
      domain=NO_TIES, ops=POOL_OPS),
    S("nn_adaptive_max_pool2d",
      both(lambda m, x, **k: _f(m).adaptive_max_pool2d(x, **k)),
      [C((1, 2, 7, 5), kw=dict(output_size=(3, 2))), C((2, 6, 6), kw=dict(output_size=4))],
      domain=NO_TIES, ops=("adaptive_max_pool2d_indices", "pool_gather", "pool_scatter")),
    S("nn_avg_pool2d", both(lambda m, x, **k: _f(m).avg_pool2d(x, **k)),
      [C((2, 2, 6, 4), kw=dict(kernel_size=2), id="blocks"),
       C((1, 2, 7, 6), kw=dict(kernel_size=3, stride=2, padding=1, ceil_mode=True),
         id="padded-ceil"),
       C((1, 2, 7, 6), kw=dict(kernel_size=3, stride=2, padding=1, count_include_pad=False),
         id="exclude-pad"),
       C((1, 1, 5, 5), kw=dict(kernel_size=2, stride=1, divisor_override=3), id="divisor")],
      ops=("window_sum", "window_sum_t")),
    S("nn_avg_pool1d", both(lambda m, x, **k: _f(m).avg_pool1d(x, **k)),
      [C((2, 3, 9), kw=dict(kernel_size=3, stride=2, padding=1))],
      ops=("window_sum", "window_sum_t")),
    S("nn_adaptive_avg_pool2d", both(lambda m, x, **k: _f(m).adaptive_avg_pool2d(x, **k)),
      [C((1, 2, 7, 5), kw=dict(output_size=(3, 2)), id="uneven"),
       C((2, 2, 6, 4), kw=dict(output_size=(3, 2)), id="even"),
       C((2, 3, 4, 4), kw=dict(output_size=1), id="global")]),
)

# ---------------------------------------------------------- normalization --
add(
    S("nn_batch_norm_train",
      both(lambda m, x, w, b: _f(m).batch_norm(x, None, None, w, b, training=True)),
      [C((4, 3), (3,), (3,)), C((3, 2, 4), (2,), (2,)), C((2, 3, 3, 2), (3,), (3,))],
      ops=("standardize",)),
    S("nn_batch_norm_eval",
      both(lambda m, x, rm, rv, w, b: _f(m).batch_norm(x, rm, rv, w, b, training=False)),
      [C((4, 3, 2), F((3,), grad=False), F((3,), grad=False, domain=(0.5, 2.0)), (3,), (3,))]),
    S("nn_layer_norm", both(lambda m, x, w=None, b=None, *, shape: _f(m).layer_norm(x, shape, w, b)),
      [C((3, 4), (4,), (4,), kw=dict(shape=(4,))),
       C((2, 3, 4), (3, 4), (3, 4), kw=dict(shape=(3, 4))), C((2, 5), kw=dict(shape=(5,)))],
      ops=("standardize",)),
    S("nn_group_norm", both(lambda m, x, g, w=None, b=None: _f(m).group_norm(x, g, w, b)),
      [C((2, 4, 3), 2, (4,), (4,)), C((2, 6, 2, 2), 3, (6,), (6,)), C((3, 4), 1)],
      ops=("standardize",)),
)

# ------------------------------------------------------ embedding, dropout --
add(
    S("nn_embedding", both(lambda m, i, w, **k: _f(m).embedding(i, w, **k)),
      # the padding row's gradient is zero by definition (not the derivative): no FD there
      [C(I((2, 3), 5), (5, 4)), C(IV([[0, 2, 2], [4, 2, 0]]), (5, 3), kw=dict(padding_idx=2),
                                  id="padding-repeats", fd=False),
       C(IV([1, 1, 1]), (3, 2), id="all-same")],
      ops=("embedding", "embedding_backward")),
    S("nn_dropout_eval", both(lambda m, x: _f(m).dropout(x, 0.5, training=False)), [C((2, 3))]),
    S("nn_dropout_p0", both(lambda m, x: _f(m).dropout(x, 0.0)), [C((2, 3))]),
)


# ------------------------------------------------------------ LSTM layer --
def _lstm_layer_torch(gi, h0, c0, w, reverse=False):
    """The layer's packed (T+1, B, H) output with plain torch ops (the oracle)."""
    import torch
    n = h0.shape[-1]
    h, c = h0, c0
    hs = [None] * gi.shape[0]
    for t in (range(gi.shape[0] - 1, -1, -1) if reverse else range(gi.shape[0])):
        gates = gi[t] + h @ w.t()
        i, f, g, o = gates.split(n, -1)
        c = torch.sigmoid(f) * c + torch.sigmoid(i) * torch.tanh(g)
        h = torch.sigmoid(o) * torch.tanh(c)
        hs[t] = h
    return torch.stack(hs + [c], 0)


def _lstm_layer_cr(gi, h0, c0, w, reverse=False):
    from chainrule.nn._lstm import lstm_layer
    return lstm_layer(gi, h0, c0, w, reverse=reverse)


add(
    S("nn_lstm_layer", (_lstm_layer_cr, _lstm_layer_torch),
      [C((3, 2, 8), (2, 2), (2, 2), (8, 2)),
       C((4, 1, 12), (1, 3), (1, 3), (12, 3), kw=dict(reverse=True), id="reverse"),
       C((1, 2, 4), (2, 1), (2, 1), (4, 1), id="one-step")],
      ops=("lstm_layer",)),
)
