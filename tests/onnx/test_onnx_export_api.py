"""export()'s arguments, files and errors; and agreement with torch.onnx.export."""
from __future__ import annotations

import io
import sys
import warnings

import numpy as np
import pytest

import chainrule as cr
from chainrule.onnx import UnsupportedOperatorError
from chainrule.ops import registry
from onnx_runner import onnx, session

nn = cr.nn


class LogSumExp(nn.Module):
    def forward(self, x):
        return cr.logsumexp(x, dim=-1)


class WithInner(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.fc = nn.Linear(3, 3)
        self.inner = LogSumExp()

    def forward(self, x):
        return self.inner(self.fc(x))


def test_missing_lowering_names_the_op_and_the_module(tmp_path):
    with pytest.raises(UnsupportedOperatorError,
                       match=r"'logsumexp' in module 'inner' \(LogSumExp\)"):
        cr.onnx.export(WithInner(), cr.randn(2, 3), tmp_path / "m.onnx")
    assert not list(tmp_path.iterdir()), "a failed export leaves no file behind"


class CheckedInner(nn.Module):
    """Runs an op without a lowering whose result only steers Python."""

    def forward(self, x):
        if bool(cr.logsumexp(x, dim=-1).isnan().any()):
            raise ValueError("nan")
        return x * 2


def test_ops_the_outputs_do_not_need_are_left_out(tmp_path):
    proto = cr.onnx.export(CheckedInner(), cr.randn(2, 3), tmp_path / "m.onnx")
    assert [n.op_type for n in proto.graph.node] == ["Mul", "Identity"]


def test_failed_export_keeps_an_existing_file_and_restores_state(tmp_path):
    path = tmp_path / "m.onnx"
    path.write_bytes(b"old")
    model = WithInner().train()
    original = registry.Op.__call__
    with pytest.raises(UnsupportedOperatorError):
        cr.onnx.export(model, cr.randn(2, 3), path)
    assert path.read_bytes() == b"old"
    assert registry.Op.__call__ is original
    assert model.training and model.inner.training
    assert not model.fc._forward_hooks and not model._forward_pre_hooks


def test_file_written_whole_and_nothing_else_left(tmp_path):
    path = tmp_path / "mlp.onnx"
    path.write_bytes(b"old")
    model = nn.Sequential(nn.Linear(3, 4), nn.ReLU()).train()
    proto = cr.onnx.export(model, cr.randn(2, 3), str(path))
    assert [p.name for p in tmp_path.iterdir()] == ["mlp.onnx"]
    assert onnx.load(str(path)) == proto
    assert model.training and model[0].training


def test_file_object_and_none(tmp_path):
    model = nn.Linear(3, 2)
    buffer = io.BytesIO()
    proto = cr.onnx.export(model, (cr.randn(1, 3),), buffer)
    assert buffer.getvalue() == proto.SerializeToString()
    assert cr.onnx.export(model, cr.randn(1, 3), None) == proto
    assert [i.name for i in proto.graph.initializer] == ["weight", "bias"]  # state_dict names


class AddZeros(nn.Module):
    def forward(self, x):
        return x + cr.zeros(x.shape[0], 3)


def test_tensor_made_from_a_dynamic_size_is_an_error(tmp_path):
    with pytest.raises(UnsupportedOperatorError, match=r"op 'add'.*dynamic axis"):
        cr.onnx.export(AddZeros(), cr.randn(2, 3), tmp_path / "m.onnx", input_names=["x"],
                       dynamic_axes={"x": [0]})
    proto = cr.onnx.export(AddZeros(), cr.randn(2, 3), tmp_path / "m.onnx")  # a static batch: fine
    onnx.checker.check_model(proto)


class BatchMean(nn.Module):
    def forward(self, x):
        return x.sum(dim=0) / x.shape[0]  # the divisor is a Python number: baked in


def test_python_number_from_a_dynamic_size_is_an_error(tmp_path):
    with pytest.raises(UnsupportedOperatorError, match=r"op 'div'.*shape \(\)\) depends on"):
        cr.onnx.export(BatchMean(), cr.randn(2, 3), tmp_path / "m.onnx", input_names=["x"],
                       dynamic_axes={"x": [0]})


class Branchy(nn.Module):
    def forward(self, x):
        return x.relu() if x.shape[0] % 2 else x.tanh()


class HalfBatch(nn.Module):
    def forward(self, x):
        return x[: x.shape[0] - 1] * 2


@pytest.mark.parametrize("model, message", [
    (Branchy(), r"different ops when a dynamic axis changes size \(op #0: tanh vs relu\)"),
    (HalfBatch(), r"op 'getitem'.*index")])
def test_python_logic_on_a_dynamic_size_is_an_error(model, message, tmp_path):
    with pytest.raises(UnsupportedOperatorError, match=message):
        cr.onnx.export(model, cr.randn(4, 3), tmp_path / "m.onnx", input_names=["x"],
                       dynamic_axes={"x": {0: "batch"}})


def test_argument_errors(tmp_path):
    model, x = nn.Linear(3, 2), cr.randn(2, 3)
    with pytest.raises(ValueError, match="dynamic_axes names.*'y'"):
        cr.onnx.export(model, x, tmp_path / "m.onnx", input_names=["x"], dynamic_axes={"y": [0]})
    with pytest.raises(ValueError, match="opset_version must be from 13"):
        cr.onnx.export(model, x, tmp_path / "m.onnx", opset_version=9)
    with pytest.raises(ValueError, match="2 input_names for 1 tensor inputs"):
        cr.onnx.export(model, x, tmp_path / "m.onnx", input_names=["a", "b"])
    with pytest.raises(ValueError, match="export_params"):
        cr.onnx.export(model, x, tmp_path / "m.onnx", export_params=False)


def test_names_and_dynamic_dims_in_the_graph():
    class Two(nn.Module):
        def forward(self, image, scale):
            return image * scale, image.sum(dim=1)
    proto = cr.onnx.export(Two(), (cr.randn(2, 3), cr.randn(1, 3)), None, output_names=["scaled"],
                           dynamic_axes={"image": {0: "batch"}, "scaled": {0: "batch"}})
    graph = proto.graph
    assert [i.name for i in graph.input] == ["image", "scale"]  # forward's parameter names
    assert [o.name for o in graph.output] == ["scaled", "output_1"]
    dims = [[d.dim_param or d.dim_value for d in v.type.tensor_type.shape.dim]
            for v in list(graph.input) + list(graph.output)]
    assert dims == [["batch", 3], [1, 3], ["batch", 3], ["output_1_dim_0"]]


def test_keyword_arguments_and_is_in_onnx_export(tmp_path):
    seen = []

    class Scaled(nn.Module):
        def forward(self, x, scale=1.0, bias=None):
            seen.append(cr.onnx.is_in_onnx_export())
            return x * scale + bias

    x, bias = cr.randn(2, 3), cr.randn(3)
    cr.onnx.export(Scaled(), (x, {"scale": 3.0, "bias": bias}), tmp_path / "m.onnx")
    assert seen == [True] and not cr.onnx.is_in_onnx_export()
    got = session(tmp_path / "m.onnx").run(None, {"x": x.numpy(), "bias": bias.numpy()})[0]
    np.testing.assert_allclose(got, (x * 3.0 + bias).numpy(), rtol=0, atol=1e-6)


def test_missing_onnx_package_is_a_clear_error(monkeypatch):
    from chainrule.onnx import _deps
    monkeypatch.setattr(_deps, "_CACHE", {})
    monkeypatch.setitem(sys.modules, "onnx", None)
    with pytest.raises(ImportError, match=r"needs the 'onnx' package: pip install onnx"):
        cr.onnx.export(nn.Linear(2, 2), cr.randn(1, 2), None)


def test_supported_ops_lists_the_tables():
    listed = cr.onnx.supported_ops()
    assert {"linear", "conv2d", "reshape", "standardize", "embedding"} <= set(listed["ops"])
    assert listed["modules"] == ["GRU", "LSTM", "RNN"]


# -- the same model exported by PyTorch: both files behave alike in onnxruntime -----------
torch = pytest.importorskip("torch")


def _torch_twin(ours, theirs):
    from torch_oracle import load_into_torch
    load_into_torch(ours, theirs)
    return theirs.eval()


@pytest.mark.parametrize("name", ["cnn", "lstm"])
def test_agrees_with_torch_onnx_export(name, tmp_path):
    if name == "cnn":
        ours = nn.Sequential(nn.Conv2d(1, 3, 3), nn.BatchNorm2d(3), nn.ReLU(), nn.MaxPool2d(2),
                             nn.Flatten(), nn.Linear(12, 2))
        theirs = torch.nn.Sequential(torch.nn.Conv2d(1, 3, 3), torch.nn.BatchNorm2d(3),
                                     torch.nn.ReLU(), torch.nn.MaxPool2d(2), torch.nn.Flatten(),
                                     torch.nn.Linear(12, 2))
        x = cr.randn(2, 1, 6, 6)
    else:
        ours = nn.LSTM(3, 4, num_layers=2, batch_first=True, bidirectional=True)
        theirs = torch.nn.LSTM(3, 4, num_layers=2, batch_first=True, bidirectional=True)
        x = cr.randn(2, 5, 3)
    _torch_twin(ours, theirs)
    axes = {"x": {0: "batch"}}
    cr.onnx.export(ours, x, tmp_path / "ours.onnx", input_names=["x"], dynamic_axes=axes)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the legacy exporter's deprecation notice
        torch.onnx.export(theirs, (torch.from_numpy(x.numpy()),), str(tmp_path / "torch.onnx"),
                          input_names=["x"], dynamic_axes=axes, dynamo=False, opset_version=17)
    bigger = np.random.default_rng(1).standard_normal((3,) + tuple(x.shape[1:])).astype(np.float32)
    for feed in (x.numpy(), bigger):
        a = session(tmp_path / "ours.onnx").run(None, {"x": feed})
        b = session(tmp_path / "torch.onnx").run(None, {"x": feed})
        assert len(a) == len(b)
        for u, v in zip(a, b):
            np.testing.assert_allclose(u, v, rtol=0, atol=1e-5)


def test_every_lowering_is_a_registry_op():
    """A renamed op would silently lose its lowering: the tables name registry ops only."""
    import chainrule.nn.functional  # noqa: F401 (declares the nn ops)
    missing = [name for name in cr.onnx.supported_ops()["ops"] if name not in registry.REGISTRY]
    assert missing == []
