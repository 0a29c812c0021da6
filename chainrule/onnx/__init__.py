"""``chainrule.onnx``: export a model to an ONNX file, as ``torch.onnx.export``.

The forward is traced through chainrule's op registry and each op is lowered to ONNX
nodes (the ``lower_*`` modules, one per op family); LSTM, GRU and RNN become ONNX's own
recurrent nodes. Needs the optional ``onnx`` package (``pip install 'chainrule[onnx]'``).

>>> import io, chainrule as cr
>>> model = cr.nn.Sequential(cr.nn.Linear(4, 8), cr.nn.ReLU(), cr.nn.Linear(8, 2))
>>> buffer = io.BytesIO()
>>> proto = cr.onnx.export(model, cr.randn(3, 4), buffer, input_names=["x"],
...                        output_names=["y"], dynamic_axes={"x": {0: "batch"}})
>>> [n.op_type for n in proto.graph.node]
['Gemm', 'Relu', 'Gemm', 'Identity']
"""
from __future__ import annotations

from typing import Any

from ._graph import UnsupportedOperatorError

__all__ = ["export", "is_in_onnx_export", "supported_ops", "UnsupportedOperatorError"]


def export(model, args: Any = (), f=None, *, kwargs: dict | None = None,
           export_params: bool = True, verbose: bool | None = None,
           input_names: list[str] | None = None, output_names: list[str] | None = None,
           opset_version: int | None = None, dynamic_axes: dict | None = None,
           do_constant_folding: bool = True, keep_initializers_as_inputs: bool = False,
           dynamo: bool = False, training=None):
    """Trace ``model(*args)`` in eval mode and write it as an ONNX model to ``f``.

    ``f``: a path (written through a temporary file and a rename) or a binary file
    object; ``None`` writes nothing. ``args``: a tensor or a tuple (a trailing dict holds
    keyword arguments). ``dynamic_axes`` maps an input or output name to ``{axis: name}``
    or ``[axes]``: those axes take any size in the exported graph. ``opset_version``:
    13 up to the installed onnx's newest (default 17). Returns the ``onnx.ModelProto``
    (PyTorch returns None here); the model passes ``onnx.checker.check_model``.

    An op without an ONNX lowering raises :class:`UnsupportedOperatorError` naming the op
    and the module that ran it. ``export_params=False``, ``keep_initializers_as_inputs``
    and ``training`` other than eval are not supported; ``verbose``,
    ``do_constant_folding`` and ``dynamo`` are accepted and have no effect.

    >>> import io, chainrule as cr
    >>> proto = cr.onnx.export(cr.nn.Conv2d(1, 2, 3), cr.randn(1, 1, 5, 5), io.BytesIO())
    >>> proto.graph.node[0].op_type, proto.opset_import[0].version
    ('Conv', 17)
    """
    from ._export import build_model, write_atomically
    if not export_params or keep_initializers_as_inputs:
        raise ValueError("chainrule.onnx.export: only export_params=True and "
                         "keep_initializers_as_inputs=False are supported")
    if training is not None and getattr(training, "name", str(training)).upper() \
            not in ("EVAL", "TRAININGMODE.EVAL"):
        raise ValueError(f"chainrule.onnx.export: only eval-mode export is supported, got "
                         f"training={training!r}")
    proto = build_model(model, args, kwargs, input_names=input_names,
                        output_names=output_names, dynamic_axes=dynamic_axes,
                        opset_version=opset_version)
    if f is not None:
        write_atomically(proto.SerializeToString(), f)
    return proto


def is_in_onnx_export() -> bool:
    """True while :func:`export` traces a forward (as ``torch.onnx.is_in_onnx_export``)."""
    from ._trace import STATE
    return STATE.active


def supported_ops() -> dict[str, list]:
    """The op registry names and module classes that have an ONNX lowering.

    >>> import chainrule as cr
    >>> "conv2d" in cr.onnx.supported_ops()["ops"]
    True
    """
    from . import _export  # noqa: F401 (fills the tables)
    from ._table import LOWERINGS, MODULE_LOWERINGS
    return {"ops": sorted(LOWERINGS), "modules": sorted(c.__name__ for c in MODULE_LOWERINGS)}
