"""Op specs for the second round of nn pieces: embedding_bag, affine_grid / grid_sample,
interpolate's 'bicubic' and 'area' modes, the 3-D convolutions and pools (and the
``depth_unfold`` / ``depth_fold`` ops under them), and max_unpool.

Every differentiable case is checked against PyTorch (values and gradients, float32 and
float64), against finite differences, and, for smooth ops, at second order.
"""
from __future__ import annotations

from harness import C, F, IV, L, S, both, distinct

NO_TIES = distinct()
SPECS = []


def add(*specs):
    SPECS.extend(specs)


def _f(m):
    return m.nn.functional


# ------------------------------------------------------------ embedding_bag --
BAG_INDEX = IV([1, 2, 4, 4, 0, 3, 2])
add(
    S("nn_embedding_bag",
      both(lambda m, i, w, off=None, psw=None, **k: _f(m).embedding_bag(
          i, w, off, per_sample_weights=psw, **k)),
      [C(BAG_INDEX, (5, 3), IV([0, 2, 2, 5]), kw=dict(mode="sum"), id="sum-empty-bag"),
       C(BAG_INDEX, (5, 3), IV([0, 3, 4]), kw=dict(mode="mean"), id="mean"),
       C(BAG_INDEX, (5, 3), IV([0, 2, 2, 6]), kw=dict(mode="max"), id="max-empty-bag"),
       C(BAG_INDEX, (5, 3), IV([0, 3, 5]), kw=dict(mode="mean", padding_idx=2), id="mean-padding"),
       C(BAG_INDEX, (5, 3), IV([0, 1, 5]), kw=dict(mode="max", padding_idx=4), id="max-padding"),
       C(BAG_INDEX, (5, 3), IV([0, 2, 2]), (7,), kw=dict(mode="sum"), id="per-sample-weights"),
       C(BAG_INDEX, (5, 3), IV([0, 3, 7]), (7,), kw=dict(mode="sum", padding_idx=0,
                                                         include_last_offset=True),
         id="psw-padding-last-offset"),
       C(IV([[0, 2, 2], [4, 1, 3]]), (5, 4), kw=dict(mode="mean"), id="2d-mean"),
       C(IV([[0, 2, 2], [4, 1, 3]]), (5, 4), kw=dict(mode="max"), id="2d-max"),
       C(IV([[0, 2, 2], [4, 1, 3]]), (5, 4), None, (2, 3), kw=dict(mode="sum"), id="2d-psw")],
      domain=NO_TIES, ops=("embedding", "embedding_backward"),
      torch_second="PyTorch has no double backward for _embedding_bag_backward"),
)

# ---------------------------------------------------- spatial transformers --
GRID = (-1.2, 1.2)
add(
    S("nn_affine_grid", both(lambda m, t, size, **k: _f(m).affine_grid(t, size, **k)),
      [C((2, 2, 3), L((2, 3, 4, 5)), kw=dict(align_corners=False)),
       C((1, 2, 3), L((1, 1, 3, 1)), kw=dict(align_corners=False), id="one-column"),
       C((1, 2, 3), L((1, 1, 2, 3)), kw=dict(align_corners=True), id="align"),
       C((2, 3, 4), L((2, 1, 2, 3, 4)), kw=dict(align_corners=False), id="3d")]),
    S("nn_grid_sample",
      both(lambda m, x, g, **k: _f(m).grid_sample(x, g, **k)),
      [C((2, 3, 4, 5), F((2, 3, 2, 2), domain=GRID), kw=dict(align_corners=False), id="zeros"),
       C((1, 2, 3, 4), F((1, 2, 3, 2), domain=GRID), kw=dict(align_corners=True), id="zeros-align"),
       C((1, 2, 4, 3), F((1, 3, 2, 2), domain=GRID),
         kw=dict(padding_mode="border", align_corners=False), id="border"),
       C((1, 2, 3, 4), F((1, 2, 3, 2), domain=(-2.8, 2.8)),
         kw=dict(padding_mode="reflection", align_corners=False), id="reflection"),
       C((1, 2, 3, 4), F((1, 2, 3, 2), domain=(-2.8, 2.8)),
         kw=dict(padding_mode="reflection", align_corners=True), id="reflection-align"),
       C((1, 2, 3, 3, 4), F((1, 2, 2, 1, 3), domain=GRID), kw=dict(align_corners=False),
         id="3d-trilinear"),
       C((1, 1, 2, 3, 4), F((1, 1, 2, 2, 3), domain=(-2.5, 2.5)),
         kw=dict(padding_mode="reflection", align_corners=True), id="3d-reflection")],
      domain=(-2.0, 2.0)),
    S("nn_grid_sample_nearest",
      both(lambda m, x, g, **k: _f(m).grid_sample(x, g, mode="nearest", **k)),
      [C((2, 3, 4, 5), F((2, 3, 2, 2), domain=GRID), kw=dict(align_corners=False), id="zeros"),
       C((1, 2, 3, 4), F((1, 2, 3, 2), domain=(-2.8, 2.8)),
         kw=dict(padding_mode="reflection", align_corners=True), id="reflection"),
       C((1, 2, 3, 3, 4), F((1, 2, 2, 1, 3), domain=GRID),
         kw=dict(padding_mode="border", align_corners=False), id="3d-border")]),
)

# ---------------------------------------------------------------- resample --
add(
    S("nn_interpolate_bicubic",
      both(lambda m, x, **k: _f(m).interpolate(x, mode="bicubic", **k)),
      [C((1, 2, 3, 4), kw=dict(size=(5, 3), align_corners=False), id="size"),
       C((2, 1, 3, 3), kw=dict(scale_factor=(1.5, 2.0), align_corners=True), id="scale-align"),
       C((1, 1, 4, 5), kw=dict(scale_factor=0.6), id="down-default")]),
    S("nn_interpolate_area",
      both(lambda m, x, **k: _f(m).interpolate(x, mode="area", **k)),
      [C((2, 2, 7), kw=dict(size=3), id="1d"), C((1, 2, 5, 4), kw=dict(size=(2, 3)), id="2d"),
       C((1, 1, 4, 5, 3), kw=dict(scale_factor=0.5), id="3d")]),
)

# ------------------------------------------------------------------- 3-D --
DEPTH_OPS = ("depth_unfold", "depth_fold", "conv2d", "conv_transpose2d", "conv2d_weight")
add(
    S("nn_conv3d", both(lambda m, x, w, b=None, **k: _f(m).conv3d(x, w, b, **k)),
      [C((2, 2, 3, 4, 3), (3, 2, 2, 3, 2), (3,), id="basic"),
       C((1, 4, 4, 3, 5), (4, 2, 3, 2, 2), kw=dict(stride=(2, 1, 2), padding=(1, 0, 1),
                                                  dilation=(1, 2, 1), groups=2), id="geometry"),
       C((2, 3, 3, 3), (2, 2, 2, 1, 2), kw=dict(padding="same"), id="unbatched-same")],
      ops=DEPTH_OPS),
    S("nn_conv_transpose3d",
      both(lambda m, x, w, b=None, **k: _f(m).conv_transpose3d(x, w, b, **k)),
      [C((1, 2, 2, 3, 2), (2, 3, 3, 2, 2), (3,), kw=dict(stride=2, padding=1, output_padding=1),
         id="strided"),
       C((2, 4, 2, 2, 3), (4, 1, 2, 2, 3), kw=dict(groups=2, dilation=(3, 1, 1),
                                                  output_padding=(2, 0, 0)), id="grouped-dilated"),
       C((2, 2, 2, 2), (2, 2, 2, 2, 1), id="unbatched")],
      ops=DEPTH_OPS),
    S("nn_max_pool3d", both(lambda m, x, **k: _f(m).max_pool3d(x, **k)),
      [C((1, 2, 4, 4, 5), kw=dict(kernel_size=2), id="blocks"),
       C((1, 1, 5, 4, 5), kw=dict(kernel_size=(2, 3, 2), stride=(1, 2, 2), padding=(1, 1, 0),
                                  dilation=(2, 1, 1), ceil_mode=True), id="geometry"),
       C((2, 3, 3, 4), kw=dict(kernel_size=2, stride=1), id="unbatched")],
      domain=NO_TIES, ops=("depth_unfold", "max_pool2d")),
    S("nn_max_pool3d_indices",
      both(lambda m, x, **k: _f(m).max_pool3d(x, return_indices=True, **k)),
      [C((1, 2, 5, 4, 5), kw=dict(kernel_size=3, stride=2, padding=1, ceil_mode=True))],
      domain=NO_TIES),
    S("nn_avg_pool3d", both(lambda m, x, **k: _f(m).avg_pool3d(x, **k)),
      [C((1, 2, 4, 4, 2), kw=dict(kernel_size=2), id="blocks"),
       C((1, 1, 5, 4, 5), kw=dict(kernel_size=3, stride=2, padding=1, ceil_mode=True),
         id="padded-ceil"),
       C((1, 1, 5, 4, 5), kw=dict(kernel_size=3, stride=2, padding=1, count_include_pad=False,
                                  ceil_mode=True), id="exclude-pad"),
       C((1, 3, 3, 3), kw=dict(kernel_size=2, stride=1, divisor_override=3), id="divisor")],
      ops=("depth_unfold", "window_sum")),
    S("nn_adaptive_avg_pool3d", both(lambda m, x, **k: _f(m).adaptive_avg_pool3d(x, **k)),
      [C((1, 2, 5, 4, 3), kw=dict(output_size=(3, 2, None)), id="uneven"),
       C((2, 4, 4, 2), kw=dict(output_size=1), id="global-unbatched")]),
    S("nn_adaptive_max_pool3d",
      both(lambda m, x, **k: _f(m).adaptive_max_pool3d(x, return_indices=True, **k)),
      [C((1, 2, 5, 4, 3), kw=dict(output_size=(3, 2, 2)), id="uneven"),
       C((2, 3, 4, 4), kw=dict(output_size=2), id="unbatched")], domain=NO_TIES),
)


# ---------------------------------------------------------------- unpooling --
def _unpool(m, x, y, nd, **k):
    """max_unpool of ``x`` at the maxima positions of a max pool of ``y`` (no grad)."""
    pool, unpool = getattr(_f(m), f"max_pool{nd}d"), getattr(_f(m), f"max_unpool{nd}d")
    _, idx = pool(y, k["kernel_size"], k.get("stride"), k.get("padding", 0), return_indices=True)
    return unpool(x, idx, **k)


add(
    S("nn_max_unpool",
      both(lambda m, x, y, nd, **k: _unpool(m, x, y, nd, **k)),
      [C((2, 2, 3), F((2, 2, 7), grad=False), 1, kw=dict(kernel_size=2, output_size=(7,)),
         id="1d"),
       C((1, 2, 3, 2), F((1, 2, 6, 4), grad=False), 2,
         kw=dict(kernel_size=3, stride=2, padding=1, output_size=(6, 4)), id="2d-overlapping",
         fd=False),  # two windows may share a maximum: PyTorch's gradient reads it for both
       C((2, 2, 2), F((2, 5, 4), grad=False), 2, kw=dict(kernel_size=2, output_size=(5, 4)),
         id="2d-unbatched-size"),
       C((1, 1, 2, 2, 1), F((1, 1, 4, 4, 3), grad=False), 3, kw=dict(kernel_size=(2, 2, 3)),
         id="3d")],
      domain=NO_TIES),
)


# ---------------------------------------------------------------------- CTC --
# PyTorch's CTC gradient is the logits' gradient through a log_softmax (see ops/ctc.py),
# so the finite-difference cases feed log_softmax outputs; the raw cases compare with
# PyTorch only. Not differentiable twice (as PyTorch): no second-order check.
CTC_TARGETS = IV([[1, 2, 2], [3, 1, 1], [2, 1, 3]])


def _ctc(m, x, targets, input_lengths, target_lengths, **k):
    return _f(m).ctc_loss(x.log_softmax(-1), targets, input_lengths, target_lengths, **k)


add(
    S("nn_ctc_loss", both(_ctc),
      [C((6, 3, 5), CTC_TARGETS, L([6, 5, 6]), L([3, 1, 2])),
       C((6, 3, 5), CTC_TARGETS, L([6, 5, 6]), L([3, 0, 2]), kw=dict(reduction="sum", blank=4),
         id="sum-empty-target"),
       C((5, 3, 4), IV([1, 2, 2, 3, 2, 1]), IV([5, 4, 5]), IV([3, 1, 2]),
         kw=dict(reduction="none"), id="concatenated-targets"),
       C((4, 3, 4), CTC_TARGETS, L([3, 4, 4]), L([3, 1, 2]),
         kw=dict(reduction="none", zero_infinity=True), id="zero-infinity"),
       C((5, 4), IV([1, 2, 2]), IV(5), IV(3), id="unbatched")],
      smooth=False, ops=("ctc_loss", "ctc_loss_backward"),
      torch_second="PyTorch has no double backward for _ctc_loss_backward"),
    S("nn_ctc_loss_raw",
      both(lambda m, x, t, il, tl, **k: _f(m).ctc_loss(x, t, il, tl, **k)),
      [C(F((6, 3, 5), domain=(-3.0, -0.1)), CTC_TARGETS, L([6, 5, 6]), L([3, 1, 2]), fd=False),
       C(F((6, 3, 5), domain=(-3.0, -0.1)), CTC_TARGETS, L([6, 4, 6]), L([3, 1, 2]),
         kw=dict(reduction="sum"), fd=False, id="sum")],
      smooth=False),
)
