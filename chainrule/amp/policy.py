"""Which ops autocast changes, and how: PyTorch's CPU lists, as measured on PyTorch 2.13.

Three policies, applied where the user calls the op (``chainrule.addmm``,
``F.mse_loss``, ``x.prod()``): an op's own insides are not autocast again, as PyTorch's
kernels are not.

* ``LOWER``: the products run in the autocast dtype: floating inputs (not float64) are
  cast to it. (matmul, linear and the convolutions do this in their own code.)
* ``FLOAT32``: the ops PyTorch's CPU autocast runs in float32 (losses, ``prod``,
  ``cdist``, ``trace``, 3-D pooling, reflection/replication padding, ``grid_sample``,
  decompositions): bfloat16/float16 inputs are cast to float32.
* ``PLAIN``: ops PyTorch does not autocast that chainrule builds from products (``mv``,
  ``dot``, ``bilinear``, 2-D adaptive pooling ...): autocast is off inside them, so they
  keep their inputs' dtype as PyTorch's do.

On CPU, PyTorch keeps softmax, log_softmax, the norms, sums and means in the dtype of
their input under autocast (its float32 list for these is CUDA's); so does chainrule.
An explicit ``dtype=`` or ``out=`` takes the op out of autocast, as in PyTorch.

>>> import chainrule as cr
>>> with cr.autocast("cpu"):
...     cr.ones(3, dtype=cr.bfloat16).prod().dtype, cr.mv(cr.ones(2, 3), cr.ones(3)).dtype
(chainrule.float32, chainrule.float32)
"""
from __future__ import annotations

import functools
from typing import Callable

from .autocast_mode import AUTOCAST, suspended

# (namespace, names) per policy; a namespace is "chainrule", "chainrule.linalg",
# "chainrule.nn.functional", "chainrule.fft" or "Tensor" (its methods)
LOWER = {
    "chainrule": ("mm", "bmm", "addmm", "baddbmm", "addbmm", "einsum", "chain_matmul"),
    "chainrule.linalg": ("multi_dot", "vecdot"),
    "chainrule.nn.functional": ("prelu", "scaled_dot_product_attention"),
    "Tensor": ("mm", "bmm", "addmm", "baddbmm", "addbmm"),
}
_LOSSES = ("mse_loss", "l1_loss", "smooth_l1_loss", "huber_loss", "cross_entropy", "nll_loss",
           "binary_cross_entropy", "binary_cross_entropy_with_logits", "kl_div",
           "soft_margin_loss", "margin_ranking_loss", "hinge_embedding_loss",
           "cosine_embedding_loss", "poisson_nll_loss", "multi_margin_loss",
           "multilabel_margin_loss", "triplet_margin_loss", "ctc_loss")
FLOAT32 = {
    "chainrule": ("prod", "trace", "cdist", "quantile", "nanquantile", "inverse", "pinverse",
                  "cholesky_solve", "polar", "stft"),
    "chainrule.linalg": ("inv", "solve", "cholesky", "qr", "svd", "svdvals", "eigh",
                         "eigvalsh", "lstsq"),
    "chainrule.fft": ("fft", "ifft", "rfft", "irfft", "fft2", "ifft2", "rfft2", "irfft2",
                      "fftn", "ifftn", "rfftn", "irfftn", "hfft", "ihfft"),
    "chainrule.nn.functional": _LOSSES + (
        "avg_pool3d", "max_pool3d", "adaptive_avg_pool3d", "adaptive_max_pool3d",
        "max_unpool1d", "max_unpool2d", "max_unpool3d", "grid_sample", "local_response_norm"),
    "Tensor": ("prod", "trace", "inverse", "pinverse", "quantile", "nanquantile"),
}
# F.pad is in the float32 list for its reflect and replicate modes only
PAD_FLOAT32_MODES = ("reflect", "replicate")
PLAIN = {
    "chainrule": ("mv", "dot", "vdot", "outer", "ger", "addmv", "addr", "kron", "bilinear"),
    "chainrule.nn.functional": ("bilinear", "adaptive_avg_pool1d", "adaptive_avg_pool2d",
                                "embedding_bag", "cosine_similarity", "pairwise_distance",
                                "pdist", "normalize", "interpolate", "upsample"),
    "Tensor": ("mv", "dot", "vdot", "outer", "ger", "addmv", "addr", "kron"),
}


def _lower_dtypes():
    from ..dtypes import bfloat16, float16
    return (bfloat16, float16)


def _cast(value, rule):
    """``value`` with each tensor in it (lists and tuples too: einsum's operands) cast by
    ``rule(tensor)``."""
    from ..tensor import Tensor
    if isinstance(value, Tensor):
        return rule(value)
    if isinstance(value, (list, tuple)) and any(isinstance(v, Tensor) for v in value):
        return type(value)(_cast(v, rule) for v in value)
    return value


def _to_lower(t):
    if t._data.dtype.kind in "fV" and t._data.dtype.itemsize < 8:
        target = AUTOCAST.dtypes.get(t.device.type)
        if target is not None and t.dtype is not target:
            return t.to(target)
    return t


def _to_float32(t):
    if t.dtype in _lower_dtypes() and AUTOCAST.dtypes.get(t.device.type) is not None:
        from ..dtypes import float32
        return t.to(float32)
    return t


def _wrap(fn: Callable, rule) -> Callable:
    """``fn`` that, inside autocast, casts its tensor arguments by ``rule`` (None: none)
    and runs with autocast off."""
    @functools.wraps(fn)
    def under_policy(*args, **kwargs):
        if not AUTOCAST.active or kwargs.get("dtype") is not None \
                or kwargs.get("out") is not None:  # (PyTorch: out= calls are not autocast)
            return fn(*args, **kwargs)
        if rule is not None:
            args = tuple(_cast(a, rule) for a in args)
            kwargs = {k: _cast(v, rule) for k, v in kwargs.items()}
        with suspended():
            return fn(*args, **kwargs)
    under_policy.__autocast_policy__ = fn  # (the unwrapped function; and: wrapped once)
    return under_policy


def _pad(fn: Callable) -> Callable:
    @functools.wraps(fn)
    def pad(input, pad, mode: str = "constant", value=None):  # noqa: A002
        if AUTOCAST.active and mode in PAD_FLOAT32_MODES:
            input = _to_float32(input)
            with suspended():
                return fn(input, pad, mode, value)
        return fn(input, pad, mode, value)
    pad.__autocast_policy__ = fn
    return pad


def install() -> None:
    """Wrap the listed functions in their public namespaces (once, at import)."""
    import importlib

    from ..tensor import Tensor

    def namespace(name):
        try:
            return Tensor if name == "Tensor" else importlib.import_module(name)
        except ModuleNotFoundError:  # (chainrule has no such namespace yet)
            return None

    for table, rule in ((LOWER, _to_lower), (FLOAT32, _to_float32), (PLAIN, None)):
        for where, names in table.items():
            home = namespace(where)
            if home is None:
                continue
            for name in names:
                fn = getattr(home, name, None)
                if fn is None or hasattr(fn, "__autocast_policy__"):
                    continue  # (not built here; or already wrapped)
                setattr(home, name, _wrap(fn, rule))
    functional = namespace("chainrule.nn.functional")
    if not hasattr(functional.pad, "__autocast_policy__"):
        functional.pad = _pad(functional.pad)
