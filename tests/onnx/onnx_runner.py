"""Export a chainrule model, check the file, run it in onnxruntime and compare with chainrule."""
from __future__ import annotations

import numpy as np
import pytest

import chainrule as cr

onnx = pytest.importorskip("onnx")
ort = pytest.importorskip("onnxruntime")

ATOL = 1e-5  # float32: onnxruntime's kernels against chainrule's eval forward


def flat(value) -> list:
    if isinstance(value, (tuple, list)):
        return [t for v in value for t in flat(v)]
    return [value]


def session(path):
    options = ort.SessionOptions()
    options.log_severity_level = 3  # errors only: its shape-merging notes are not ours
    return ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])


def export_and_compare(model, make_inputs, tmp_path, batches=(2, 5), dynamic=True,
                       **export_kwargs) -> "onnx.ModelProto":
    """Export ``model`` at ``make_inputs(batches[0])`` with axis 0 of every input dynamic
    (when ``dynamic``), then compare onnxruntime with chainrule at each batch size."""
    inputs = make_inputs(batches[0])
    inputs = inputs if isinstance(inputs, tuple) else (inputs,)
    names = [f"in{k}" for k in range(len(flat(inputs)))]
    path = tmp_path / "model.onnx"
    axes = {n: {0: "batch"} for n in names} if dynamic else None
    cr.onnx.export(model, inputs, path, input_names=names, dynamic_axes=axes, **export_kwargs)
    proto = onnx.load(str(path))
    onnx.checker.check_model(proto, full_check=True)
    sess = session(path)
    for batch in (batches if dynamic else batches[:1]):
        xs = make_inputs(batch)
        xs = xs if isinstance(xs, tuple) else (xs,)
        model.eval()
        with cr.no_grad():
            expected = flat(model(*xs))
        got = sess.run(None, {n: x.numpy() for n, x in zip(names, flat(xs))})
        assert len(got) == len(expected)
        for e, g in zip(expected, got):
            assert g.shape == tuple(e.shape), (batch, g.shape, tuple(e.shape))
            assert g.dtype == e.numpy().dtype
            np.testing.assert_allclose(g, e.numpy(), rtol=0, atol=ATOL, err_msg=f"batch {batch}")
    return proto
