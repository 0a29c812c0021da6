"""Each supported layer exported alone: onnx's checker passes and onnxruntime's output equals
chainrule's eval forward at two batch sizes (the batch axis dynamic)."""
from __future__ import annotations

import pytest

import chainrule as cr
from onnx_runner import export_and_compare

nn = cr.nn


def _x(*shape):
    return lambda b: cr.randn(b, *shape)


def _ids(n, seq):
    return lambda b: cr.randint(0, n, (b, seq))


def _bn(module):
    """A batch norm with running statistics that are not the defaults."""
    module.running_mean.copy_(cr.randn(module.num_features))
    module.running_var.copy_(cr.rand(module.num_features) + 0.5)
    module.weight.data.copy_(cr.randn(module.num_features))
    module.bias.data.copy_(cr.randn(module.num_features))
    return module


LAYERS = {
    "Linear": (lambda: nn.Linear(4, 5), _x(4)),
    "Linear-3d": (lambda: nn.Linear(4, 5), _x(3, 4)),
    "Linear-nobias": (lambda: nn.Linear(4, 5, bias=False), _x(4)),
    "Conv1d": (lambda: nn.Conv1d(3, 5, 3, padding=1, stride=2), _x(3, 11)),
    "Conv2d": (lambda: nn.Conv2d(4, 6, 3, stride=2, padding=1, groups=2), _x(4, 9, 8)),
    "Conv2d-dilated": (lambda: nn.Conv2d(2, 3, (3, 2), dilation=2, padding=(2, 1)), _x(2, 9, 8)),
    "ConvTranspose2d": (lambda: nn.ConvTranspose2d(4, 3, 3, stride=2, padding=1,
                                                    output_padding=1), _x(4, 5, 6)),
    "BatchNorm1d": (lambda: _bn(nn.BatchNorm1d(4)), _x(4)),
    "BatchNorm2d": (lambda: _bn(nn.BatchNorm2d(3)), _x(3, 5, 5)),
    "LayerNorm": (lambda: nn.LayerNorm([3, 4]), _x(2, 3, 4)),
    "GroupNorm": (lambda: nn.GroupNorm(2, 4), _x(4, 3, 3)),
    "ReLU": (nn.ReLU, _x(6)),
    "GELU": (nn.GELU, _x(6)),
    "GELU-tanh": (lambda: nn.GELU("tanh"), _x(6)),
    "Sigmoid": (nn.Sigmoid, _x(6)),
    "Tanh": (nn.Tanh, _x(6)),
    "LeakyReLU": (lambda: nn.LeakyReLU(0.2), _x(6)),
    "ELU": (lambda: nn.ELU(0.7), _x(6)),
    "SELU": (nn.SELU, _x(6)),
    "SiLU": (nn.SiLU, _x(6)),
    "Mish": (nn.Mish, _x(6)),
    "Softplus": (lambda: nn.Softplus(2.0, 1.0), _x(6)),
    "Hardtanh": (nn.Hardtanh, _x(6)),
    "ReLU6": (nn.ReLU6, lambda b: 4 * cr.randn(b, 6)),
    "Hardswish": (nn.Hardswish, lambda b: 4 * cr.randn(b, 6)),
    "Hardsigmoid": (nn.Hardsigmoid, lambda b: 4 * cr.randn(b, 6)),
    "PReLU": (nn.PReLU, _x(6)),
    "Softsign": (nn.Softsign, _x(6)),
    "Softmax": (lambda: nn.Softmax(dim=-1), _x(3, 6)),
    "Softmax-dim1": (lambda: nn.Softmax(dim=1), _x(3, 6)),
    "LogSoftmax": (lambda: nn.LogSoftmax(dim=-1), _x(6)),
    "MaxPool2d": (lambda: nn.MaxPool2d(3, 2, 1), _x(2, 7, 7)),
    "MaxPool2d-ceil": (lambda: nn.MaxPool2d(2, ceil_mode=True), _x(2, 5, 5)),
    "MaxPool1d": (lambda: nn.MaxPool1d(2), _x(3, 8)),
    "AvgPool2d": (lambda: nn.AvgPool2d(2), _x(2, 6, 6)),
    "AvgPool2d-pad": (lambda: nn.AvgPool2d(3, 2, 1), _x(2, 5, 5)),
    "AvgPool1d": (lambda: nn.AvgPool1d(2), _x(3, 8)),
    "AdaptiveAvgPool2d": (lambda: nn.AdaptiveAvgPool2d(1), _x(3, 4, 5)),
    "AdaptiveAvgPool1d": (lambda: nn.AdaptiveAvgPool1d(1), _x(3, 7)),
    "Dropout": (lambda: nn.Dropout(0.5), _x(6)),
    "Flatten": (nn.Flatten, _x(2, 3, 4)),
    "Embedding": (lambda: nn.Embedding(10, 4), _ids(10, 5)),
    "Embedding-padding": (lambda: nn.Embedding(10, 4, padding_idx=0), _ids(10, 5)),
    "LSTM": (lambda: nn.LSTM(4, 6), lambda b: cr.randn(7, b, 4)),
    "LSTM-2layer-bidir-batch_first": (lambda: nn.LSTM(4, 6, num_layers=2, batch_first=True,
                                                      bidirectional=True), _x(7, 4)),
    "GRU": (lambda: nn.GRU(4, 6, batch_first=True), _x(7, 4)),
    "GRU-2layer-bidir": (lambda: nn.GRU(4, 5, num_layers=2, bidirectional=True),
                         lambda b: cr.randn(6, b, 4)),
    "RNN": (lambda: nn.RNN(4, 6, batch_first=True), _x(7, 4)),
    "RNN-relu-nobias": (lambda: nn.RNN(4, 6, nonlinearity="relu", bias=False),
                        lambda b: cr.randn(5, b, 4)),
    "MultiheadAttention": (lambda: nn.MultiheadAttention(8, 2, batch_first=True),
                           lambda b: (cr.randn(b, 5, 8), cr.randn(b, 6, 8), cr.randn(b, 6, 8))),
    "MultiheadAttention-seq_first": (lambda: nn.MultiheadAttention(8, 4),
                                     lambda b: (cr.randn(5, b, 8),) * 3),
    "TransformerEncoderLayer": (lambda: nn.TransformerEncoderLayer(8, 2, 16, batch_first=True),
                                _x(5, 8)),
    "TransformerEncoderLayer-gelu-norm_first": (
        lambda: nn.TransformerEncoderLayer(8, 2, 16, activation="gelu", norm_first=True),
        lambda b: cr.randn(5, b, 8)),
    # beyond the list asked for: layers built from the same ops
    "Upsample-nearest": (lambda: nn.Upsample(scale_factor=2), _x(2, 3, 4)),
    "Upsample-bilinear": (lambda: nn.Upsample(scale_factor=2, mode="bilinear"), _x(2, 3, 4)),
    "AdaptiveAvgPool2d-2": (lambda: nn.AdaptiveAvgPool2d(2), _x(3, 6, 4)),
    "AdaptiveMaxPool2d": (lambda: nn.AdaptiveMaxPool2d(1), _x(3, 4, 5)),
    "ZeroPad2d": (lambda: nn.ZeroPad2d((1, 2, 0, 1)), _x(2, 3, 3)),
    "ReflectionPad2d": (lambda: nn.ReflectionPad2d(1), _x(2, 3, 3)),
    "PixelShuffle": (lambda: nn.PixelShuffle(2), _x(8, 3, 3)),
    "InstanceNorm2d": (lambda: nn.InstanceNorm2d(3, affine=True), _x(3, 4, 4)),
    "LayerNorm-no-affine": (lambda: nn.LayerNorm(6, elementwise_affine=False), _x(6)),
    "Softmin": (lambda: nn.Softmin(-1), _x(6)),
    "Threshold": (lambda: nn.Threshold(0.1, 20.0), _x(6)),
    "Hardshrink": (nn.Hardshrink, _x(6)),
    "Softshrink": (nn.Softshrink, _x(6)),
    "Tanhshrink": (nn.Tanhshrink, _x(6)),
    "LogSigmoid": (nn.LogSigmoid, _x(6)),
    "GLU": (nn.GLU, _x(6)),
    "CELU": (nn.CELU, _x(6)),
    "Unflatten": (lambda: nn.Unflatten(1, (2, 3)), _x(6)),
    "Bilinear": (lambda: nn.Bilinear(3, 4, 2), lambda b: (cr.randn(b, 3), cr.randn(b, 4))),
    "CosineSimilarity": (nn.CosineSimilarity, lambda b: (cr.randn(b, 5), cr.randn(b, 5))),
    "PairwiseDistance": (nn.PairwiseDistance, lambda b: (cr.randn(b, 5), cr.randn(b, 5))),
    "Conv2d-reflect-padding": (lambda: nn.Conv2d(3, 2, 3, padding=1, padding_mode="reflect"),
                               _x(3, 5, 5)),
    "Conv2d-same": (lambda: nn.Conv2d(3, 2, 4, padding="same"), _x(3, 6, 6)),
    "ConvTranspose1d": (lambda: nn.ConvTranspose1d(4, 2, 3, stride=2), _x(4, 5)),
    "AvgPool2d-ceil": (lambda: nn.AvgPool2d(3, 2, ceil_mode=True), _x(1, 6, 6)),
    "AvgPool2d-exclude-pad": (lambda: nn.AvgPool2d(3, 2, 1, count_include_pad=False),
                              _x(1, 6, 6)),
    "LPPool2d": (lambda: nn.LPPool2d(2, 2), _x(2, 4, 4)),
    "MaxPool2d-dilated": (lambda: nn.MaxPool2d(2, dilation=2), _x(2, 7, 7)),
    "Softmax2d": (nn.Softmax2d, _x(3, 2, 2)),
    "PReLU-channels": (lambda: nn.PReLU(3), _x(3, 4, 4)),
    "Dropout2d": (nn.Dropout2d, _x(3, 4, 4)),
    "TransformerDecoderLayer": (lambda: nn.TransformerDecoderLayer(8, 2, 16, batch_first=True),
                                lambda b: (cr.randn(b, 5, 8), cr.randn(b, 4, 8))),
}


def _seq_first(name: str) -> bool:
    return name in ("LSTM", "GRU-2layer-bidir", "RNN-relu-nobias",
                    "MultiheadAttention-seq_first", "TransformerEncoderLayer-gelu-norm_first")


@pytest.mark.parametrize("name", sorted(LAYERS))
def test_layer_matches_onnxruntime(name, tmp_path):
    make_module, make_inputs = LAYERS[name]
    module = make_module()
    if _seq_first(name):  # the batch is axis 1 there: export with it static, run at one size
        export_and_compare(module, make_inputs, tmp_path, dynamic=False)
        export_and_compare(module, make_inputs, tmp_path, batches=(3,), dynamic=False)
    else:
        export_and_compare(module, make_inputs, tmp_path)


def test_recurrent_with_initial_state_and_unbatched_input(tmp_path):
    lstm = nn.LSTM(3, 4, num_layers=2)
    export_and_compare(lstm, lambda b: (cr.randn(5, b, 3), (cr.randn(2, b, 4), cr.randn(2, b, 4))),
                       tmp_path, dynamic=False)
    gru = nn.GRU(3, 4, bidirectional=True)
    export_and_compare(gru, lambda b: (cr.randn(5, 3), cr.randn(2, 4)), tmp_path, dynamic=False)


def test_recurrent_sequence_length_is_free(tmp_path):
    """An ONNX LSTM node takes any length: the file traced at length 7 runs at length 3."""
    import numpy as np
    from onnx_runner import session
    lstm = nn.LSTM(4, 6, batch_first=True).eval()
    path = tmp_path / "lstm.onnx"
    cr.onnx.export(lstm, cr.randn(2, 7, 4), path, input_names=["x"],
                   dynamic_axes={"x": {0: "batch", 1: "time"}})
    x = cr.randn(3, 3, 4)
    with cr.no_grad():
        out, (h, c) = lstm(x)
    got = session(path).run(None, {"x": x.numpy()})
    for e, g in zip((out, h, c), got):
        np.testing.assert_allclose(g, e.numpy(), rtol=0, atol=1e-5)


def test_cells_export_with_a_static_batch_and_say_why_not_dynamic(tmp_path):
    """LSTMCell makes its zero state inside forward at the traced batch size."""
    from chainrule.onnx import UnsupportedOperatorError
    cell = nn.LSTMCell(6, 4)
    export_and_compare(cell, lambda b: cr.randn(b, 6), tmp_path, batches=(3,), dynamic=False)
    with pytest.raises(UnsupportedOperatorError, match=r"in the model \(LSTMCell\).*dynamic"):
        export_and_compare(cell, lambda b: cr.randn(b, 6), tmp_path)
