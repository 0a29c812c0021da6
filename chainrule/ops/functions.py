"""The public functional names (``chainrule.exp``, ``chainrule.cat`` …), gathered from the
op families under PyTorch's names."""
from .conversion import clone, contiguous  # noqa: F401
from .elementwise import (  # noqa: F401
    abs_fn as abs, acos, add_fn as add, asin, atan, ceil, clamp, clamp_max, clamp_min, clip, cos,
    cosh, div_fn as div, erf, erfinv, exp, exp2, expm1, floor, floor_divide, fmax, fmin,
    fmod_fn as fmod, frac, lerp, log, log10, log1p, log2, maximum, minimum, mul_fn as mul,
    neg_fn as neg, pow_fn as pow, reciprocal, remainder_fn as remainder, round, rsqrt, sigmoid,
    sign, sin, sinh, sqrt, square, sub_fn as sub, tan, tanh, trunc,
)
from .comparison import (  # noqa: F401
    allclose, bitwise_and, bitwise_not, bitwise_or, bitwise_xor, eq, equal, ge, gt, isclose,
    isfinite, isinf, isnan, le, logical_and, logical_not, logical_or, logical_xor, lt, ne,
)
from .activations import elu, gelu, leaky_relu, relu, silu, softplus  # noqa: F401
from .elementwise import (  # noqa: F401
    div_fn as divide, div_fn as true_divide, mul_fn as multiply, sub_fn as subtract,
    neg_fn as negative, abs_fn as absolute, trunc as fix, acos as arccos, asin as arcsin,
    atan as arctan,
)
from .linalg import addmm, baddbmm, bmm, dot, inner, matmul, mm, mv, outer, tensordot  # noqa: F401
from .reduce import (  # noqa: F401
    all, any, count_nonzero, cumprod, cumsum, logsumexp, mean, nanmean, nansum, prod, std,
    std_mean, sum, var, var_mean,
)
from .norms import norm  # noqa: F401
from .minmax import amax, amin, aminmax, argmax, argmin, max, min  # noqa: F401
from .shape import (  # noqa: F401
    broadcast_shapes, broadcast_tensors, broadcast_to, flatten, flip, fliplr, flipud, movedim,
    moveaxis, permute, ravel, repeat_interleave, reshape, roll, squeeze, swapaxes, swapdims, t,
    tile, transpose, unflatten, unsqueeze,
)
from .join import (  # noqa: F401
    cat, chunk, concat, concatenate, hstack, narrow, select, split, stack, tensor_split, unbind,
    vstack,
)
from .softmax import log_softmax, softmax  # noqa: F401
from .diagonals import diag, diagonal, tril, triu, unfold  # noqa: F401
from .sorting import argsort, kthvalue, median, msort, sort, topk  # noqa: F401
from .._args import tensor_first as _tensor_first
from .indexing import (  # noqa: F401
    argwhere, gather, index_put, index_select, masked_fill, masked_select, nonzero, scatter, where,
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
