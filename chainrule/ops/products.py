"""Products built from matmul and broadcasting: einsum, kron, trace, cdist, and the fused
``add*`` family (addbmm, addmv, addr, addcmul, addcdiv; addmm and baddbmm as methods).

Each is a composition of differentiable ops (permute, reshape, matmul, mul, sum …), so each
has first and higher derivatives through those ops' rules and no rule of its own.

``einsum`` contracts its operands two at a time: a letter repeated inside one operand is
its diagonal; a letter only one operand has and the output lacks is summed out at once;
each pair is then one batched matmul over (shared kept letters, left letters, contracted
letters) × (…, contracted, right) — never the full outer product.

>>> import chainrule as cr
>>> a, b = cr.ones(2, 3), cr.ones(3, 4)
>>> cr.einsum("ij,jk->ik", a, b).shape
chainrule.Size([2, 4])
>>> cr.kron(cr.eye(2), cr.ones(2, 2)).shape
chainrule.Size([4, 4])
>>> cr.trace(cr.eye(3))
tensor(3.)
"""
from __future__ import annotations

import math
import numbers

from .._args import ArgumentError, index_value, tensor_value
from ..errors import DTypeError, ShapeError, op_error
from ..tensor import Tensor
from ._operands import tensor_method
from .linalg import _broadcasts_to, _matrices, addmm, baddbmm, matmul

__all__ = ["einsum", "kron", "trace", "cdist", "addbmm", "addmv", "addr", "addcmul", "addcdiv"]

_LETTERS = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"


# ------------------------------------------------------------------ einsum --
def _parse(equation: str, operands: list) -> tuple[list[str], str]:
    """Subscripts per operand and the output's, with '...' spelled out as letters that no
    subscript uses (one per broadcast dim, aligned from the right)."""
    eq = equation.replace(" ", "")
    lhs, arrow, rhs = eq.partition("->")
    terms = lhs.split(",")
    if len(terms) != len(operands):
        raise op_error(ShapeError, "einsum", f"the equation {equation!r} names {len(terms)} "
                       f"operand(s), got {len(operands)}")
    used = set(c for c in eq if c.isalpha())
    bad = set(eq) - set(_LETTERS) - set(",.->")
    if bad:
        raise op_error(ArgumentError, "einsum", f"invalid subscript(s) {sorted(bad)} in {equation!r}; "
                       "subscripts must be letters")
    spare = [c for c in _LETTERS if c not in used]
    widest = 0
    for term, x in zip(terms, operands):
        if "..." in term:
            widest = max(widest, x.ndim - (len(term) - 3))
    ell = "".join(spare[:widest])
    subs = []
    for k, (term, x) in enumerate(zip(terms, operands)):
        if "..." in term:
            n = x.ndim - (len(term) - 3)
            if n < 0:
                raise op_error(ShapeError, "einsum", f"operand {k} has {x.ndim} dims, fewer than "
                               f"the subscripts {term!r} name")
            term = term.replace("...", ell[widest - n:])
        if "." in term or len(term) != x.ndim:
            raise op_error(ShapeError, "einsum", f"the subscripts {terms[k]!r} of operand {k} do "
                           f"not match its {x.ndim} dims (shape {tuple(x.shape)})")
        subs.append(term)
    if arrow:
        if rhs.count("...") > 1 or "." in rhs.replace("...", ""):
            raise op_error(ArgumentError, "einsum", f"invalid output subscripts {rhs!r}")
        out = rhs.replace("...", ell)
        missing = [c for c in out if not any(c in s for s in subs)]
        if missing or len(set(out)) != len(out):
            raise op_error(ArgumentError, "einsum", f"output subscripts {rhs!r} must each appear "
                           "once and in some operand")
    else:  # implicit: the broadcast dims, then the letters seen once, in alphabetical order
        counts = {}
        for s in subs:
            for c in s:
                counts[c] = counts.get(c, 0) + 1
        out = ell + "".join(sorted((c for c, n in counts.items() if n == 1 and c not in ell),
                                   key=_LETTERS.index))
    return subs, out


def _distinct(x: Tensor, sub: str) -> tuple[Tensor, str]:
    """Take the diagonal of every letter that ``sub`` repeats, so each letter appears once."""
    while len(set(sub)) != len(sub):
        c = next(c for c in sub if sub.count(c) > 1)
        i = sub.index(c)
        j = sub.index(c, i + 1)
        if x.shape[i] != x.shape[j]:
            raise op_error(ShapeError, "einsum", f"subscript {c!r} is repeated for dims of sizes "
                           f"{x.shape[i]} and {x.shape[j]}")
        x = x.diagonal(0, i, j)  # the diagonal becomes the last dim
        sub = sub[:i] + sub[i + 1:j] + sub[j + 1:] + c
    return x, sub


def _sum_letters(x: Tensor, sub: str, letters) -> tuple[Tensor, str]:
    dims = [i for i, c in enumerate(sub) if c in letters]
    if not dims:
        return x, sub
    return x.sum(dim=tuple(dims)), "".join(c for c in sub if c not in letters)


def _order(x: Tensor, sub: str, letters: str) -> Tensor:
    """``x`` (subscripts ``sub``) permuted to ``letters``; letters it lacks become size-1 dims."""
    have = [c for c in letters if c in sub]
    x = x.permute(*[sub.index(c) for c in have]) if have else x
    shape = [x.shape[have.index(c)] if c in sub else 1 for c in letters]
    return x.reshape(tuple(shape))


def _contract(a: Tensor, sa: str, b: Tensor, sb: str, keep: set) -> tuple[Tensor, str]:
    """Contract two operands, keeping the letters in ``keep``: one batched matmul."""
    size = {}
    for x, s in ((a, sa), (b, sb)):
        for c, n in zip(s, x.shape):
            if size.get(c, 1) != n and n != 1 and size.get(c, 1) != 1:
                raise op_error(ShapeError, "einsum", f"subscript {c!r} has size {size[c]} in one "
                               f"operand and {n} in another (they must match or be 1)")
            size[c] = max(size.get(c, 1), n) if c in size else n
    batch = "".join(c for c in sa if c in sb and c in keep)
    summed = [c for c in sa if c in sb and c not in keep]
    # a summed letter of size 1 in one operand broadcasts: sum it out of the other first
    for c in summed:
        if a.shape[sa.index(c)] != b.shape[sb.index(c)]:
            if a.shape[sa.index(c)] == 1:
                b = b.sum(sb.index(c), keepdim=True)
            else:
                a = a.sum(sa.index(c), keepdim=True)
    inner = "".join(summed)
    left = "".join(c for c in sa if c not in sb)
    right = "".join(c for c in sb if c not in sa)
    am = _order(a, sa, batch + left + inner)
    bm = _order(b, sb, batch + inner + right)
    nb = len(batch)
    lsize = math.prod(am.shape[nb + i] for i in range(len(left)))
    rsize = math.prod(bm.shape[nb + len(inner) + i] for i in range(len(right)))
    isize = math.prod(am.shape[nb + len(left) + i] for i in range(len(inner)))
    am = am.reshape(tuple(am.shape[:nb]) + (lsize, isize))
    bm = bm.reshape(tuple(bm.shape[:nb]) + (isize, rsize))
    prod = matmul(am, bm)
    shape = tuple(prod.shape[:nb]) + tuple(a.shape[sa.index(c)] for c in left) + \
        tuple(b.shape[sb.index(c)] for c in right)
    return prod.reshape(shape), batch + left + right


def _sublist_equation(args) -> tuple[str, list]:
    """einsum(op0, [0, 1], op1, [1, 2], [0, 2]): PyTorch's sublist form, as an equation."""
    def letters(sub):
        return "".join("..." if s is Ellipsis else _LETTERS[index_value(s, "einsum", "subscript")]
                       for s in sub)
    pairs = args[:len(args) - len(args) % 2]
    operands, terms = list(pairs[0::2]), [letters(sub) for sub in pairs[1::2]]
    equation = ",".join(terms)
    if len(args) % 2:  # an output sublist at the end
        equation += "->" + letters(args[-1])
    return equation, operands


def einsum(equation, *operands) -> Tensor:
    """Sum of products over the subscripts an equation names: ``einsum('bij,bjk->bik', x, y)``.

    Supports '...' broadcasting, repeated subscripts (diagonals), the implicit output, a
    list of operands and PyTorch's sublist form.

    >>> import chainrule as cr
    >>> cr.einsum("ij,j->i", cr.tensor([[1., 2.], [3., 4.]]), cr.tensor([1., 1.]))
    tensor([3., 7.])
    """
    if not isinstance(equation, str):
        equation, operands = _sublist_equation((equation,) + operands)
    elif len(operands) == 1 and isinstance(operands[0], (list, tuple)):
        operands = tuple(operands[0])
    operands = [tensor_value(x, "einsum", f"operand {k}") for k, x in enumerate(operands)]
    if not operands:
        raise op_error(ArgumentError, "einsum", "must provide at least one operand")
    dtypes = {x.dtype for x in operands}
    if len(dtypes) > 1:
        raise op_error(DTypeError, "einsum", "expected all operands to have the same dtype, got "
                       + ", ".join(x.dtype.name for x in operands))
    subs, out = _parse(equation, operands)
    items = [_distinct(x, s) for x, s in zip(operands, subs)]
    # letters needed later: the output's and those of operands not yet contracted
    x, sx = items[0]
    for k in range(len(items)):
        if k:
            y, sy = items[k]
            later = set(out).union(*[set(s) for _, s in items[k + 1:]])
            y, sy = _sum_letters(y, sy, set(sy) - later - set(sx))
            x, sx = _contract(x, sx, y, sy, later)
        else:
            later = set(out).union(*[set(s) for _, s in items[1:]])
            x, sx = _sum_letters(x, sx, set(sx) - later)
    if sorted(sx) != sorted(out):  # a single operand: what remains is the output, maybe less
        x, sx = _sum_letters(x, sx, set(sx) - set(out))
    return _order(x, sx, out) if sx != out else x


# -------------------------------------------------------------------- kron --
@tensor_method()
def kron(input: Tensor, other: Tensor) -> Tensor:
    """The Kronecker product: block (i, j, …) is ``input[i, j, …] * other``.

    >>> import chainrule as cr
    >>> cr.kron(cr.eye(2), cr.tensor([[1., 2.]]))
    tensor([[1., 2., 0., 0.],
            [0., 0., 1., 2.]])
    """
    tensor_value(input, "kron")
    tensor_value(other, "kron", "other")
    nd = max(input.ndim, other.ndim)
    a = input.reshape((1,) * (nd - input.ndim) + tuple(input.shape))
    b = other.reshape((1,) * (nd - other.ndim) + tuple(other.shape))
    inter_a, inter_b = [], []
    for s, t in zip(a.shape, b.shape):
        inter_a += [s, 1]
        inter_b += [1, t]
    prod = a.reshape(tuple(inter_a)) * b.reshape(tuple(inter_b))
    return prod.reshape(tuple(s * t for s, t in zip(a.shape, b.shape)))


@tensor_method()
def trace(input: Tensor) -> Tensor:
    """The sum of a 2-D tensor's main diagonal."""
    tensor_value(input, "trace")
    if input.ndim != 2:
        raise op_error(ShapeError, "trace", f"expected a matrix (2-D), got a {input.ndim}-D "
                       f"tensor of shape {tuple(input.shape)}")
    return input.diagonal().sum()  # (sum promotes integers to int64, as PyTorch's trace)


# ------------------------------------------------------------------- cdist --
def cdist(x1: Tensor, x2: Tensor, p: float = 2.0,
          compute_mode: str = "use_mm_for_euclid_dist_if_necessary") -> Tensor:
    """The p-norm distance between each row of ``x1`` (…, P, M) and each of ``x2`` (…, R, M):
    a (…, P, R) tensor (leading dims broadcast).

    >>> import chainrule as cr
    >>> cr.cdist(cr.tensor([[0., 0.]]), cr.tensor([[3., 4.], [0., 1.]]))
    tensor([[5., 1.]])
    """
    tensor_value(x1, "cdist", "x1")
    tensor_value(x2, "cdist", "x2")
    if x1.ndim < 2 or x2.ndim < 2:
        raise op_error(ShapeError, "cdist", f"expected x1 and x2 with at least 2 dims, got shapes "
                       f"{tuple(x1.shape)} and {tuple(x2.shape)}")
    if x1.shape[-1] != x2.shape[-1]:
        raise op_error(ShapeError, "cdist", f"x1 and x2 must have the same number of columns, got "
                       f"{x1.shape[-1]} and {x2.shape[-1]}")
    if not x1.is_floating_point() or not x2.is_floating_point():
        raise op_error(DTypeError, "cdist", f"expected floating-point inputs, got "
                       f"{x1.dtype.name} and {x2.dtype.name}")
    if not isinstance(p, numbers.Real) or p < 0:
        raise op_error(ArgumentError, "cdist", f"p value for the p-norm distance must be >= 0, got {p!r}")
    if compute_mode not in ("use_mm_for_euclid_dist_if_necessary", "use_mm_for_euclid_dist",
                            "donot_use_mm_for_euclid_dist"):
        raise op_error(ArgumentError, "cdist", f"{compute_mode!r} is not a valid compute_mode")
    diff = x1.unsqueeze(-2) - x2.unsqueeze(-3)
    if p == 0:
        return (diff != 0).to(x1.dtype).sum(-1)
    return diff.norm(p, dim=-1)


# ------------------------------------------------------------ the add* family --
def _scaled_sum(input, prod: Tensor, beta, alpha) -> Tensor:
    """``beta * input + alpha * prod``; with beta == 0 the input is ignored (NaN too)."""
    if alpha != 1:
        prod = prod * alpha
    if beta == 0:
        return prod
    return prod + (input if beta == 1 else input * beta)


@tensor_method()
def addbmm(input: Tensor, batch1: Tensor, batch2: Tensor, *, beta=1, alpha=1) -> Tensor:
    """``beta * input + alpha * sum_b(batch1[b] @ batch2[b])``.

    >>> import chainrule as cr
    >>> cr.addbmm(cr.zeros(2, 2), cr.ones(3, 2, 1), cr.ones(3, 1, 2))
    tensor([[3., 3.],
            [3., 3.]])
    """
    batch1, batch2 = _matrices(batch1, batch2, "addbmm")
    if batch1.ndim != 3 or batch2.ndim != 3 or batch1.shape[0] != batch2.shape[0] \
            or batch1.shape[2] != batch2.shape[1]:
        raise op_error(ShapeError, "addbmm", f"expects 3-D batches of one size and matching "
                       f"inner dims, got shapes {tuple(batch1.shape)} and {tuple(batch2.shape)}")
    prod = matmul(batch1, batch2).sum(0)
    _broadcasts_to(input, tuple(prod.shape), "addbmm")
    return _scaled_sum(input, prod, beta, alpha)


@tensor_method()
def addmv(input: Tensor, mat: Tensor, vec: Tensor, *, beta=1, alpha=1) -> Tensor:
    """``beta * input + alpha * (mat @ vec)``.

    >>> import chainrule as cr
    >>> cr.addmv(cr.ones(2), cr.eye(2), cr.tensor([2., 3.]), alpha=2)
    tensor([5., 7.])
    """
    mat, vec = _matrices(mat, vec, "addmv")
    if mat.ndim != 2 or vec.ndim != 1 or mat.shape[1] != vec.shape[0]:
        raise op_error(ShapeError, "addmv", f"expects a matrix and a vector of matching sizes, got "
                       f"shapes {tuple(mat.shape)} and {tuple(vec.shape)}")
    prod = matmul(mat, vec)
    _broadcasts_to(input, tuple(prod.shape), "addmv")
    return _scaled_sum(input, prod, beta, alpha)


@tensor_method()
def addr(input: Tensor, vec1: Tensor, vec2: Tensor, *, beta=1, alpha=1) -> Tensor:
    """``beta * input + alpha * outer(vec1, vec2)``.

    >>> import chainrule as cr
    >>> cr.addr(cr.zeros(2, 2), cr.tensor([1., 2.]), cr.tensor([3., 4.]))
    tensor([[3., 4.],
            [6., 8.]])
    """
    vec1, vec2 = _matrices(vec1, vec2, "addr")
    if vec1.ndim != 1 or vec2.ndim != 1:
        raise op_error(ShapeError, "addr", f"expects two vectors, got shapes {tuple(vec1.shape)} "
                       f"and {tuple(vec2.shape)}")
    prod = vec1.unsqueeze(1) * vec2.unsqueeze(0)
    _broadcasts_to(input, tuple(prod.shape), "addr")
    return _scaled_sum(input, prod, beta, alpha)


@tensor_method()
def addcmul(input: Tensor, tensor1: Tensor, tensor2: Tensor, *, value=1) -> Tensor:
    """``input + value * tensor1 * tensor2`` (broadcast).

    >>> import chainrule as cr
    >>> cr.addcmul(cr.ones(2), cr.tensor([1., 2.]), cr.tensor([3., 4.]), value=0.5)
    tensor([2.5000, 5.0000])
    """
    tensor_value(input, "addcmul")
    prod = tensor1 * tensor2
    return input + (prod * value if value != 1 else prod)


@tensor_method()
def addcdiv(input: Tensor, tensor1: Tensor, tensor2: Tensor, *, value=1) -> Tensor:
    """``input + value * tensor1 / tensor2`` (broadcast); integer division is refused.

    >>> import chainrule as cr
    >>> cr.addcdiv(cr.ones(2), cr.tensor([1., 2.]), cr.tensor([2., 8.]), value=2)
    tensor([2.0000, 1.5000])
    """
    tensor_value(input, "addcdiv")
    if not tensor1.is_floating_point() and not tensor2.is_floating_point():
        raise op_error(DTypeError, "addcdiv", "integer division with addcdiv is no longer "
                       "supported; use tensor1 / tensor2 (true division) or floor_divide")
    quot = tensor1 / tensor2
    return input + (quot * value if value != 1 else quot)


# methods PyTorch has that were functions only here
if not hasattr(Tensor, "addmm"):
    Tensor.addmm = addmm
if not hasattr(Tensor, "baddbmm"):
    Tensor.baddbmm = baddbmm
