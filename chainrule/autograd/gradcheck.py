"""Check analytical gradients against central finite differences (PyTorch's semantics).

``gradcheck`` compares, for every float64 input that requires grad, the Jacobian
the engine computes (one vector-Jacobian product per output element) with the one
central differences give. ``fast_mode=True`` compares a single number per input
instead, ``vᵀ J u`` for random unit ``u`` and ``v`` (as PyTorch's fast gradcheck and
HIPS autograd's ``check_grads``): as strong against wrong rules, much cheaper.
``gradgradcheck`` runs ``gradcheck`` on the gradient itself (``create_graph=True``).

>>> import chainrule as cr
>>> x = cr.tensor([0.5, -1.0, 2.0], dtype=cr.float64, requires_grad=True)
>>> cr.autograd.gradcheck(lambda t: (t.sin() * t).sum(), (x,))
True
>>> cr.autograd.gradgradcheck(lambda t: t.sin() * t, (x,), fast_mode=True)
True
"""
from __future__ import annotations

from typing import Any, Callable, Sequence

from ..errors import DTypeError, op_error

__all__ = ["gradcheck", "gradgradcheck", "GradcheckError"]


class GradcheckError(RuntimeError):
    """The analytical and numerical gradients disagree (or backward misbehaves)."""


# ----------------------------------------------------------------- helpers --
def _as_tuple(x) -> tuple:
    from ..tensor import Tensor
    if isinstance(x, Tensor):
        return (x,)
    if isinstance(x, (list, tuple)):
        return tuple(x)
    return (x,)


def _is_tensor(x) -> bool:
    from ..tensor import Tensor
    return isinstance(x, Tensor)


def _diff_positions(inputs: tuple, who: str) -> list[int]:
    """Positions of the inputs that require grad; float64 is required of them."""
    positions = []
    for i, t in enumerate(inputs):
        if _is_tensor(t) and t.requires_grad:
            if t._data.dtype.name != "float64":
                raise op_error(DTypeError, who,
                               f"input {i} requires grad but has dtype {t.dtype.name}; finite "
                               "differences need float64 inputs: pass x.double() (or "
                               "cr.tensor(..., dtype=cr.float64))")
            positions.append(i)
    if not positions:
        raise op_error(ValueError, who, "no input requires grad: set requires_grad=True on the "
                       "float64 tensors to check")
    return positions


def _float_outputs(outputs: tuple) -> list[int]:
    return [k for k, o in enumerate(outputs) if _is_tensor(o) and o._data.dtype.kind in "fV"]


def _evaluate(func, inputs: tuple) -> tuple:
    """Outputs of ``func`` as host float64 arrays (float outputs only), recording nothing."""
    from .grad_mode import no_grad
    from ..backends import backend_of
    with no_grad():
        outs = _as_tuple(func(*inputs))
    return tuple(backend_of(outs[k]._data).to_host(outs[k]._data).astype("float64")
                 for k in _float_outputs(outs))


def _replace(inputs: tuple, i: int, array) -> tuple:
    from ..tensor import Tensor
    return inputs[:i] + (Tensor._make(array),) + inputs[i + 1:]


def _host(array):
    from ..backends import backend_of
    return backend_of(array).to_host(array)


def _fail(message: str, raise_exception: bool) -> bool:
    if raise_exception:
        raise GradcheckError(message)
    return False


def _vjp(outputs: tuple, float_ks: list[int], diff: list, vs: list) -> list:
    """``Jᵀ v`` for each differentiable input (None where unused), as host arrays."""
    from .engine import grad
    from ..tensor import Tensor
    roots, gos = [], []
    for k, v in zip(float_ks, vs):
        out = outputs[k]
        if out.requires_grad:
            roots.append(out)
            gos.append(Tensor._make(v.astype(out._data.dtype).reshape(out._data.shape)))
    if not roots:
        return [None] * len(diff)
    grads = grad(roots, diff, gos, retain_graph=True, allow_unused=True)
    return [None if g is None else _host(g._data) for g in grads]


def _check_grad_meta(grads, diff, positions, raise_exception) -> bool:
    for g, t, i in zip(grads, diff, positions):
        if g is not None and tuple(g.shape) != tuple(t._data.shape):
            return _fail(f"gradcheck: the gradient of input {i} has shape {tuple(g.shape)}, but the "
                         f"input has shape {tuple(t._data.shape)}", raise_exception)
    return True


# --------------------------------------------------------------- gradcheck --
def gradcheck(func: Callable[..., Any], inputs: Any, *, eps: float = 1e-6, atol: float = 1e-5,
              rtol: float = 1e-3, raise_exception: bool = True, nondet_tol: float = 0.0,
              check_undefined_grad: bool = True, check_grad_dtypes: bool = False,
              check_batched_grad: bool = False, check_backward_ad: bool = True,
              fast_mode: bool = False, masked: bool | None = None, seed: int = 0) -> bool:
    """True when ``func``'s gradients match central finite differences.

    ``inputs`` is a tensor or a tuple; those with ``requires_grad`` must be float64.
    Entries pass when ``|analytical - numerical| <= atol + rtol * |numerical|``.
    On a mismatch a :class:`GradcheckError` names the output, the input, the
    largest difference and where it is (or ``False`` with ``raise_exception=False``).

    >>> import chainrule as cr
    >>> x = cr.tensor([1.0, 2.0], dtype=cr.float64, requires_grad=True)
    >>> cr.autograd.gradcheck(lambda t: t ** 3, x)
    True
    """
    import numpy as np  # host-side arithmetic on finite differences only
    inputs = _as_tuple(inputs)
    positions = _diff_positions(inputs, "gradcheck")
    diff = [inputs[i] for i in positions]
    outputs = _as_tuple(func(*inputs))
    float_ks = _float_outputs(outputs)
    if not float_ks:
        return _fail("gradcheck: func returned no floating-point tensor to differentiate",
                     raise_exception)
    out_shapes = [tuple(outputs[k]._data.shape) for k in float_ks]
    out_sizes = [int(np.prod(s, dtype=np.int64)) for s in out_shapes]
    rng = np.random.default_rng(seed)
    if fast_mode:
        ok = _fast_check(func, inputs, positions, diff, outputs, float_ks, out_sizes, eps, atol,
                         rtol, nondet_tol, raise_exception, rng)
    else:
        ok = _full_check(func, inputs, positions, diff, outputs, float_ks, out_sizes, eps, atol,
                         rtol, nondet_tol, raise_exception)
    if not ok:
        return False
    if check_undefined_grad and any(outputs[k].requires_grad for k in float_ks):
        zeros = [np.zeros(n) for n in out_sizes]
        grads = _vjp(outputs, float_ks, diff, zeros)
        for g, i in zip(grads, positions):
            if g is not None and np.any(g != 0):
                return _fail(f"gradcheck: backward with zero output gradients gave a nonzero "
                             f"gradient for input {i} (max {np.abs(g).max():.3e})", raise_exception)
    return True


def _numerical_column(func, inputs, i, flat_index, eps, direction=None):
    """Central difference of every float output along one coordinate (or ``direction``)."""
    x = _host(inputs[i]._data).astype("float64")
    plus, minus = x.copy(), x.copy()
    if direction is None:
        plus.reshape(-1)[flat_index] += eps
        minus.reshape(-1)[flat_index] -= eps
    else:
        plus += eps * direction
        minus -= eps * direction
    from ..backends import backend_of
    to_dev = backend_of(inputs[i]._data).from_host
    f_plus = _evaluate(func, _replace(inputs, i, to_dev(plus)))
    f_minus = _evaluate(func, _replace(inputs, i, to_dev(minus)))
    import numpy as np
    return np.concatenate([((p - m) / (2 * eps)).reshape(-1) for p, m in zip(f_plus, f_minus)])


def _full_check(func, inputs, positions, diff, outputs, float_ks, out_sizes, eps, atol, rtol,
                nondet_tol, raise_exception) -> bool:
    import numpy as np
    n_out = sum(out_sizes)
    analytical = [np.zeros((n_out, t._data.size)) for t in diff]
    offsets = np.cumsum([0] + out_sizes)
    for row in range(n_out):
        vs = [np.zeros(n) for n in out_sizes]
        k = int(np.searchsorted(offsets, row, side="right") - 1)
        vs[k][row - offsets[k]] = 1.0
        grads = _vjp(outputs, float_ks, diff, vs)
        if row == 0:
            if not _check_grad_meta(grads, diff, positions, raise_exception):
                return False
            again = _vjp(outputs, float_ks, diff, vs)
            for g1, g2, i in zip(grads, again, positions):
                if g1 is not None and g2 is not None and np.abs(g1 - g2).max(initial=0) > nondet_tol:
                    return _fail(f"gradcheck: backward is not reentrant for input {i}: two runs "
                                 f"differ by {np.abs(g1 - g2).max():.3e} (> nondet_tol={nondet_tol})",
                                 raise_exception)
        for j, g in enumerate(grads):
            if g is not None:
                analytical[j][row] = g.reshape(-1)
    for j, i in enumerate(positions):
        size = diff[j]._data.size
        numerical = np.zeros((n_out, size))
        for col in range(size):
            numerical[:, col] = _numerical_column(func, inputs, i, col, eps)
        a, n = analytical[j], numerical
        bad = np.abs(a - n) > atol + rtol * np.abs(n)
        if bad.any() or np.isnan(a).any() != np.isnan(n).any():
            where = np.unravel_index(int(np.argmax(np.where(bad, np.abs(a - n), -1))), a.shape)
            k = int(np.searchsorted(offsets, where[0], side="right") - 1)
            return _fail(
                f"gradcheck: Jacobian mismatch for output {float_ks[k]} with respect to input {i}: "
                f"max difference {np.nanmax(np.abs(a - n)):.6e} at (output element "
                f"{where[0] - offsets[k]}, input element {where[1]}): analytical "
                f"{a[where]:.6e}, numerical {n[where]:.6e} (atol={atol}, rtol={rtol})\n"
                f"numerical:\n{n}\nanalytical:\n{a}", raise_exception)
    return True


def _fast_check(func, inputs, positions, diff, outputs, float_ks, out_sizes, eps, atol, rtol,
                nondet_tol, raise_exception, rng) -> bool:
    import numpy as np
    vs = []
    for n in out_sizes:
        v = rng.standard_normal(n)
        vs.append(v / max(np.linalg.norm(v), 1e-300))
    grads = _vjp(outputs, float_ks, diff, vs)
    if not _check_grad_meta(grads, diff, positions, raise_exception):
        return False
    again = _vjp(outputs, float_ks, diff, vs)
    for g1, g2, i in zip(grads, again, positions):
        if g1 is not None and g2 is not None and np.abs(g1 - g2).max(initial=0) > nondet_tol:
            return _fail(f"gradcheck: backward is not reentrant for input {i}: two runs differ by "
                         f"{np.abs(g1 - g2).max():.3e} (> nondet_tol={nondet_tol})", raise_exception)
    v_all = np.concatenate(vs) if vs else np.zeros(0)
    for j, i in enumerate(positions):
        shape = diff[j]._data.shape
        u = rng.standard_normal(shape)
        u = u / max(np.linalg.norm(u), 1e-300)
        ju = _numerical_column(func, inputs, i, None, eps, direction=u)
        numerical = float(v_all @ ju)
        analytical = 0.0 if grads[j] is None else float(np.sum(grads[j] * u))
        diff_ = abs(analytical - numerical)
        if not diff_ <= atol + rtol * abs(numerical):
            return _fail(
                f"gradcheck (fast mode): directional derivative vᵀJu mismatch for input {i}: "
                f"analytical {analytical:.6e}, numerical {numerical:.6e}, difference "
                f"{diff_:.6e} (atol={atol}, rtol={rtol}); rerun with fast_mode=False to see "
                f"the whole Jacobian", raise_exception)
    return True


# ----------------------------------------------------------- gradgradcheck --
def gradgradcheck(func: Callable[..., Any], inputs: Any, grad_outputs: Sequence | None = None, *,
                  eps: float = 1e-6, atol: float = 1e-5, rtol: float = 1e-3,
                  gen_non_contig_grad_outputs: bool = False, raise_exception: bool = True,
                  nondet_tol: float = 0.0, check_undefined_grad: bool = True,
                  check_grad_dtypes: bool = False, check_batched_grad: bool = False,
                  check_fwd_over_rev: bool = False, check_rev_over_rev: bool = True,
                  fast_mode: bool = False, masked: bool = False, seed: int = 0) -> bool:
    """True when the gradients of ``func``'s gradients (second order) match finite differences.

    ``grad_outputs`` default to random float64 tensors (which are also checked as
    inputs, since the first gradient is linear in them).

    >>> import chainrule as cr
    >>> x = cr.tensor([0.3, 0.7], dtype=cr.float64, requires_grad=True)
    >>> cr.autograd.gradgradcheck(lambda t: t.cos() * t, (x,))
    True
    """
    import numpy as np
    from ..tensor import Tensor
    from .engine import grad
    from .grad_mode import enable_grad, is_grad_enabled
    inputs = _as_tuple(inputs)
    positions = _diff_positions(inputs, "gradgradcheck")
    outputs = _as_tuple(func(*inputs))
    float_ks = [k for k in _float_outputs(outputs) if outputs[k].requires_grad]
    if grad_outputs is None:
        rng = np.random.default_rng(seed)
        grad_outputs = tuple(
            Tensor._make(_like(outputs[k]._data, rng.standard_normal(outputs[k]._data.shape)))
            .requires_grad_(True) for k in float_ks)
    else:
        grad_outputs = _as_tuple(grad_outputs)
    n_in = len(inputs)

    def first_grads(*args):
        ins, gos = args[:n_in], args[n_in:]
        if not is_grad_enabled():  # a finite-difference evaluation: make fresh leaves
            ins = tuple(t.detach().requires_grad_(True) if j in positions else t
                        for j, t in enumerate(ins))
        with enable_grad():
            outs = _as_tuple(func(*ins))
            roots = [outs[k] for k in float_ks]
            diff_in = [ins[i] for i in positions]
            grads = grad(roots, diff_in, list(gos), create_graph=True, allow_unused=True,
                         materialize_grads=True)
        return tuple(grads)

    return gradcheck(first_grads, inputs + tuple(grad_outputs), eps=eps, atol=atol, rtol=rtol,
                     raise_exception=raise_exception, nondet_tol=nondet_tol,
                     check_undefined_grad=check_undefined_grad, fast_mode=fast_mode, seed=seed)


def _like(array, host_values):
    from ..backends import backend_of
    return backend_of(array).from_host(host_values.astype(array.dtype))
