"""The optional ``onnx`` package, imported only when an export runs."""
from __future__ import annotations

import types

_CACHE: dict = {}


def onnx_modules() -> types.SimpleNamespace:
    """``onnx`` with its ``helper``, ``numpy_helper`` and ``checker``; a clear error without it."""
    found = _CACHE.get("onnx")
    if found is None:
        try:
            import onnx
            from onnx import checker, helper, numpy_helper
        except ImportError as e:  # the extra is optional: say how to get it
            raise ImportError("chainrule.onnx.export needs the 'onnx' package: pip install onnx "
                              "(or pip install 'chainrule[onnx]', which adds onnxruntime "
                              f"to run the exported file) ({e})") from None
        found = _CACHE["onnx"] = types.SimpleNamespace(
            onnx=onnx, helper=helper, numpy_helper=numpy_helper, checker=checker)
    return found
