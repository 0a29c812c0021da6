"""Fused elementwise kernels of the CuPy backend: one launch where array code launches one
kernel per operation (activation backwards, optimizer updates).

Every kernel is a ``cupy.fuse`` function: the same arithmetic as the unfused array code,
in the same order, with hyperparameters passed as Python floats, which take the arrays'
dtype (as NumPy's weak scalars do). So a fused result agrees with the CPU's to rounding:
exactly where each operation rounds the same, within an ulp or so where the GPU contracts
a multiply and an add into one FMA or its ``erf``/``expit`` differ from SciPy's. Options
that change the formula (AMSGrad, maximize, the kind of weight decay …) are not branches
on data: each combination is its own kernel, built on first use.

Only ``cupy.fuse`` is used, never an ``ElementwiseKernel`` of CUDA C source: the CPU
stand-in (:mod:`chainrule.backends.standin`) runs these very Python functions op by op,
so every kernel here is tested, launch by launch, without a GPU. A backend builds its
kernels lazily, once each (CuPy then compiles once per dtype and number of dimensions).

>>> from chainrule.backends import standin
>>> cp = standin.module
>>> kernels = FusedKernels(cp, standin.cupyx.scipy.special)
>>> relu_back = kernels.get("relu_backward")
>>> relu_back(cp.asarray([1.0, 2.0, -3.0]), cp.asarray([0.5, 0.0, -1.0])).tolist()
[1.0, 0.0, -0.0]
>>> kernels.get("relu_backward") is relu_back   # built once
True
"""
from __future__ import annotations

import math

import numpy

from .numpy_backend import NUMPY

FLOATS = frozenset(numpy.dtype(t) for t in ("float16", "float32", "float64"))
_NO_DICT: dict = {}
_SQRT_2 = math.sqrt(2)
_SQRT_2PI = math.sqrt(2 * math.pi)
_SQRT_2_OVER_PI = math.sqrt(2 / math.pi)


class FusedKernels:
    """The fused kernels of one backend, built from its ``cupy`` module (and
    ``cupyx.scipy.special`` for ``erf``/``expit``, where present) on first request."""

    def __init__(self, cupy, special=None) -> None:
        self._cp = cupy
        self._special = special
        self._built: dict = {}

    def get(self, name: str, *flags: str):
        """The kernel ``name`` for these options (a ``cupy.fuse`` function), or None when
        the array module lacks what it needs (then the caller runs the unfused code).
        Options are strings, ``""`` for off."""
        key = (name,) + flags
        try:
            return self._built[key]
        except KeyError:
            pass
        kernel = _FACTORIES[name](self._cp, self._special, *flags)
        if kernel is not None:  # named by its options: chainrule_adam_amsgrad_decoupled …
            name = "_".join(["chainrule"] + [part for part in key if part])
            kernel = self._cp.fuse(kernel_name=name)(kernel)
        self._built[key] = kernel
        return kernel


def fused_kernel(xp, name: str, *arrays, flags: tuple = ()):
    """The backend ``xp``'s fused kernel ``name`` when it has fused kernels and ``arrays``
    are its float arrays of one dtype; else None (NumPy, the Tensor rule namespace, a
    backend without them, integer or mixed dtypes): the caller runs its array code."""
    kernels = getattr(xp, "__dict__", _NO_DICT).get("_fused")
    if kernels is None:
        return None
    dtype = arrays[0].dtype
    if dtype not in FLOATS:
        return None
    array_type = xp.ndarray
    for a in arrays:
        if a.dtype != dtype or not isinstance(a, array_type):
            return None
    return kernels.get(name, *flags)


def fused_rule(name: str, rule):
    """A derivative rule ``rule(m, g, ans, x)`` whose fused form is the kernel ``name(g, ans)``:
    that kernel where the backend has it, ``rule`` elsewhere (NumPy, Tensors under
    ``create_graph``)."""
    def fused_or_rule(m, g, ans, x):
        if m is not NUMPY:
            kernel = fused_kernel(m, name, g, ans)
            if kernel is not None:
                return kernel(g, ans)
        return rule(m, g, ans, x)
    fused_or_rule.__name__ = name
    return fused_or_rule


# ------------------------------------------------------- activation backwards --
# Each is the rule of chainrule/ops (activations.py, elementwise.py) in one kernel.
def _relu_backward(cp, special):
    def relu_backward(g, ans):
        # g where ans is not <= 0 (a NaN output lets the gradient through): g times the mask
        return g * ~(ans <= 0)
    return relu_backward


def _sigmoid_backward(cp, special):
    def sigmoid_backward(g, ans):
        return g * ans * (1 - ans)
    return sigmoid_backward


def _tanh_backward(cp, special):
    def tanh_backward(g, ans):
        return g * (1 - ans * ans)
    return tanh_backward


def _silu_backward(cp, special):
    expit = getattr(special, "expit", None)
    if expit is None:
        return None

    def silu_backward(g, x):
        s = expit(x).astype(x.dtype)
        return g * (s * (1 + x * (1 - s)))
    return silu_backward


def _gelu_backward(cp, special, approximate: str):
    if approximate == "tanh":
        def gelu_tanh_backward(g, x):
            t = cp.tanh(_SQRT_2_OVER_PI * (x + 0.044715 * x * x * x))
            d_inner = _SQRT_2_OVER_PI * (1 + 3 * 0.044715 * x * x)
            return g * (0.5 * (1 + t) + 0.5 * x * (1 - t * t) * d_inner)
        return gelu_tanh_backward
    erf = getattr(special, "erf", None)
    if erf is None:
        return None

    def gelu_backward(g, x):
        cdf = 0.5 * (1 + erf(x / _SQRT_2))
        pdf = cp.exp(-0.5 * x * x) / _SQRT_2PI
        return g * (cdf + x * pdf)
    return gelu_backward


# -------------------------------------------------------- optimizer updates --
def _decayed_grad(p, grad, wd, decay: str, maximize: str):
    """``±grad (+ wd·p)``, as optim._kernels.effective_grad (decoupled decay: not here)."""
    if decay == "coupled":
        g = p * wd
        return g - grad if maximize else g + grad
    return -grad if maximize else grad


def _adam(cp, special, amsgrad: str, maximize: str, decay: str, lerp_high: str):
    """Adam/AdamW on one parameter, as optim.adam.adam_update (``decay``: "" (none),
    "coupled" (Adam's weight_decay) or "decoupled" (AdamW's); ``lerp_high``: lerp's form
    for a weight ≥ 0.5, which lands exactly on the gradient at weight 1, as PyTorch's)."""
    def adam(p, grad, m, v, v_max, shrink, wd, lerp_w, beta2, one_minus_beta2, bc2_sqrt, eps,
             neg_step_size):
        if decay == "decoupled":
            p *= shrink
        g = _decayed_grad(p, grad, wd, decay, maximize)
        if lerp_high:  # lerp_w is 1 - weight here
            cp.subtract(g, (g - m) * lerp_w, out=m)
        else:
            m += (g - m) * lerp_w
        v *= beta2
        v += g * g * one_minus_beta2
        if amsgrad:
            cp.maximum(v_max, v, out=v_max)
            den = cp.sqrt(v_max)
        else:
            den = cp.sqrt(v)
        den = den / bc2_sqrt + eps
        p += m / den * neg_step_size
    return adam


def _sgd(cp, special, maximize: str, decay: str, momentum: str, nesterov: str):
    """SGD on one parameter, as optim.sgd.sgd_update (``momentum``: "" (none), "first"
    (the buffer takes the gradient) or "running")."""
    def sgd(p, grad, buf, wd, mu, one_minus_dampening, neg_lr):
        g = _decayed_grad(p, grad, wd, decay, maximize)
        if momentum == "first":
            buf[...] = g
        elif momentum == "running":
            buf *= mu
            buf += g * one_minus_dampening
        if momentum:
            g = buf * mu + g if nesterov else buf
        p += g * neg_lr
    return sgd


_FACTORIES = {
    "relu_backward": _relu_backward,
    "sigmoid_backward": _sigmoid_backward,
    "tanh_backward": _tanh_backward,
    "silu_backward": _silu_backward,
    "gelu_backward": _gelu_backward,
    "adam": _adam,
    "sgd": _sgd,
}
