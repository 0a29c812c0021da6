"""Op specs for the ops of chainrule/ops/{search,scans,products,structure}.py and the
nn.functional additions (pixel_shuffle, fold/unfold, padding modes, shrinkage, lp_pool,
local_response_norm, rms_norm, the triplet and multi-margin losses …).

Every differentiable case is checked against PyTorch (values and gradients, float32 and
float64), against finite differences, and, for smooth ops, at second order.
"""
from __future__ import annotations

import math

from harness import C, F, IV, L, POS, S, V, away_from, both, distinct

NO_TIES = distinct()
SPECS = []


def add(*specs):
    SPECS.extend(specs)


def _f(m):
    return m.nn.functional


# ----------------------------------------------------------- search & bins --
SORTED = V([-1.5, -0.5, 0.0, 0.5, 2.0], grad=False)
add(
    S("searchsorted", both(lambda m, s, v, sorter=None, **k: m.searchsorted(s, v, sorter=sorter, **k)),
      [C(SORTED, V([-2.0, -0.5, 0.25, 2.0, 3.0], grad=False)),
       C(SORTED, V([[-0.5, 0.5], [2.0, -9.0]], grad=False), kw=dict(right=True), id="right"),
       C(SORTED, V([0.0, 0.5], grad=False), kw=dict(side="right", out_int32=True), id="side-int32"),
       C(V([[0.0, 1.0, 2.0], [-1.0, 5.0, 6.0]], grad=False), V([[1.0, 1.5], [5.0, -3.0]], grad=False),
         id="batched"),
       C(V([2.0, 0.0, 1.0], grad=False), V([0.5, 1.0], grad=False), IV([1, 2, 0]), id="sorter"),
       C(SORTED, 0.25, id="scalar")], grad=False),
    S("bucketize", both(lambda m, v, b, **k: m.bucketize(v, b, **k)),
      [C(V([[-2.0, 0.0], [0.5, 9.0]], grad=False), SORTED),
       C(V([-0.5, 0.5, 1.0], grad=False), SORTED, kw=dict(right=True, out_int32=True))],
      grad=False),
    S("histc", both(lambda m, x, **k: m.histc(x, **k)),
      [C(F((50,), grad=False), kw=dict(bins=7, min=-1.5, max=1.0)),
       C(F((4, 6), grad=False), kw=dict(bins=5), id="data-range"),
       C(V([1.0, 1.0, 1.0], grad=False), kw=dict(bins=4), id="equal-values"),
       C(V([0.0, 1.0, 3.0, 3.0, float("nan"), -1.0], grad=False), kw=dict(bins=3, min=0, max=3),
         id="edges-nan")], grad=False),
)

# ------------------------------------------------------------------ scans --
add(
    S("cummax", both(lambda m, x, d: tuple(m.cummax(x, d))),
      [C((6,), 0), C((3, 5), 1), C((4, 3), -2), C((), 0)], domain=NO_TIES, smooth=False),
    S("cummin", both(lambda m, x, d: tuple(x.cummin(d))),
      [C((6,), 0), C((2, 3, 4), 2)], domain=NO_TIES, smooth=False),
    S("cummax_ties_nan", both(lambda m, x: tuple(m.cummax(x, 0)) + tuple(m.cummin(x, 0))),
      [C(V([1.0, 3.0, 3.0, 2.0, float("nan"), 5.0, float("nan")], grad=False))], grad=False),
    S("logcumsumexp", both(lambda m, x, d: m.logcumsumexp(x, d)),
      [C((7,), 0), C((3, 4), 1), C((4, 3), 0), C(V([-50.0, 30.0, 31.0, -2.0]), 0, id="spread")],
      ops=("logcumsumexp",)),
)

# --------------------------------------------------------------- products --
add(
    S("einsum", both(lambda m, eq, *xs: m.einsum(eq, *xs)),
      [C("ij,jk->ik", (2, 3), (3, 4), id="mm"),
       C("bij,bjk->bik", (2, 2, 3), (2, 3, 2), id="bmm"),
       C("bhqd,bhkd->bhqk", (2, 2, 3, 4), (2, 2, 5, 4), id="attention"),
       C("ii->i", (3, 3), id="diagonal"),
       C("ii", (3, 3), id="trace"),
       C("iij->j", (2, 2, 3), id="diag-sum"),
       C("ij->", (2, 3), id="sum"),
       C("ij->ji", (2, 3), id="transpose"),
       C("i,j->ij", (3,), (4,), id="outer"),
       C("ij,ij->ij", (2, 3), (2, 3), id="hadamard"),
       C("ij,ij->", (2, 3), (2, 3), id="dot"),
       C("ij,jk", (2, 3), (3, 2), id="implicit"),
       C("ba,b", (3, 2), (3,), id="implicit-order"),
       C("...ij,...jk->...ik", (1, 2, 3), (2, 3, 2), id="ellipsis-broadcast"),
       C("...j,j", (2, 3, 4), (4,), id="ellipsis-implicit"),
       C("ij,jk,kl->il", (2, 3), (3, 4), (4, 2), id="chain"),
       C("ijk,k,j->i", (2, 3, 4), (4,), (3,), id="three-reduce"),
       C("i,i,i->i", (3,), (3,), (3,), id="triple-product"),
       C("bi,bj->bij", (2, 3), (2, 2), id="batched-outer")]),
    S("einsum_list_sublist",
      both(lambda m, x, y: (m.einsum("ij,jk", [x, y]), m.einsum(x, [0, 1], y, [1, 2], [0, 2]))),
      [C((2, 3), (3, 2))]),
    S("kron", both(lambda m, a, b: m.kron(a, b)),
      [C((2, 3), (2, 2)), C((2,), (3, 2, 2), id="ranks"), C((2, 1, 2), (1, 3, 2), id="3d")]),
    S("trace", both(lambda m, x: m.trace(x)), [C((3, 4)), C((3, 3))]),
    S("trace_int", both(lambda m, x: x.trace()), [C(IV([[1, 2], [3, 4]]))], grad=False),
    S("cdist", both(lambda m, a, b, **k: m.cdist(a, b, **k)),
      [C((4, 3), (5, 3)), C((2, 3, 2), (2, 4, 2), kw=dict(p=1.0), id="p1"),
       C((3, 2), (4, 2), kw=dict(p=3.0), id="p3"), C((3, 2), (2, 2), kw=dict(p=math.inf), id="pinf"),
       C((1, 3, 2), (2, 4, 2), id="broadcast-batch")], domain=NO_TIES,
      torch_second="PyTorch has no double backward for _cdist_backward"),
    S("cdist_p0", both(lambda m, a, b: m.cdist(a, b, p=0.0)),
      [C(V([[0.0, 1.0], [1.0, 1.0]]), V([[0.0, 1.0], [2.0, 1.0], [0.0, 0.0]]))], grad=False),
    S("addbmm", both(lambda m, i, a, b, **k: m.addbmm(i, a, b, **k)),
      [C((3, 4), (2, 3, 5), (2, 5, 4)), C((4,), (2, 3, 5), (2, 5, 4), kw=dict(beta=0.5, alpha=2.0),
                                          id="scaled")]),
    S("addmv_addr", both(lambda m, i, a, v, j, u, w: (m.addmv(i, a, v, beta=2.0), i.addmv(a, v),
                                                      m.addr(j, u, w, alpha=0.5), j.addr(u, w))),
      [C((3,), (3, 4), (4,), (3, 2), (3,), (2,))]),
    S("addmm_baddbmm_methods",
      both(lambda m, i, a, b, j, p, q: (i.addmm(a, b, alpha=2.0), j.baddbmm(p, q, beta=0.5))),
      [C((2, 4), (2, 3), (3, 4), (2, 2, 2), (2, 2, 3), (2, 3, 2))]),
    S("addcmul_addcdiv",
      both(lambda m, x, a, b: (m.addcmul(x, a, b), x.addcmul(a, b, value=0.5),
                               m.addcdiv(x, a, b, value=-2.0), x.addcdiv(a, b))),
      [C((2, 3), (2, 3), F((3,), domain=POS)), C((3,), (2, 1), F((2, 3), domain=POS), id="broadcast")]),
)

# -------------------------------------------------------------- structure --
add(
    S("diag_embed", both(lambda m, x, *a, **k: m.diag_embed(x, *a, **k)),
      [C((2, 3)), C((3,), 1, id="offset"), C((2, 3), -1, 0, 2, id="dims"),
       C((2, 3), kw=dict(offset=2, dim1=-1, dim2=0), id="dims-reversed")]),
    S("block_diag", both(lambda m, *xs: m.block_diag(*xs)),
      [C((2, 3), (1,), (), (2, 2)), C((2,), id="one")]),
    S("block_diag_mixed", both(lambda m, a, b: m.block_diag(a, b)),
      [C(IV([[1, 2]]), V([[0.5], [1.5]], grad=False)), C(IV([3]), IV([[1], [2]]))], grad=False),
    S("cartesian_prod", both(lambda m, *xs: m.cartesian_prod(*xs)),
      [C((2,), (3,)), C((2,), (2,), (2,), id="three"), C((3,), id="one")]),
    S("combinations", both(lambda m, x, *a, **k: m.combinations(x, *a, **k)),
      [C((4,)), C((4,), 3, id="r3"), C((3,), kw=dict(with_replacement=True), id="replacement"),
       C((2,), 3, id="empty"), C((3,), 1, id="r1")]),
    # PyTorch 2.13's vander cannot be differentiated (its backward meets its own in-place
    # cumprod): values against PyTorch, gradients against finite differences only
    S("vander", both(lambda m, x, **k: m.vander(x, **k)),
      [C(F((3,), grad=False)), C(F((4,), grad=False), kw=dict(N=3, increasing=True), id="increasing"),
       C(F((2,), grad=False), kw=dict(N=5), id="wide")], grad=False),
    S("vander_grad", both(lambda m, x, **k: m.vander(x, **k)),
      [C((3,), torch=False), C((4,), kw=dict(N=3, increasing=True), torch=False, id="increasing")]),
    S("vander_int", both(lambda m, x, **k: m.vander(x, **k)),
      [C(IV([1, 2, 3])), C(IV([2, -1]), kw=dict(N=1), id="N1")], grad=False),
    S("rot90", both(lambda m, x, *a: m.rot90(x, *a)),
      [C((2, 3)), C((2, 3, 4), 1, [1, 2], id="dims"), C((2, 3), -1, id="k-1"), C((2, 3), 2, id="k2"),
       C((2, 3), 3, [1, 0], id="k3"), C((2, 3), 4, id="k4")]),
    S("nan_to_num", both(lambda m, x, *a, **k: m.nan_to_num(x, *a, **k)),
      [C(V([float("nan"), float("inf"), -float("inf"), 1.5, -0.25])),
       C(V([float("nan"), float("inf"), -float("inf"), 1.5]), 2.0, 3.0, -4.0, id="given"),
       C((2, 3), kw=dict(posinf=1.0), id="finite")]),
    S("nan_to_num_int", both(lambda m, x: m.nan_to_num(x)), [C(IV([1, 2]))], grad=False),
    S("triangle_indices", both(lambda m, r, c, o=0: (m.tril_indices(r, c, o), m.triu_indices(r, c, o))),
      [C(3, 4), C(3, 4, 1), C(4, 2, -1), C(0, 3)], grad=False),
    S("repeat_interleave_tensor",
      both(lambda m, x, r, *a, **k: m.repeat_interleave(x, r, *a, **k)),
      [C((3, 4), IV([1, 0, 2]), 0), C((2, 3), IV([2, 1, 3]), 1, id="dim1"),
       C((2, 2), IV([2]), id="flat-one"), C((2, 2), IV([1, 2, 0, 1]), id="flat"),
       C((3,), IV([1, 2, 1]), 0, kw=dict(output_size=4), id="output-size")]),
    S("repeat_interleave_counts", both(lambda m, r: m.repeat_interleave(r)),
      [C(IV([1, 0, 3])), C(IV([]), id="empty")], grad=False),
)

# ------------------------------------------------------ nn.functional: pixels --
add(
    S("nn_pixel_shuffle", both(lambda m, x, r: _f(m).pixel_shuffle(x, r)),
      [C((1, 8, 2, 3), 2), C((2, 9, 2, 2), 3, id="r3"), C((4, 2, 3), 2, id="unbatched"),
       C((2, 1, 4, 1, 1), 2, id="5d")]),
    S("nn_pixel_unshuffle", both(lambda m, x, r: _f(m).pixel_unshuffle(x, r)),
      [C((1, 2, 4, 6), 2), C((3, 6, 3), 3, id="unbatched"), C((2, 1, 1, 2, 2), 2, id="5d")]),
    S("nn_channel_shuffle", both(lambda m, x, g: _f(m).channel_shuffle(x, g)),
      [C((2, 6, 2, 2), 3), C((1, 4, 3), 2, id="3d")]),
    S("nn_unfold", both(lambda m, x, **k: _f(m).unfold(x, **k)),
      [C((2, 3, 4, 5), kw=dict(kernel_size=2)),
       C((1, 2, 5, 6), kw=dict(kernel_size=(2, 3), dilation=(2, 1), padding=1, stride=(1, 2)),
         id="geometry"),
       C((2, 4, 4), kw=dict(kernel_size=3, padding=1), id="unbatched")]),
    S("nn_fold", both(lambda m, x, **k: _f(m).fold(x, **k)),
      [C((2, 12, 12), kw=dict(output_size=(4, 5), kernel_size=2)),
       C((1, 12, 9), kw=dict(output_size=(5, 6), kernel_size=(2, 3), dilation=(2, 1), padding=1,
                             stride=(2, 2)), id="geometry"),
       C((18, 16), kw=dict(output_size=4, kernel_size=3, padding=1), id="unbatched")]),
    S("nn_pad_modes_3d", both(lambda m, x, mode: _f(m).pad(x, (1, 2, 0, 1, 2, 1), mode=mode)),
      [C((1, 2, 3, 3, 4), "reflect"), C((2, 3, 3, 4), "replicate", id="replicate"),
       C((1, 1, 3, 2, 3), "circular", id="circular")]),
)

# ------------------------------------------- nn.functional: activations etc. --
SHRINK = away_from([-0.5, 0.5, -0.3, 0.3])
add(
    S("nn_hardshrink_softshrink",
      both(lambda m, x: (_f(m).hardshrink(x), _f(m).softshrink(x), _f(m).softshrink(x, 0.3),
                         _f(m).hardshrink(x, lambd=0.3))),
      [C((3, 4)), C((6,))], domain=SHRINK),
    S("nn_rrelu_eval", both(lambda m, x: (_f(m).rrelu(x), _f(m).rrelu(x, 0.1, 0.4, training=False))),
      [C((3, 4))], domain=away_from([0.0])),
    S("nn_lp_pool", both(lambda m, x, p, k, **kw: (_f(m).lp_pool2d(x, p, k, **kw) if x.ndim == 4
                                                  else _f(m).lp_pool1d(x, p, k, **kw))),
      [C((1, 2, 4, 5), 2, 2), C(F((2, 2, 5, 4), domain=POS), 3.0, L((2, 3)), kw=dict(stride=1), id="p3"),
       C((2, 3, 7), 2, 3, kw=dict(stride=2, ceil_mode=True), id="1d-ceil"),
       C(F((1, 2, 4, 4), domain=POS), 1.5, 2, id="p1.5")], domain=away_from([0.0])),
    S("nn_lp_pool_inf", both(lambda m, x: _f(m).lp_pool2d(x, math.inf, 2)),
      [C((1, 2, 4, 4))], domain=NO_TIES, smooth=False),
    S("nn_local_response_norm", both(lambda m, x, *a, **k: _f(m).local_response_norm(x, *a, **k)),
      [C((2, 5, 3), 3), C((1, 4, 3, 2), 2, kw=dict(alpha=0.5, beta=0.6, k=2.0), id="4d"),
       C((1, 3, 2, 2, 2), 4, kw=dict(alpha=1.0), id="5d")]),
    S("nn_rms_norm", both(lambda m, x, shape, w=None, **k: _f(m).rms_norm(x, shape, w, **k)),
      [C((2, 3, 4), [4], (4,)), C((2, 3, 4), L((3, 4)), kw=dict(eps=1e-3), id="2dims"),
       C((3, 5), [5], id="no-weight")]),
    S("nn_instance_norm", both(lambda m, x, w, b: _f(m).instance_norm(x, weight=w, bias=b)),
      [C((2, 3, 4), (3,), (3,)), C((2, 2, 3, 3), (2,), (2,), id="2d")]),
    S("nn_instance_norm_running",
      both(lambda m, x, rm, rv: _f(m).instance_norm(x, rm, rv, use_input_stats=False)),
      [C((2, 3, 4), V([0.1, -0.2, 0.3], grad=False), V([1.5, 0.5, 2.0], grad=False))]),
    S("nn_pdist", both(lambda m, x, *a: _f(m).pdist(x, *a)),
      [C((4, 3)), C((5, 2), 1.0, id="p1"), C((3, 4), 3.0, id="p3"), C((1, 3), id="one-row")],
      domain=NO_TIES, torch_second="PyTorch has no double backward for _pdist_backward"),
)

# ------------------------------------------------------ nn.functional: losses --
add(
    S("nn_triplet_margin_loss",
      both(lambda m, a, pos, neg, **k: _f(m).triplet_margin_loss(a, pos, neg, **k)),
      [C((4, 3), (4, 3), (4, 3)), C((4, 3), (4, 3), (4, 3), kw=dict(margin=0.5, p=1, swap=True,
                                                                    reduction="none"), id="swap"),
       C((3,), (3,), (3,), kw=dict(reduction="sum", margin=3.0), id="1d")]),
    S("nn_triplet_with_distance",
      both(lambda m, a, pos, neg, **k: _f(m).triplet_margin_with_distance_loss(
          a, pos, neg, distance_function=lambda x, y: 1 - _f(m).cosine_similarity(x, y), **k)),
      [C((4, 3), (4, 3), (4, 3), kw=dict(margin=1.5)),
       C((4, 3), (4, 3), (4, 3), kw=dict(swap=True, reduction="none"), id="swap")]),
    S("nn_multi_margin_loss",
      both(lambda m, x, t, w=None, **k: _f(m).multi_margin_loss(x, t, weight=w, **k)),
      [C((4, 5), IV([0, 3, 4, 1])), C((4, 5), IV([2, 2, 0, 1]), kw=dict(p=2, margin=0.5), id="p2"),
       C((3, 4), IV([1, 0, 3]), F((4,), grad=False), kw=dict(reduction="none"), id="weight"),
       C((5,), IV(2), kw=dict(reduction="sum"), id="1d")], domain=(-0.4, 0.4),
      torch_second="PyTorch has no double backward for multi_margin_loss_backward"),
    S("nn_multilabel_soft_margin_loss",
      both(lambda m, x, t, w=None, **k: _f(m).multilabel_soft_margin_loss(x, t, weight=w, **k)),
      [C((3, 4), V([[1.0, 0, 1, 0], [0, 0, 0, 1], [1, 1, 1, 1]], grad=False)),
       C((2, 3), V([[1.0, 0, 1], [0, 1, 0]], grad=False), (3,), kw=dict(reduction="none"),
         id="weight")]),
    S("nn_multilabel_margin_loss",
      both(lambda m, x, t, **k: _f(m).multilabel_margin_loss(x, t, **k)),
      [C((2, 4), IV([[3, 0, -1, 1], [1, 2, 3, -1]])),
       C((4,), IV([2, 2, -1, 0]), kw=dict(reduction="none"), id="1d-repeat")], domain=(-0.4, 0.4),
      torch_second="PyTorch has no double backward for multilabel_margin_loss_backward"),
)
