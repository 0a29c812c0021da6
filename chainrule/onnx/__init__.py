"""``chainrule.onnx``: importable so programs that mention ONNX load; export is not built yet.

>>> import chainrule as cr
>>> cr.onnx.export(cr.nn.Linear(2, 2), cr.zeros(1, 2), "m.onnx")
Traceback (most recent call last):
...
NotImplementedError: chainrule.onnx.export: ONNX export is not implemented in chainrule yet ...
"""
from __future__ import annotations

__all__ = ["export", "is_in_onnx_export"]


def export(model, args=(), f=None, *pargs, **kwargs) -> None:
    """Not implemented yet: raises NotImplementedError (ONNX export is a separate feature)."""
    raise NotImplementedError(
        "chainrule.onnx.export: ONNX export is not implemented in chainrule yet (planned as its "
        "own feature); save weights with chainrule.save(model.state_dict(), path) meanwhile")


def is_in_onnx_export() -> bool:
    """False: chainrule never traces for ONNX export."""
    return False
