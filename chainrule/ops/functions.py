"""The public functional names (``chainrule.exp``, ``chainrule.cat`` …), gathered from the
op families under PyTorch's names."""
from .conversion import clone, contiguous  # noqa: F401
from .elementwise import (  # noqa: F401
    abs_fn as abs, acos, add_fn as add, allclose, asin, atan, bitwise_and, bitwise_not, bitwise_or,
    bitwise_xor, ceil, clamp, clamp_max, clamp_min, clip, cos, cosh, div_fn as div, elu, eq, equal,
    erf, erfinv, exp, exp2, expm1, floor, floor_divide, fmax, fmin, fmod_fn as fmod, frac, ge, gelu,
    gt, isclose, isfinite, isinf, isnan, le, leaky_relu, lerp, log, log10, log1p, log2, logical_and,
    logical_not, logical_or, logical_xor, lt, maximum, minimum, mul_fn as mul, ne, neg_fn as neg,
    pow_fn as pow, reciprocal, relu, remainder_fn as remainder, round, rsqrt, sigmoid, sign, silu,
    sin, sinh, softplus, sqrt, square, sub_fn as sub, tan, tanh, trunc, where,
)
from .elementwise import (  # noqa: F401
    div_fn as divide, div_fn as true_divide, mul_fn as multiply, sub_fn as subtract,
    neg_fn as negative, abs_fn as absolute, trunc as fix, acos as arccos, asin as arcsin,
    atan as arctan,
)
from .linalg import addmm, baddbmm, bmm, dot, inner, matmul, mm, mv, outer, tensordot  # noqa: F401
from .reduce import (  # noqa: F401
    all, amax, amin, aminmax, any, argmax, argmin, count_nonzero, cumprod, cumsum, logsumexp, max,
    mean, min, nanmean, nansum, norm, prod, std, std_mean, sum, var, var_mean,
)
from .shape import (  # noqa: F401
    broadcast_shapes, broadcast_tensors, broadcast_to, cat, chunk, concat, concatenate, flatten,
    flip, fliplr, flipud, hstack, movedim, moveaxis, narrow, permute, ravel, repeat_interleave,
    reshape, roll, select, split, squeeze, stack, swapaxes, swapdims, t, tensor_split, tile,
    transpose, unbind, unflatten, unsqueeze, vstack,
)
from .softmax import log_softmax, softmax  # noqa: F401
from .shape import diag, diagonal, tril, triu, unfold  # noqa: F401
from .sorting import argsort, kthvalue, median, msort, sort, topk  # noqa: F401
from .._args import tensor_first as _tensor_first
from .indexing import (  # noqa: F401
    argwhere, gather, index_put, index_select, masked_fill, masked_select, nonzero, scatter,
    scatter_add, take, take_along_dim,
)

# ops without a check of their own on their first argument: checked at this public layer
for _name in ("clone", "contiguous", "flatten", "flip", "fliplr", "flipud", "movedim", "moveaxis",
              "narrow", "permute", "ravel", "repeat_interleave", "reshape", "roll", "select",
              "split", "squeeze", "swapaxes", "swapdims", "t", "tensor_split", "tile", "transpose",
              "unbind", "unflatten", "unsqueeze", "broadcast_to", "chunk", "argwhere", "gather",
              "index_put", "index_select", "masked_fill", "masked_select", "nonzero", "scatter",
              "scatter_add", "take", "take_along_dim", "cumsum", "cumprod", "aminmax", "nanmean",
              "nansum", "outer", "softmax", "log_softmax", "diag", "diagonal", "tril", "triu",
              "argsort", "kthvalue", "median", "msort", "sort", "topk"):
    globals()[_name] = _tensor_first(globals()[_name])
del _name
from .search import *  # noqa: F401,F403,E402
from .scans import *  # noqa: F401,F403,E402
from .products import *  # noqa: F401,F403,E402
from .structure import *  # noqa: F401,F403,E402
