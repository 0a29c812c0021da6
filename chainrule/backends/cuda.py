"""``chainrule.backends.cuda``: PyTorch's CUDA math switches, accepted and ignored.

``matmul.allow_tf32`` and the reduced-precision flags keep the values programs set
(PyTorch's defaults) but change nothing: CuPy's matmul runs in the arrays' own dtype.

>>> import chainrule as cr
>>> cr.backends.cuda.matmul.allow_tf32 = True   # accepted; does nothing here
"""
from __future__ import annotations

import importlib.util
from types import SimpleNamespace

matmul = SimpleNamespace(allow_tf32=False, allow_fp16_reduced_precision_reduction=True,
                         allow_bf16_reduced_precision_reduction=True)


def is_built() -> bool:
    """True when CuPy (chainrule's CUDA support) is installed."""
    return importlib.util.find_spec("cupy") is not None
