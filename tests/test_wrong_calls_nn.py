"""Wrong (and borderline) calls into nn, functional, init, optim, lr_scheduler,
utils.data, state_dict and clip_grad, each run on chainrule and PyTorch.

Each case is one call; ``tests/wrong_calls.check`` asserts that chainrule raises
where PyTorch raises (with its own, located error naming ``names``) and succeeds
where PyTorch succeeds. Borderline calls PyTorch accepts are in the table too, so
that an over-eager refusal fails as surely as a missing one.

Left out on purpose (chainrule differs from PyTorch and the harness cannot express it):
``get_submodule``/``get_parameter`` of a missing name raise AttributeError as PyTorch
does (the harness counts any AttributeError as a leak); PyTorch silently accepts
``Module.to(3.5)``, ``random_split`` with a negative length, a non-tensor in
``ParameterDict`` and a non-module in ``ModuleList.insert``, which chainrule refuses.
"""
from __future__ import annotations

import pytest

from wrong_calls import Case, check

CASES: list[Case] = []


def case(name: str, call, names: str, torch_call=None) -> None:
    CASES.append(Case(name, call, names, torch_call))


def x(m, *shape, dtype=None):
    """A fixed random float tensor (the values never matter to these cases)."""
    m.manual_seed(0)
    t = m.randn(*shape)
    return t if dtype is None else t.to(dtype)


BAD_SIZES = [("float", 3.5), ("zero", 0), ("negative", -1), ("None", None), ("str", "3")]

# --- layer constructors with bad sizes -------------------------------------------------
# (layer, builder taking the bad value, the argument's name)
CTORS = [
    ("Linear in", lambda m, v: m.nn.Linear(v, 2), "in_features"),
    ("Linear out", lambda m, v: m.nn.Linear(3, v), "out_features"),
    ("Bilinear in1", lambda m, v: m.nn.Bilinear(v, 2, 2), "in1_features"),
    ("Conv1d in", lambda m, v: m.nn.Conv1d(v, 2, 3), "in_channels"),
    ("Conv2d in", lambda m, v: m.nn.Conv2d(v, 2, 3), "in_channels"),
    ("Conv2d out", lambda m, v: m.nn.Conv2d(2, v, 3), "out_channels"),
    ("ConvTranspose2d out", lambda m, v: m.nn.ConvTranspose2d(2, v, 3), "out_channels"),
    ("BatchNorm1d", lambda m, v: m.nn.BatchNorm1d(v), "num_features"),
    ("BatchNorm2d", lambda m, v: m.nn.BatchNorm2d(v), "num_features"),
    ("GroupNorm channels", lambda m, v: m.nn.GroupNorm(1, v), "num_channels"),
    ("Embedding num", lambda m, v: m.nn.Embedding(v, 3), "num_embeddings"),
    ("Embedding dim", lambda m, v: m.nn.Embedding(4, v), "embedding_dim"),
    ("RNN hidden", lambda m, v: m.nn.RNN(3, v), "hidden_size"),
    ("LSTM input", lambda m, v: m.nn.LSTM(v, 3), "input_size"),
    ("GRUCell hidden", lambda m, v: m.nn.GRUCell(3, v), "hidden_size"),
    ("MultiheadAttention embed", lambda m, v: m.nn.MultiheadAttention(v, 1), "embed_dim"),
]
for layer, build, arg in CTORS:
    for what, v in BAD_SIZES:
        case(f"{layer} {what}", (lambda b, v: lambda m: b(m, v))(build, v), arg)

for what, v in [("float", 2.0), ("zero", 0), ("negative", -2), ("None", None), ("str", "2")]:
    case(f"Conv2d kernel_size {what}", (lambda v: lambda m: m.nn.Conv2d(2, 2, v))(v), "kernel_size")
    case(f"MaxPool2d kernel_size {what}", (lambda v: lambda m: m.nn.MaxPool2d(v)(x(m, 1, 2, 4, 4)))(v),
         "kernel_size")
    case(f"AvgPool1d kernel_size {what}", (lambda v: lambda m: m.nn.AvgPool1d(v)(x(m, 1, 2, 4)))(v),
         "kernel_size")

# --- conv hyper-parameters ----------------------------------------------------------------
case("Conv2d kernel tuple with 0", lambda m: m.nn.Conv2d(2, 2, (3, 0)), "kernel_size")
case("Conv2d kernel wrong length", lambda m: m.nn.Conv2d(2, 2, (3, 3, 3))(x(m, 1, 2, 5, 5)), "conv2d")
case("Conv2d stride 0", lambda m: m.nn.Conv2d(2, 2, 3, stride=0), "stride")
case("Conv2d stride negative", lambda m: m.nn.Conv2d(2, 2, 3, stride=-1), "stride")
case("Conv2d stride float", lambda m: m.nn.Conv2d(2, 2, 3, stride=1.5)(x(m, 1, 2, 5, 5)), "stride")
case("Conv2d padding negative", lambda m: m.nn.Conv2d(2, 2, 3, padding=-1), "padding")
case("Conv2d padding bad string", lambda m: m.nn.Conv2d(2, 2, 3, padding="full"), "padding")
case("Conv2d padding same with stride", lambda m: m.nn.Conv2d(2, 2, 3, padding="same", stride=2),
     "padding")
case("Conv2d padding same (ok)", lambda m: m.nn.Conv2d(2, 2, 3, padding="same")(x(m, 1, 2, 5, 5)),
     "padding")
case("Conv2d padding valid (ok)", lambda m: m.nn.Conv2d(2, 2, 3, padding="valid")(x(m, 1, 2, 5, 5)),
     "padding")
case("Conv2d dilation 0", lambda m: m.nn.Conv2d(2, 2, 3, dilation=0), "dilation")
case("Conv2d dilation negative", lambda m: m.nn.Conv2d(2, 2, 3, dilation=-2), "dilation")
case("Conv2d groups 0", lambda m: m.nn.Conv2d(2, 2, 3, groups=0), "groups")
case("Conv2d groups not dividing in", lambda m: m.nn.Conv2d(3, 6, 3, groups=2), "groups")
case("Conv2d groups not dividing out", lambda m: m.nn.Conv2d(4, 6, 3, groups=4), "groups")
case("Conv2d groups divides (ok)", lambda m: m.nn.Conv2d(4, 6, 3, groups=2)(x(m, 1, 4, 5, 5)), "groups")
case("Conv1d groups float", lambda m: m.nn.Conv1d(4, 4, 3, groups=2.0), "groups")
case("Conv2d padding_mode bad", lambda m: m.nn.Conv2d(2, 2, 3, padding_mode="mirror"), "padding_mode")
case("Conv2d padding_mode reflect (ok)",
     lambda m: m.nn.Conv2d(2, 2, 3, padding=1, padding_mode="reflect")(x(m, 1, 2, 5, 5)), "padding_mode")
case("Conv2d padding_mode circular (ok)",
     lambda m: m.nn.Conv2d(2, 2, 3, padding=1, padding_mode="circular")(x(m, 1, 2, 5, 5)), "padding_mode")
case("ConvTranspose2d padding_mode reflect", lambda m: m.nn.ConvTranspose2d(2, 2, 3, padding_mode="reflect"),
     "padding_mode")
case("ConvTranspose2d output_padding too big",
     lambda m: m.nn.ConvTranspose2d(2, 2, 3, stride=2, output_padding=2)(x(m, 1, 2, 4, 4)), "output_padding")
case("Conv2d kernel bigger than input",
     lambda m: m.nn.Conv2d(2, 2, 5)(x(m, 1, 2, 3, 3)), "kernel")

# --- layers called with wrong inputs --------------------------------------------------------
case("Linear wrong features", lambda m: m.nn.Linear(3, 2)(x(m, 4, 5)), "linear")
case("Linear None input", lambda m: m.nn.Linear(3, 2)(None), "input")
case("Linear str input", lambda m: m.nn.Linear(3, 2)("abc"), "input")
case("Linear int input", lambda m: m.nn.Linear(3, 2)(m.ones(2, 3, dtype=m.int64)), "linear")
case("Linear float64 input", lambda m: m.nn.Linear(3, 2)(x(m, 2, 3, dtype=m.float64)), "linear")
case("Linear 0-d input", lambda m: m.nn.Linear(3, 2)(m.tensor(1.0)), "linear")
case("Linear 1-d input (ok)", lambda m: m.nn.Linear(3, 2)(x(m, 3)), "linear")
case("Conv2d wrong channels", lambda m: m.nn.Conv2d(3, 2, 3)(x(m, 1, 2, 5, 5)), "channels")
case("Conv2d rank 2", lambda m: m.nn.Conv2d(3, 2, 3)(x(m, 5, 5)), "conv2d")
case("Conv2d rank 5", lambda m: m.nn.Conv2d(3, 2, 3)(x(m, 1, 1, 3, 5, 5)), "conv2d")
case("Conv2d unbatched (ok)", lambda m: m.nn.Conv2d(3, 2, 3)(x(m, 3, 5, 5)), "conv2d")
case("Conv2d None input", lambda m: m.nn.Conv2d(3, 2, 3)(None), "input")
case("Conv2d int input", lambda m: m.nn.Conv2d(3, 2, 3)(m.ones(1, 3, 5, 5, dtype=m.int64)), "conv2d")
case("Conv1d rank 4", lambda m: m.nn.Conv1d(3, 2, 3)(x(m, 1, 3, 5, 5)), "conv1d")
case("BatchNorm1d wrong features", lambda m: m.nn.BatchNorm1d(3)(x(m, 4, 5)), "channels")
case("BatchNorm1d rank 4", lambda m: m.nn.BatchNorm1d(3)(x(m, 2, 3, 4, 4)), "input")
case("BatchNorm2d rank 3", lambda m: m.nn.BatchNorm2d(3)(x(m, 3, 4, 4)), "input")
case("BatchNorm1d one value per channel training",
     lambda m: m.nn.BatchNorm1d(3)(x(m, 1, 3)), "batch")
case("BatchNorm1d None input", lambda m: m.nn.BatchNorm1d(3)(None), "input")
case("LayerNorm shape mismatch", lambda m: m.nn.LayerNorm(4)(x(m, 2, 3)), "LayerNorm")
case("LayerNorm None", lambda m: m.nn.LayerNorm(3)(None), "input")
case("GroupNorm groups not dividing", lambda m: m.nn.GroupNorm(2, 3), "num_groups")
case("GroupNorm wrong channels", lambda m: m.nn.GroupNorm(2, 4)(x(m, 2, 6, 3)), "GroupNorm")
case("Embedding out-of-range index", lambda m: m.nn.Embedding(4, 3)(m.tensor([1, 4])), "index")
case("Embedding negative index", lambda m: m.nn.Embedding(4, 3)(m.tensor([-1])), "index")
case("Embedding float index", lambda m: m.nn.Embedding(4, 3)(m.tensor([1.0])), "embedding")
case("Embedding padding_idx out of range", lambda m: m.nn.Embedding(4, 3, padding_idx=4), "padding_idx")
case("Embedding padding_idx -1 (ok)", lambda m: m.nn.Embedding(4, 3, padding_idx=-1), "padding_idx")
case("Embedding padding_idx too negative", lambda m: m.nn.Embedding(4, 3, padding_idx=-5), "padding_idx")
case("LSTM wrong input size", lambda m: m.nn.LSTM(3, 4)(x(m, 5, 2, 2)), "input")
case("LSTM rank 4", lambda m: m.nn.LSTM(3, 4)(x(m, 5, 2, 3, 1)), "lstm")
case("LSTM num_layers 0", lambda m: m.nn.LSTM(3, 4, num_layers=0), "num_layers")
case("LSTM dropout > 1", lambda m: m.nn.LSTM(3, 4, dropout=1.5), "dropout")
case("RNN bad nonlinearity", lambda m: m.nn.RNN(3, 4, nonlinearity="sigmoid"), "nonlinearity")
case("GRU wrong h0", lambda m: m.nn.GRU(3, 4)(x(m, 5, 2, 3), x(m, 1, 3, 4)), "hidden")
case("MultiheadAttention heads not dividing", lambda m: m.nn.MultiheadAttention(6, 4), "num_heads")
case("MultiheadAttention wrong embed", lambda m: (lambda a: a(x(m, 2, 3, 5), x(m, 2, 3, 5), x(m, 2, 3, 5)))(
    m.nn.MultiheadAttention(4, 2)), "MultiheadAttention")
case("TransformerEncoderLayer heads not dividing", lambda m: m.nn.TransformerEncoderLayer(6, 4), "num_heads")
case("TransformerEncoderLayer bad activation",
     lambda m: m.nn.TransformerEncoderLayer(4, 2, activation="swish"), "activation")
case("Dropout p > 1", lambda m: m.nn.Dropout(1.5), "p")
case("Dropout p < 0", lambda m: m.nn.Dropout(-0.1), "p")
case("Dropout p = 1 (ok)", lambda m: m.nn.Dropout(1.0)(x(m, 3)), "p")
case("Dropout2d p > 1", lambda m: m.nn.Dropout2d(2), "p")
case("Flatten start after end", lambda m: m.nn.Flatten(2, 1)(x(m, 2, 3, 4)), "dim")
case("Flatten dim out of range", lambda m: m.nn.Flatten(1, 5)(x(m, 2, 3, 4)), "dim")
case("Unflatten wrong product", lambda m: m.nn.Unflatten(1, (2, 2))(x(m, 2, 6)), "unflatten")
case("Softmax dim out of range", lambda m: m.nn.Softmax(dim=3)(x(m, 2, 3)), "dim")
case("PReLU wrong parameters", lambda m: m.nn.PReLU(3)(x(m, 2, 4)), "prelu")
case("GLU odd dim", lambda m: m.nn.GLU()(x(m, 2, 3)), "glu")
case("AdaptiveAvgPool2d output 0 (ok)", lambda m: m.nn.AdaptiveAvgPool2d(0)(x(m, 1, 2, 4, 4)), "output_size")
case("AdaptiveAvgPool2d output negative", lambda m: m.nn.AdaptiveAvgPool2d(-1)(x(m, 1, 2, 4, 4)),
     "output_size")
case("AdaptiveMaxPool1d rank 4", lambda m: m.nn.AdaptiveMaxPool1d(2)(x(m, 1, 2, 4, 4)), "adaptive_max_pool1d")
case("MaxPool2d stride 0", lambda m: m.nn.MaxPool2d(2, stride=0)(x(m, 1, 2, 4, 4)), "stride")
case("MaxPool2d padding too big", lambda m: m.nn.MaxPool2d(2, padding=2)(x(m, 1, 2, 4, 4)), "pad")
case("MaxPool2d dilation 0", lambda m: m.nn.MaxPool2d(2, dilation=0)(x(m, 1, 2, 4, 4)), "dilation")
case("MaxPool2d output empty", lambda m: m.nn.MaxPool2d(5)(x(m, 1, 2, 4, 4)), "output")
case("MaxPool2d rank 2", lambda m: m.nn.MaxPool2d(2)(x(m, 4, 4)), "max_pool2d")
case("AvgPool2d padding too big", lambda m: m.nn.AvgPool2d(2, padding=2)(x(m, 1, 2, 4, 4)), "pad")
case("AvgPool2d None", lambda m: m.nn.AvgPool2d(2)(None), "input")

# --- empty batches PyTorch accepts (values and gradients: tests/nn/test_empty_batches.py) ----
case("Conv2d empty batch (ok)", lambda m: m.nn.Conv2d(3, 2, 3)(x(m, 0, 3, 5, 5)).sum().backward(), "conv2d")
case("ConvTranspose2d empty batch (ok)", lambda m: m.nn.ConvTranspose2d(3, 2, 3)(x(m, 0, 3, 4, 4)), "conv")
case("Linear empty batch (ok)", lambda m: m.nn.Linear(3, 2)(x(m, 0, 3)).sum().backward(), "linear")
case("BatchNorm1d empty batch (ok)", lambda m: m.nn.BatchNorm1d(3)(x(m, 0, 3)).sum().backward(), "batch")
case("BatchNorm2d empty batch eval (ok)", lambda m: m.nn.BatchNorm2d(3).eval()(x(m, 0, 3, 2, 2)), "batch")
case("LayerNorm empty batch (ok)", lambda m: m.nn.LayerNorm(3)(x(m, 0, 3)).sum().backward(), "layer")
case("MaxPool2d empty batch (ok)", lambda m: m.nn.MaxPool2d(2)(x(m, 0, 3, 4, 4)), "pool")
case("cross_entropy empty batch (ok)",
     lambda m: m.nn.functional.cross_entropy(x(m, 0, 4), m.zeros(0, dtype=m.int64), reduction="sum"), "cross")
case("AdaptiveMaxPool2d output 0 (ok)", lambda m: m.nn.AdaptiveMaxPool2d((0, 2))(x(m, 1, 2, 4, 4)),
     "output_size")

# --- nn.functional ---------------------------------------------------------------------------
F = lambda m: m.nn.functional  # noqa: E731
case("conv2d None input", lambda m: F(m).conv2d(None, x(m, 2, 3, 3, 3)), "input")
case("conv2d None weight", lambda m: F(m).conv2d(x(m, 1, 3, 5, 5), None), "weight")
case("conv2d weight rank 3", lambda m: F(m).conv2d(x(m, 1, 3, 5, 5), x(m, 2, 3, 3)), "weight")
case("conv2d groups not dividing", lambda m: F(m).conv2d(x(m, 1, 3, 5, 5), x(m, 2, 1, 3, 3), groups=2),
     "groups")
case("conv2d stride 0", lambda m: F(m).conv2d(x(m, 1, 3, 5, 5), x(m, 2, 3, 3, 3), stride=0), "stride")
case("conv2d padding negative", lambda m: F(m).conv2d(x(m, 1, 3, 5, 5), x(m, 2, 3, 3, 3), padding=-1),
     "padding")
case("conv2d bias wrong size", lambda m: F(m).conv2d(x(m, 1, 3, 5, 5), x(m, 2, 3, 3, 3), x(m, 3)), "bias")
case("conv2d kernel 0", lambda m: F(m).conv2d(x(m, 1, 3, 5, 5), x(m, 2, 3, 0, 3)), "conv2d")
case("conv1d dilation 0", lambda m: F(m).conv1d(x(m, 1, 3, 5), x(m, 2, 3, 3), dilation=0), "dilation")
case("conv1d str input", lambda m: F(m).conv1d("x", x(m, 2, 3, 3)), "input")
case("conv_transpose2d wrong channels",
     lambda m: F(m).conv_transpose2d(x(m, 1, 3, 4, 4), x(m, 2, 2, 3, 3)), "channels")
case("max_pool2d kernel 0", lambda m: F(m).max_pool2d(x(m, 1, 2, 4, 4), 0), "kernel_size")
case("max_pool2d kernel negative", lambda m: F(m).max_pool2d(x(m, 1, 2, 4, 4), -2), "kernel_size")
case("max_pool2d None", lambda m: F(m).max_pool2d(None, 2), "input")
case("max_pool1d kernel 0", lambda m: F(m).max_pool1d(x(m, 1, 2, 4), 0), "kernel_size")
case("avg_pool2d kernel 0", lambda m: F(m).avg_pool2d(x(m, 1, 2, 4, 4), 0), "kernel_size")
case("avg_pool2d stride 0", lambda m: F(m).avg_pool2d(x(m, 1, 2, 4, 4), 2, stride=0), "stride")
case("avg_pool2d kernel tuple 3", lambda m: F(m).avg_pool2d(x(m, 1, 2, 4, 4), (2, 2, 2)), "kernel_size")
case("adaptive_avg_pool2d None size (ok)",
     lambda m: F(m).adaptive_avg_pool2d(x(m, 1, 2, 4, 4), (None, 2)), "output_size")
case("adaptive_avg_pool1d str", lambda m: F(m).adaptive_avg_pool1d(x(m, 1, 2, 4), "2"), "output_size")
case("interpolate empty size", lambda m: F(m).interpolate(x(m, 1, 2, 4, 4), size=(0, 0)), "size")
case("interpolate size 0 int", lambda m: F(m).interpolate(x(m, 1, 2, 4), size=0), "size")
case("interpolate negative size", lambda m: F(m).interpolate(x(m, 1, 2, 4), size=-2), "size")
case("interpolate size and scale", lambda m: F(m).interpolate(x(m, 1, 2, 4), size=8, scale_factor=2),
     "scale_factor")
case("interpolate neither", lambda m: F(m).interpolate(x(m, 1, 2, 4)), "size")
case("interpolate scale 0", lambda m: F(m).interpolate(x(m, 1, 2, 4), scale_factor=0.0), "scale")
case("interpolate scale negative", lambda m: F(m).interpolate(x(m, 1, 2, 4), scale_factor=-1.0), "scale")
case("interpolate bad mode", lambda m: F(m).interpolate(x(m, 1, 2, 4), scale_factor=2, mode="cubic"), "mode")
case("interpolate bilinear on 3d", lambda m: F(m).interpolate(x(m, 1, 2, 4), scale_factor=2,
                                                              mode="bilinear"), "bilinear")
case("interpolate size wrong length", lambda m: F(m).interpolate(x(m, 1, 2, 4, 4), size=(2, 2, 2)), "size")
case("interpolate rank 2", lambda m: F(m).interpolate(x(m, 2, 4), scale_factor=2), "interpolate")
case("interpolate align_corners nearest",
     lambda m: F(m).interpolate(x(m, 1, 2, 4), scale_factor=2, align_corners=True), "align_corners")
case("interpolate None", lambda m: F(m).interpolate(None, scale_factor=2), "input")
case("interpolate float size", lambda m: F(m).interpolate(x(m, 1, 2, 4), size=2.5), "size")
case("interpolate scale 0.5 (ok)", lambda m: F(m).interpolate(x(m, 1, 2, 4), scale_factor=0.5), "scale")
case("pad odd length", lambda m: F(m).pad(x(m, 2, 3), (1,)), "pad")
case("pad too long", lambda m: F(m).pad(x(m, 2, 3), (1, 1, 1, 1, 1, 1)), "pad")
case("pad bad mode", lambda m: F(m).pad(x(m, 1, 2, 3), (1, 1), mode="wrap"), "mode")
case("pad reflect too big", lambda m: F(m).pad(x(m, 1, 2, 3), (3, 3), mode="reflect"), "pad")
case("pad negative (ok)", lambda m: F(m).pad(x(m, 2, 4), (-1, -1)), "pad")
case("pad float", lambda m: F(m).pad(x(m, 2, 4), (1.5, 1)), "pad")
case("pad None", lambda m: F(m).pad(None, (1, 1)), "input")
case("one_hot negative", lambda m: F(m).one_hot(m.tensor([0, -1])), "one_hot")
case("one_hot class too big", lambda m: F(m).one_hot(m.tensor([0, 3]), 3), "one_hot")
case("one_hot float", lambda m: F(m).one_hot(m.tensor([0.0, 1.0])), "one_hot")
case("one_hot num_classes 0 on empty", lambda m: F(m).one_hot(m.tensor([], dtype=m.int64), 0), "one_hot")
case("one_hot None", lambda m: F(m).one_hot(None), "input")
case("embedding out of range", lambda m: F(m).embedding(m.tensor([5]), x(m, 4, 3)), "index")
case("embedding weight 1d", lambda m: F(m).embedding(m.tensor([1]), x(m, 4)), "weight")
case("embedding None", lambda m: F(m).embedding(None, x(m, 4, 3)), "input")
for fn in ("dropout", "dropout1d", "dropout2d"):
    shape = {"dropout": (2, 3), "dropout1d": (2, 3, 4), "dropout2d": (2, 3, 4, 4)}[fn]
    case(f"{fn} p > 1", (lambda fn, s: lambda m: getattr(F(m), fn)(x(m, *s), p=1.01))(fn, shape), "p")
    case(f"{fn} p < 0", (lambda fn, s: lambda m: getattr(F(m), fn)(x(m, *s), p=-0.5))(fn, shape), "p")
    case(f"{fn} p = 0 (ok)", (lambda fn, s: lambda m: getattr(F(m), fn)(x(m, *s), p=0.0))(fn, shape), "p")
case("dropout None", lambda m: F(m).dropout(None), "input")
case("dropout p str", lambda m: F(m).dropout(x(m, 3), p="0.5"), "p")
for fn in ("softmax", "log_softmax", "softmin"):
    case(f"{fn} dim out of range", (lambda fn: lambda m: getattr(F(m), fn)(x(m, 2, 3), dim=2))(fn), "dim")
    case(f"{fn} dim -3", (lambda fn: lambda m: getattr(F(m), fn)(x(m, 2, 3), dim=-3))(fn), "dim")
    case(f"{fn} dim -2 (ok)", (lambda fn: lambda m: getattr(F(m), fn)(x(m, 2, 3), dim=-2))(fn), "dim")
    case(f"{fn} None", (lambda fn: lambda m: getattr(F(m), fn)(None, dim=0))(fn), "input")
case("softmax int tensor", lambda m: F(m).softmax(m.tensor([1, 2]), dim=0), "softmax")
case("softmax dim float", lambda m: F(m).softmax(x(m, 2, 3), dim=1.0), "dim")
case("cross_entropy class out of range", lambda m: F(m).cross_entropy(x(m, 3, 4), m.tensor([0, 1, 4])),
     "target")
case("cross_entropy negative class", lambda m: F(m).cross_entropy(x(m, 3, 4), m.tensor([0, 1, -2])),
     "target")
case("cross_entropy ignore_index (ok)",
     lambda m: F(m).cross_entropy(x(m, 3, 4), m.tensor([0, 1, -100])), "target")
case("cross_entropy float target wrong shape",
     lambda m: F(m).cross_entropy(x(m, 3, 4), x(m, 3, 3)), "target")
case("cross_entropy target batch mismatch",
     lambda m: F(m).cross_entropy(x(m, 3, 4), m.tensor([0, 1])), "target")
case("cross_entropy target rank", lambda m: F(m).cross_entropy(x(m, 3, 4), m.tensor([[0, 1, 2]])), "target")
case("cross_entropy int32 target (ok)",
     lambda m: F(m).cross_entropy(x(m, 3, 4), m.tensor([0, 1, 2], dtype=m.int32)), "target")
case("cross_entropy None target", lambda m: F(m).cross_entropy(x(m, 3, 4), None), "target")
case("cross_entropy None input", lambda m: F(m).cross_entropy(None, m.tensor([0])), "input")
case("cross_entropy weight wrong size",
     lambda m: F(m).cross_entropy(x(m, 3, 4), m.tensor([0, 1, 2]), weight=m.ones(3)), "weight")
case("cross_entropy label_smoothing > 1",
     lambda m: F(m).cross_entropy(x(m, 3, 4), m.tensor([0, 1, 2]), label_smoothing=1.5), "label_smoothing")
case("cross_entropy bad reduction",
     lambda m: F(m).cross_entropy(x(m, 3, 4), m.tensor([0, 1, 2]), reduction="avg"), "reduction")
case("nll_loss class out of range", lambda m: F(m).nll_loss(x(m, 3, 4), m.tensor([0, 1, 9])), "target")
case("nll_loss float target", lambda m: F(m).nll_loss(x(m, 3, 4), m.tensor([0.0, 1.0, 2.0])), "nll_loss")
case("nll_loss 1d input 0-d target (ok)", lambda m: F(m).nll_loss(x(m, 4), m.tensor(1)), "target")
case("nll_loss bad reduction", lambda m: F(m).nll_loss(x(m, 3, 4), m.tensor([0, 1, 2]), reduction=None),
     "reduction")
for loss in ("mse_loss", "l1_loss", "smooth_l1_loss", "huber_loss", "binary_cross_entropy",
             "binary_cross_entropy_with_logits", "kl_div", "soft_margin_loss"):
    case(f"{loss} bad reduction",
         (lambda loss: lambda m: getattr(F(m), loss)(x(m, 3).sigmoid(), x(m, 3).sigmoid(),
                                                     reduction="average"))(loss), "reduction")
for cls in ("MSELoss", "L1Loss", "CrossEntropyLoss", "NLLLoss", "BCELoss", "BCEWithLogitsLoss",
            "HuberLoss", "KLDivLoss"):
    case(f"{cls} bad reduction", (lambda cls: lambda m: getattr(m.nn, cls)(reduction="avg")(
        x(m, 3, 4).sigmoid(), m.ones(3, 4) if "Entropy" not in cls and "NLL" not in cls
        else m.tensor([0, 1, 2])))(cls), "reduction")
case("mse_loss None target", lambda m: F(m).mse_loss(x(m, 3), None), "target")
case("binary_cross_entropy target > 1 values",
     lambda m: F(m).binary_cross_entropy(x(m, 3).sigmoid(), x(m, 3).sigmoid(), weight=m.ones(4)), "weight")
case("huber_loss delta 0", lambda m: F(m).huber_loss(x(m, 3), x(m, 3), delta=0.0), "delta")
case("smooth_l1_loss beta negative", lambda m: F(m).smooth_l1_loss(x(m, 3), x(m, 3), beta=-1.0), "beta")
case("layer_norm shape mismatch", lambda m: F(m).layer_norm(x(m, 2, 3), (4,)), "normalized_shape")
case("layer_norm shape longer than input", lambda m: F(m).layer_norm(x(m, 3), (2, 3)), "normalized_shape")
case("layer_norm weight wrong", lambda m: F(m).layer_norm(x(m, 2, 3), (3,), weight=m.ones(4)), "weight")
case("layer_norm int shape (ok)", lambda m: F(m).layer_norm(x(m, 2, 3), 3), "normalized_shape")
case("layer_norm None", lambda m: F(m).layer_norm(None, (3,)), "input")
case("batch_norm running_mean wrong size",
     lambda m: F(m).batch_norm(x(m, 4, 3), m.zeros(2), m.ones(3)), "running_mean")
case("batch_norm running_var wrong size",
     lambda m: F(m).batch_norm(x(m, 4, 3), m.zeros(3), m.ones(5)), "running_var")
case("batch_norm weight wrong size",
     lambda m: F(m).batch_norm(x(m, 4, 3), m.zeros(3), m.ones(3), weight=m.ones(2)), "weight")
case("batch_norm no running stats eval",
     lambda m: F(m).batch_norm(x(m, 4, 3), None, None, training=False), "running_mean")
case("batch_norm no running stats training (ok)",
     lambda m: F(m).batch_norm(x(m, 4, 3), None, None, training=True), "running_mean")
case("batch_norm None input", lambda m: F(m).batch_norm(None, m.zeros(3), m.ones(3)), "input")
case("group_norm not dividing", lambda m: F(m).group_norm(x(m, 2, 6, 3), 4), "num_groups")
case("linear wrong weight", lambda m: F(m).linear(x(m, 2, 3), x(m, 4, 2)), "linear")
case("linear None weight", lambda m: F(m).linear(x(m, 2, 3), None), "weight")
case("linear bias wrong", lambda m: F(m).linear(x(m, 2, 3), x(m, 4, 3), x(m, 3)), "linear")
case("normalize p str", lambda m: F(m).normalize(x(m, 2, 3), p="fro"), "normalize")
case("normalize dim out of range", lambda m: F(m).normalize(x(m, 2, 3), dim=2), "dim")
case("leaky_relu None", lambda m: F(m).leaky_relu(None), "input")
case("relu None", lambda m: F(m).relu(None), "input")
case("gelu bad approximate", lambda m: F(m).gelu(x(m, 3), approximate="fast"), "approximate")
case("glu dim out of range", lambda m: F(m).glu(x(m, 2, 4), dim=2), "dim")
case("cosine_similarity dim out of range", lambda m: F(m).cosine_similarity(x(m, 2, 3), x(m, 2, 3), dim=2),
     "dim")
case("scaled_dot_product_attention mismatch",
     lambda m: F(m).scaled_dot_product_attention(x(m, 2, 3, 4), x(m, 2, 5, 3), x(m, 2, 5, 4)),
     "scaled_dot_product_attention")
case("threshold None", lambda m: F(m).threshold(None, 0.0, 0.0), "input")

# --- nn.init ---------------------------------------------------------------------------------
I = lambda m: m.nn.init  # noqa: E731
case("kaiming_uniform_ bad mode", lambda m: I(m).kaiming_uniform_(m.empty(3, 4), mode="fan_avg"), "mode")
case("kaiming_normal_ bad nonlinearity",
     lambda m: I(m).kaiming_normal_(m.empty(3, 4), nonlinearity="swish"), "nonlinearity")
case("kaiming_uniform_ 1d", lambda m: I(m).kaiming_uniform_(m.empty(3)), "dimensions")
case("xavier_uniform_ 1d", lambda m: I(m).xavier_uniform_(m.empty(3)), "dimensions")
case("xavier_normal_ 0-d", lambda m: I(m).xavier_normal_(m.empty(())), "dimensions")
case("kaiming zero-element (ok)", lambda m: I(m).kaiming_uniform_(m.empty(0, 3)), "kaiming")
case("orthogonal_ 1d", lambda m: I(m).orthogonal_(m.empty(3)), "dimensions")
case("eye_ 3d", lambda m: I(m).eye_(m.empty(2, 2, 2)), "eye_")
case("dirac_ 2d", lambda m: I(m).dirac_(m.empty(2, 2)), "dirac_")
case("sparse_ 3d", lambda m: I(m).sparse_(m.empty(2, 2, 2), 0.5), "sparse_")
case("calculate_gain bad", lambda m: I(m).calculate_gain("swish"), "nonlinearity")
case("calculate_gain leaky str param", lambda m: I(m).calculate_gain("leaky_relu", "a"), "param")
case("uniform_ None", lambda m: I(m).uniform_(None), "tensor")
case("normal_ str", lambda m: I(m).normal_("w"), "tensor")
case("constant_ None", lambda m: I(m).constant_(None, 1.0), "tensor")
case("trunc_normal_ a > b (ok)", lambda m: I(m).trunc_normal_(m.empty(3), a=2.0, b=1.0), "trunc_normal_")

# --- Module API --------------------------------------------------------------------------
def _sd_change(m, mutate, strict=True):
    net = m.nn.Linear(3, 2)
    sd = dict(net.state_dict())
    mutate(m, sd)
    return net.load_state_dict(sd, strict=strict)


case("add_module dotted name", lambda m: m.nn.Module().add_module("a.b", m.nn.ReLU()), "name")
case("add_module empty name", lambda m: m.nn.Module().add_module("", m.nn.ReLU()), "name")
case("add_module int name", lambda m: m.nn.Module().add_module(3, m.nn.ReLU()), "name")
case("add_module non-module", lambda m: m.nn.Module().add_module("a", 3), "module")
case("add_module None (ok)", lambda m: m.nn.Module().add_module("a", None), "module")
case("add_module existing attribute", lambda m: m.nn.Module().add_module("train", m.nn.ReLU()), "train")
case("register_buffer non-tensor", lambda m: m.nn.Module().register_buffer("b", 3), "buffer")
case("register_buffer dotted", lambda m: m.nn.Module().register_buffer("a.b", m.zeros(2)), "buffer")
case("register_buffer None (ok)", lambda m: m.nn.Module().register_buffer("b", None), "buffer")
case("register_parameter tensor", lambda m: m.nn.Module().register_parameter("p", m.zeros(2)), "parameter")
case("register_parameter dotted",
     lambda m: m.nn.Module().register_parameter("a.b", m.nn.Parameter(m.zeros(2))), "parameter")
case("setattr tensor over parameter", lambda m: setattr(m.nn.Linear(2, 2), "weight", m.zeros(2, 2)),
     "weight")
case("load_state_dict list", lambda m: m.nn.Linear(3, 2).load_state_dict([1, 2]), "state_dict")
case("load_state_dict None", lambda m: m.nn.Linear(3, 2).load_state_dict(None), "state_dict")
case("load_state_dict tensor", lambda m: m.nn.Linear(3, 2).load_state_dict(m.zeros(2)), "state_dict")
case("load_state_dict missing key", lambda m: _sd_change(m, lambda m, sd: sd.pop("bias")), "bias")
case("load_state_dict unexpected key",
     lambda m: _sd_change(m, lambda m, sd: sd.__setitem__("extra", m.zeros(1))), "extra")
case("load_state_dict missing non-strict (ok)",
     lambda m: _sd_change(m, lambda m, sd: sd.pop("bias"), strict=False), "bias")
case("load_state_dict wrong shape", lambda m: _sd_change(m, lambda m, sd: sd.__setitem__("bias", m.zeros(3))),
     "bias")
case("load_state_dict wrong shape non-strict",
     lambda m: _sd_change(m, lambda m, sd: sd.__setitem__("bias", m.zeros(3)), strict=False), "bias")
case("load_state_dict non-tensor value",
     lambda m: _sd_change(m, lambda m, sd: sd.__setitem__("bias", [1.0, 2.0])), "bias")
case("load_state_dict float64 value (ok)",
     lambda m: _sd_change(m, lambda m, sd: sd.__setitem__("bias", m.zeros(2, dtype=m.float64))), "bias")
case("to bad string", lambda m: m.nn.Linear(2, 2).to("gpu"), "gpu")
case("to int dtype", lambda m: m.nn.Linear(2, 2).to(m.int64), "dtype")
case("to float64 (ok)", lambda m: m.nn.Linear(2, 2).to(m.float64), "to")
case("Sequential non-module", lambda m: m.nn.Sequential(m.nn.ReLU(), 3), "module")
case("ModuleList append non-module", lambda m: m.nn.ModuleList().append(3), "module")
case("ModuleDict non-module", lambda m: m.nn.ModuleDict({"a": 3}), "module")
case("ModuleList index out of range", lambda m: m.nn.ModuleList([m.nn.ReLU()])[3], "index")
case("Sequential index out of range", lambda m: m.nn.Sequential(m.nn.ReLU())[2], "index")
case("ParameterList tensor (ok)", lambda m: m.nn.ParameterList([m.zeros(2)]), "parameter")
case("requires_grad_ str (ok)", lambda m: m.nn.Linear(2, 2).requires_grad_(True), "requires_grad")
case("train non-bool", lambda m: m.nn.Linear(2, 2).train("yes"), "mode")
case("Parameter of list", lambda m: m.nn.Parameter([1.0, 2.0]), "data")

# --- optimizers --------------------------------------------------------------------------------
def params(m):
    return [m.nn.Parameter(m.zeros(2))]


OPTS = {"SGD": {}, "Adam": {}, "AdamW": {}, "RMSprop": {}, "Adagrad": {}, "Adamax": {}}
for opt in OPTS:
    case(f"{opt} lr < 0", (lambda o: lambda m: getattr(m.optim, o)(params(m), lr=-0.1))(opt), "lr")
    case(f"{opt} weight_decay < 0",
         (lambda o: lambda m: getattr(m.optim, o)(params(m), lr=0.1, weight_decay=-1.0))(opt), "weight_decay")
    case(f"{opt} empty params", (lambda o: lambda m: getattr(m.optim, o)([], lr=0.1))(opt), "parameter")
    case(f"{opt} lr 0 (ok)", (lambda o: lambda m: getattr(m.optim, o)(params(m), lr=0.0))(opt), "lr")
for opt in ("Adam", "AdamW", "Adamax"):
    for i, betas in enumerate([(1.0, 0.999), (0.9, 1.0), (-0.1, 0.9), (0.9, -0.5)]):
        case(f"{opt} betas[{i}] {betas}", (lambda o, b: lambda m: getattr(m.optim, o)(params(m), betas=b))(
            opt, betas), "beta")
    case(f"{opt} eps < 0", (lambda o: lambda m: getattr(m.optim, o)(params(m), eps=-1e-8))(opt), "eps")
    case(f"{opt} betas 0 (ok)", (lambda o: lambda m: getattr(m.optim, o)(params(m), betas=(0.0, 0.0)))(opt),
         "beta")
case("SGD momentum < 0", lambda m: m.optim.SGD(params(m), lr=0.1, momentum=-0.5), "momentum")
case("SGD nesterov without momentum", lambda m: m.optim.SGD(params(m), lr=0.1, nesterov=True), "nesterov")
case("SGD nesterov with dampening",
     lambda m: m.optim.SGD(params(m), lr=0.1, momentum=0.9, dampening=0.5, nesterov=True), "nesterov")
case("SGD no lr (ok)", lambda m: m.optim.SGD(params(m)), "lr")
case("SGD tensor param", lambda m: m.optim.SGD(m.zeros(2, requires_grad=True), lr=0.1), "params")
case("SGD non-iterable", lambda m: m.optim.SGD(3, lr=0.1), "params")
case("SGD None params", lambda m: m.optim.SGD(None, lr=0.1), "params")
case("SGD list of ints", lambda m: m.optim.SGD([1, 2], lr=0.1), "tensor")
case("SGD non-leaf param", lambda m: m.optim.SGD([m.zeros(2, requires_grad=True) * 2], lr=0.1), "leaf")
case("SGD generator (ok)", lambda m: m.optim.SGD(m.nn.Linear(2, 2).parameters(), lr=0.1), "params")
case("SGD duplicate across groups", lambda m: (lambda p: m.optim.SGD([{"params": p}, {"params": p}], lr=0.1))(
    params(m)), "parameter")
case("SGD duplicate in group warns", lambda m: (lambda p: m.optim.SGD(p + p, lr=0.1))(params(m)), "duplicate")
case("SGD group without params", lambda m: m.optim.SGD([{"lr": 0.1}], lr=0.1), "params")
case("SGD group lr < 0", lambda m: m.optim.SGD([{"params": params(m), "lr": -1.0}], lr=0.1), "lr")
case("RMSprop alpha < 0", lambda m: m.optim.RMSprop(params(m), alpha=-0.1), "alpha")
case("RMSprop momentum < 0", lambda m: m.optim.RMSprop(params(m), momentum=-0.1), "momentum")
case("RMSprop eps < 0", lambda m: m.optim.RMSprop(params(m), eps=-1.0), "eps")
case("Adagrad lr_decay < 0", lambda m: m.optim.Adagrad(params(m), lr_decay=-1.0), "lr_decay")
case("Adagrad initial_accumulator_value < 0",
     lambda m: m.optim.Adagrad(params(m), initial_accumulator_value=-1.0), "initial_accumulator_value")
case("Adagrad eps < 0", lambda m: m.optim.Adagrad(params(m), eps=-1.0), "eps")
case("SGD lr str", lambda m: m.optim.SGD(params(m), lr="0.1"), "lr")


def _add_group(m, group):
    opt = m.optim.SGD(params(m), lr=0.1)
    opt.add_param_group(group(m))


case("add_param_group non-dict", lambda m: _add_group(m, lambda m: params(m)), "param_group")
case("add_param_group no params", lambda m: _add_group(m, lambda m: {"lr": 0.1}), "params")
case("add_param_group duplicate", lambda m: (lambda p: m.optim.SGD(p, lr=0.1).add_param_group({"params": p}))(
    params(m)), "parameter")
case("add_param_group set", lambda m: _add_group(m, lambda m: {"params": set(params(m))}), "set")
case("add_param_group ok", lambda m: _add_group(m, lambda m: {"params": params(m), "lr": 0.5}), "params")
case("add_param_group non-tensor", lambda m: _add_group(m, lambda m: {"params": [3]}), "tensor")


def _opt_load(m, mutate):
    opt = m.optim.SGD(params(m), lr=0.1, momentum=0.9)
    sd = opt.state_dict()
    return opt.load_state_dict(mutate(m, sd))


case("optimizer load_state_dict extra group",
     lambda m: _opt_load(m, lambda m, sd: {**sd, "param_groups": sd["param_groups"] * 2}), "group")
case("optimizer load_state_dict group size",
     lambda m: _opt_load(m, lambda m, sd: {**sd, "param_groups": [{**sd["param_groups"][0], "params": [0, 1]}]}),
     "group")
case("optimizer load_state_dict no param_groups",
     lambda m: _opt_load(m, lambda m, sd: {"state": {}}), "param_groups")
case("optimizer load_state_dict None", lambda m: _opt_load(m, lambda m, sd: None), "state_dict")
case("optimizer load_state_dict ok", lambda m: _opt_load(m, lambda m, sd: sd), "state_dict")
case("optimizer zero_grad (ok)", lambda m: m.optim.SGD(params(m), lr=0.1).zero_grad(), "zero_grad")

# --- lr schedulers -------------------------------------------------------------------------------
def sched(name, *a, **k):
    return lambda m: getattr(m.optim.lr_scheduler, name)(m.optim.SGD(params(m), lr=0.1), *a, **k)


S = "lr_scheduler"
case("StepLR non-optimizer", lambda m: m.optim.lr_scheduler.StepLR(params(m), 2), "optimizer")
case("StepLR step_size float", sched("StepLR", 2.5), "step_size")
case("StepLR step_size 0 (ok)", sched("StepLR", 0), "step_size")
case("MultiStepLR unsorted milestones (ok)", sched("MultiStepLR", [3, 1]), "milestones")
case("ExponentialLR gamma str", lambda m: sched("ExponentialLR", "0.9")(m).step(), "gamma")
case("LambdaLR wrong number of lambdas", sched("LambdaLR", [lambda e: 1.0, lambda e: 1.0]), "lr_lambda")
case("MultiplicativeLR wrong number", sched("MultiplicativeLR", [lambda e: 1.0] * 2), "lr_lambda")
case("ConstantLR factor > 1", sched("ConstantLR", factor=1.5), "factor")
case("ConstantLR factor < 0", sched("ConstantLR", factor=-0.5), "factor")
case("LinearLR start_factor 0", sched("LinearLR", start_factor=0.0), "start_factor")
case("LinearLR end_factor > 1", sched("LinearLR", end_factor=1.5), "end_factor")
case("CosineAnnealingWarmRestarts T_0 0", sched("CosineAnnealingWarmRestarts", 0), "T_0")
case("CosineAnnealingWarmRestarts T_mult 0", sched("CosineAnnealingWarmRestarts", 2, T_mult=0), "T_mult")
case("CosineAnnealingWarmRestarts T_0 float", sched("CosineAnnealingWarmRestarts", 2.5), "T_0")
case("CosineAnnealingWarmRestarts eta_min str", sched("CosineAnnealingWarmRestarts", 2, eta_min="0"),
     "eta_min")
case("ReduceLROnPlateau bad mode", sched("ReduceLROnPlateau", mode="maximize"), "mode")
case("ReduceLROnPlateau factor >= 1", sched("ReduceLROnPlateau", factor=1.0), "factor")
case("ReduceLROnPlateau bad threshold_mode", sched("ReduceLROnPlateau", threshold_mode="pct"),
     "threshold_mode")
case("ReduceLROnPlateau min_lr list wrong length", sched("ReduceLROnPlateau", min_lr=[0.0, 0.0]), "min_lr")
case("OneCycleLR no total_steps", sched("OneCycleLR", max_lr=1.0), "total_steps")
case("OneCycleLR total_steps 0", sched("OneCycleLR", max_lr=1.0, total_steps=0), "total_steps")
case("OneCycleLR total_steps float", sched("OneCycleLR", max_lr=1.0, total_steps=10.5), "total_steps")
case("OneCycleLR epochs 0", sched("OneCycleLR", max_lr=1.0, epochs=0, steps_per_epoch=2), "epochs")
case("OneCycleLR pct_start > 1", sched("OneCycleLR", max_lr=1.0, total_steps=10, pct_start=1.5), "pct_start")
case("OneCycleLR bad anneal", sched("OneCycleLR", max_lr=1.0, total_steps=10, anneal_strategy="exp"),
     "anneal_strategy")
case("OneCycleLR max_lr list wrong length", sched("OneCycleLR", max_lr=[1.0, 2.0], total_steps=10), "max_lr")
case("OneCycleLR step past total",
     lambda m: [s.step() for s in [sched("OneCycleLR", max_lr=1.0, total_steps=2)(m)] for _ in range(3)],
     "OneCycleLR")
case("PolynomialLR (ok)", sched("PolynomialLR", total_iters=4, power=2.0), "total_iters")
case("SequentialLR milestones wrong length",
     lambda m: (lambda o: m.optim.lr_scheduler.SequentialLR(
         o, [m.optim.lr_scheduler.StepLR(o, 2), m.optim.lr_scheduler.StepLR(o, 2)], milestones=[1, 2]))(
         m.optim.SGD(params(m), lr=0.1)), "milestones")
case("SequentialLR other optimizer",
     lambda m: m.optim.lr_scheduler.SequentialLR(
         m.optim.SGD(params(m), lr=0.1), [m.optim.lr_scheduler.StepLR(m.optim.SGD(params(m), lr=0.1), 2)],
         milestones=[]), "optimizer")
case("ChainedScheduler other optimizers",
     lambda m: m.optim.lr_scheduler.ChainedScheduler(
         [m.optim.lr_scheduler.StepLR(m.optim.SGD(params(m), lr=0.1), 2),
          m.optim.lr_scheduler.StepLR(m.optim.SGD(params(m), lr=0.1), 2)]), "optimizer")
case("scheduler last_epoch without initial_lr", sched("StepLR", 2, last_epoch=3), "initial_lr")

# --- utils.data ----------------------------------------------------------------------------------
def data(m, n=5):
    return m.utils.data.TensorDataset(m.arange(n), m.arange(n))


def _stream(m):
    class Stream(m.utils.data.IterableDataset):
        def __iter__(self):
            return iter(range(3))
    return Stream()


def DL(m, *a, **k):
    return m.utils.data.DataLoader(data(m), *a, **k)


case("DataLoader batch_size 0", lambda m: DL(m, batch_size=0), "batch_size")
case("DataLoader batch_size negative", lambda m: DL(m, batch_size=-1), "batch_size")
case("DataLoader batch_size float", lambda m: list(DL(m, batch_size=2.5)), "batch_size")
case("DataLoader batch_size str", lambda m: list(DL(m, batch_size="2")), "batch_size")
case("DataLoader batch_size None (ok)", lambda m: list(DL(m, batch_size=None)), "batch_size")
case("DataLoader num_workers negative", lambda m: DL(m, num_workers=-1), "num_workers")
case("DataLoader sampler with shuffle",
     lambda m: DL(m, sampler=m.utils.data.SequentialSampler(range(5)), shuffle=True), "shuffle")
case("DataLoader batch_sampler with batch_size",
     lambda m: DL(m, batch_size=2, batch_sampler=m.utils.data.BatchSampler(range(5), 2, False)), "batch_sampler")
case("DataLoader batch_sampler with drop_last",
     lambda m: DL(m, batch_size=1, drop_last=True, batch_sampler=m.utils.data.BatchSampler(range(5), 2, False)),
     "batch_sampler")
case("DataLoader timeout negative", lambda m: DL(m, timeout=-1), "timeout")
case("DataLoader prefetch_factor without workers", lambda m: DL(m, prefetch_factor=2), "prefetch_factor")
case("DataLoader collate_fn returns int (ok)", lambda m: list(DL(m, collate_fn=lambda b: 1)), "collate")
case("DataLoader collate_fn returns None (ok)", lambda m: list(DL(m, collate_fn=lambda b: None)), "collate")
case("DataLoader collate mismatched shapes",
     lambda m: list(m.utils.data.DataLoader([m.zeros(2), m.zeros(3)], batch_size=2)), "stack")
case("DataLoader collate mixed types",
     lambda m: list(m.utils.data.DataLoader([1, "a"], batch_size=2)), "str")
case("DataLoader collate None elements",
     lambda m: list(m.utils.data.DataLoader([None, None], batch_size=2)), "collate")
case("DataLoader collate dicts mismatched keys",
     lambda m: list(m.utils.data.DataLoader([{"a": 1}, {"b": 2}], batch_size=2)), "a")
case("DataLoader collate tuples different lengths",
     lambda m: list(m.utils.data.DataLoader([(1, 2), (1,)], batch_size=2)), "size")
case("DataLoader shuffle str", lambda m: DL(m, shuffle="yes"), "shuffle")
case("TensorDataset size mismatch", lambda m: m.utils.data.TensorDataset(m.zeros(3), m.zeros(4)), "size")
case("TensorDataset non-tensor", lambda m: m.utils.data.TensorDataset([1, 2, 3]), "tensor")
case("TensorDataset index out of range", lambda m: data(m)[7], "index")
case("random_split lengths not summing", lambda m: m.utils.data.random_split(range(5), [2, 2]), "length")
case("random_split fractions not summing", lambda m: m.utils.data.random_split(range(5), [0.5, 0.2]), "sum")
case("random_split fractions (ok)", lambda m: m.utils.data.random_split(range(5), [0.6, 0.4]), "length")
case("random_split fraction > 1", lambda m: m.utils.data.random_split(range(5), [1.5, -0.5]), "fraction")
case("Subset index out of range", lambda m: m.utils.data.Subset(range(3), [0, 1])[5], "index")
case("ConcatDataset empty", lambda m: m.utils.data.ConcatDataset([]), "datasets")
case("ConcatDataset index out of range", lambda m: m.utils.data.ConcatDataset([range(2), range(3)])[9], "index")
case("ConcatDataset negative index too small",
     lambda m: m.utils.data.ConcatDataset([range(2), range(3)])[-9], "index")
case("StackDataset size mismatch", lambda m: m.utils.data.StackDataset(range(2), range(3)), "size")
case("RandomSampler num_samples 0", lambda m: m.utils.data.RandomSampler(range(3), num_samples=0), "num_samples")
case("RandomSampler num_samples float",
     lambda m: m.utils.data.RandomSampler(range(3), num_samples=1.5), "num_samples")
case("RandomSampler replacement str",
     lambda m: m.utils.data.RandomSampler(range(3), replacement="yes"), "replacement")
case("BatchSampler batch_size 0", lambda m: m.utils.data.BatchSampler(range(5), 0, False), "batch_size")
case("BatchSampler drop_last int", lambda m: m.utils.data.BatchSampler(range(5), 2, 1), "drop_last")
case("WeightedRandomSampler negative weight",
     lambda m: list(m.utils.data.WeightedRandomSampler([1.0, -1.0], 2)), "weights")
case("WeightedRandomSampler num_samples 0",
     lambda m: m.utils.data.WeightedRandomSampler([1.0, 1.0], 0), "num_samples")
case("WeightedRandomSampler without replacement too many",
     lambda m: list(m.utils.data.WeightedRandomSampler([1.0, 1.0], 3, replacement=False)), "sample")
case("default_collate empty", lambda m: m.utils.data.default_collate([]), "collate")

# --- clip_grad ------------------------------------------------------------------------------------
def grads(m, values=(1.0, 2.0)):
    p = m.nn.Parameter(m.zeros(len(values)))
    p.grad = m.tensor(list(values))
    return [p]


U = lambda m: m.nn.utils  # noqa: E731
case("clip_grad_norm_ norm_type str", lambda m: U(m).clip_grad_norm_(grads(m), 1.0, norm_type="l2"), "norm")
case("clip_grad_norm_ norm_type inf str (ok)",
     lambda m: U(m).clip_grad_norm_(grads(m), 1.0, norm_type="inf"), "norm")
case("clip_grad_norm_ norm_type 0 (ok)", lambda m: U(m).clip_grad_norm_(grads(m), 1.0, norm_type=0), "norm")
case("clip_grad_norm_ max_norm str", lambda m: U(m).clip_grad_norm_(grads(m), "1"), "max_norm")
case("clip_grad_norm_ nonfinite error",
     lambda m: U(m).clip_grad_norm_(grads(m, (1.0, float("inf"))), 1.0, error_if_nonfinite=True),
     "error_if_nonfinite")
case("clip_grad_norm_ nan error",
     lambda m: U(m).clip_grad_norm_(grads(m, (float("nan"), 1.0)), 1.0, error_if_nonfinite=True), "error_if_nonfinite")
case("clip_grad_norm_ nonfinite no error (ok)",
     lambda m: U(m).clip_grad_norm_(grads(m, (1.0, float("inf"))), 1.0), "norm")
case("clip_grad_norm_ no grads (ok)", lambda m: U(m).clip_grad_norm_([m.nn.Parameter(m.zeros(2))], 1.0), "norm")
case("clip_grad_norm_ None params", lambda m: U(m).clip_grad_norm_(None, 1.0), "parameters")
case("clip_grad_value_ str", lambda m: U(m).clip_grad_value_(grads(m), "1"), "clip_value")
case("parameters_to_vector non-tensor", lambda m: U(m).parameters_to_vector([1.0]), "parameters_to_vector")
case("vector_to_parameters too short",
     lambda m: U(m).vector_to_parameters(m.zeros(1), [m.nn.Parameter(m.zeros(2))]), "vector")
case("vector_to_parameters not tensor",
     lambda m: U(m).vector_to_parameters([0.0, 0.0], [m.nn.Parameter(m.zeros(2))]), "vec")


# --- more layers, inputs and utilities -------------------------------------------------------
for what, v in [("float", 2.5), ("negative", -2), ("None", None), ("str", "4")]:
    case(f"ConvTranspose1d in {what}", (lambda v: lambda m: m.nn.ConvTranspose1d(v, 2, 3))(v), "in_channels")
    case(f"Bilinear out {what}", (lambda v: lambda m: m.nn.Bilinear(2, 2, v))(v), "out_features")
    case(f"LSTMCell input {what}", (lambda v: lambda m: m.nn.LSTMCell(v, 3))(v), "input_size")
    case(f"RNNCell hidden {what}", (lambda v: lambda m: m.nn.RNNCell(3, v))(v), "hidden_size")
    case(f"GRU hidden {what}", (lambda v: lambda m: m.nn.GRU(3, v))(v), "hidden_size")
    case(f"LayerNorm shape {what}", (lambda v: lambda m: m.nn.LayerNorm(v))(v), "normalized_shape")
    case(f"GroupNorm groups {what}", (lambda v: lambda m: m.nn.GroupNorm(v, 4)(x(m, 2, 4, 3)))(v), "num_groups")
    case(f"TransformerEncoderLayer d_model {what}",
         (lambda v: lambda m: m.nn.TransformerEncoderLayer(v, 2))(v), "d_model")
    case(f"LazyLinear out {what}", (lambda v: lambda m: m.nn.LazyLinear(v)(x(m, 2, 3)))(v), "out_features")
    case(f"PReLU num_parameters {what}", (lambda v: lambda m: m.nn.PReLU(v))(v), "num_parameters")
    case(f"AdaptiveAvgPool1d output {what}",
         (lambda v: lambda m: m.nn.AdaptiveAvgPool1d(v)(x(m, 1, 2, 6)))(v), "output_size")
case("MultiheadAttention num_heads 0", lambda m: m.nn.MultiheadAttention(4, 0), "num_heads")
case("MultiheadAttention dropout > 1", lambda m: m.nn.MultiheadAttention(4, 2, dropout=2.0), "dropout")
case("TransformerEncoderLayer dim_feedforward 0 (ok)",
     lambda m: m.nn.TransformerEncoderLayer(4, 2, dim_feedforward=0), "dim_feedforward")
case("Flatten float dim", lambda m: m.nn.Flatten(1.0)(x(m, 2, 3, 4)), "dim")
case("Unflatten negative size", lambda m: m.nn.Unflatten(1, (-2, 3))(x(m, 2, 6)), "unflatten")
case("Unflatten -1 size (ok)", lambda m: m.nn.Unflatten(1, (-1, 3))(x(m, 2, 6)), "unflatten")
case("Conv1d float64 input", lambda m: m.nn.Conv1d(3, 2, 3)(x(m, 1, 3, 5, dtype=m.float64)), "conv1d")
case("Conv2d after double (ok)", lambda m: m.nn.Conv2d(3, 2, 3).double()(x(m, 1, 3, 5, 5, dtype=m.float64)),
     "conv2d")
case("Embedding int32 index (ok)", lambda m: m.nn.Embedding(4, 3)(m.tensor([1, 2], dtype=m.int32)), "index")
case("Embedding None", lambda m: m.nn.Embedding(4, 3)(None), "input")
case("LSTM None", lambda m: m.nn.LSTM(3, 4)(None), "input")
case("LSTM int input", lambda m: m.nn.LSTM(3, 4)(m.ones(5, 2, 3, dtype=m.int64)), "lstm")
case("LSTM hx not tuple", lambda m: m.nn.LSTM(3, 4)(x(m, 5, 2, 3), x(m, 1, 2, 4)), "hx")
case("LayerNorm int input", lambda m: m.nn.LayerNorm(3)(m.ones(2, 3, dtype=m.int64)), "layer_norm")
case("BatchNorm1d int input", lambda m: m.nn.BatchNorm1d(3)(m.ones(4, 3, dtype=m.int64)), "batch_norm")
case("MaxPool1d None", lambda m: m.nn.MaxPool1d(2)(None), "input")
case("Sequential forward None", lambda m: m.nn.Sequential(m.nn.Linear(2, 2))(None), "input")
case("ReLU None", lambda m: m.nn.ReLU()(None), "input")
case("Softmax None", lambda m: m.nn.Softmax(dim=0)(None), "input")
case("GELU str", lambda m: m.nn.GELU()("x"), "input")
case("Dropout None", lambda m: m.nn.Dropout()(None), "input")
case("Identity None (ok)", lambda m: m.nn.Identity()(None), "input")
case("embedding max_norm (ok)", lambda m: F(m).embedding(m.tensor([1]), x(m, 4, 3), max_norm=1.0), "max_norm")
case("embedding float index", lambda m: F(m).embedding(m.tensor([1.0]), x(m, 4, 3)), "embedding")
case("max_pool2d return_indices ceil (ok)",
     lambda m: F(m).max_pool2d(x(m, 1, 1, 5, 5), 2, ceil_mode=True, return_indices=True), "pool")
case("avg_pool1d None", lambda m: F(m).avg_pool1d(None, 2), "input")
case("pad circular too big", lambda m: F(m).pad(x(m, 1, 2, 3), (4, 0), mode="circular"), "pad")
case("pad int", lambda m: F(m).pad(x(m, 2, 3), 1), "pad")
case("pad reflect on 1d", lambda m: F(m).pad(x(m, 3), (1, 1), mode="reflect"), "pad")
case("interpolate trilinear on 4d",
     lambda m: F(m).interpolate(x(m, 1, 2, 4, 4), scale_factor=2, mode="trilinear"), "trilinear")
case("interpolate nearest 5d (ok)", lambda m: F(m).interpolate(x(m, 1, 1, 2, 2, 2), scale_factor=2), "size")
case("interpolate scale str", lambda m: F(m).interpolate(x(m, 1, 2, 4), scale_factor="2"), "scale_factor")
case("interpolate scale list wrong length",
     lambda m: F(m).interpolate(x(m, 1, 2, 4, 4), scale_factor=[2.0]), "scale_factor")
case("kl_div shape mismatch", lambda m: F(m).kl_div(x(m, 3, 4), x(m, 2, 4)), "kl_div")
case("cosine_similarity shape mismatch",
     lambda m: F(m).cosine_similarity(x(m, 2, 3), x(m, 4, 3)), "cosine_similarity")
case("pairwise_distance shape mismatch",
     lambda m: F(m).pairwise_distance(x(m, 2, 3), x(m, 2, 4)), "pairwise_distance")
case("normalize None", lambda m: F(m).normalize(None), "input")
case("cosine_similarity None", lambda m: F(m).cosine_similarity(None, x(m, 2, 3)), "x1")
case("nll_loss weight wrong size", lambda m: F(m).nll_loss(x(m, 3, 4), m.tensor([0, 1, 2]), weight=m.ones(5)),
     "weight")
case("nll_loss None input", lambda m: F(m).nll_loss(None, m.tensor([0])), "input")
case("mse_loss None input", lambda m: F(m).mse_loss(None, x(m, 3)), "input")
case("l1_loss str target", lambda m: F(m).l1_loss(x(m, 3), "y"), "target")
case("log_softmax int with dtype (ok)",
     lambda m: F(m).log_softmax(m.tensor([1, 2]), dim=0, dtype=m.float32), "dtype")
case("hardtanh min > max", lambda m: F(m).hardtanh(x(m, 3), 2.0, 1.0), "min_val")
case("elu None", lambda m: F(m).elu(None), "input")
case("prelu None weight", lambda m: F(m).prelu(x(m, 2, 3), None), "weight")
case("group_norm None", lambda m: F(m).group_norm(None, 2), "input")
case("instance_norm None", lambda m: F(m).instance_norm(None), "input")
case("scaled_dot_product_attention None", lambda m: F(m).scaled_dot_product_attention(None, None, None),
     "query")
case("scaled_dot_product_attention dropout_p > 1",
     lambda m: F(m).scaled_dot_product_attention(x(m, 2, 3, 4), x(m, 2, 3, 4), x(m, 2, 3, 4), dropout_p=1.5),
     "dropout_p")
case("init uniform_ int tensor (ok)", lambda m: I(m).uniform_(m.zeros(3, dtype=m.int64)), "uniform_")
case("init normal_ std negative", lambda m: I(m).normal_(m.empty(3), std=-1.0), "std")
case("init sparse_ sparsity > 1", lambda m: I(m).sparse_(m.empty(3, 3), 2.0), "sparsity")
case("init orthogonal_ zero-element (ok)", lambda m: I(m).orthogonal_(m.empty(0, 3)), "orthogonal_")
case("init dirac_ groups not dividing", lambda m: I(m).dirac_(m.empty(3, 2, 3), groups=2), "dirac_")
case("Module apply non-callable", lambda m: m.nn.Linear(2, 2).apply(3), "apply")
case("register_forward_hook non-callable (ok)",
     lambda m: m.nn.Linear(2, 2).register_forward_hook(3), "hook")
case("named_parameters prefix (ok)", lambda m: list(m.nn.Linear(2, 2).named_parameters(prefix="a")), "prefix")
case("Sequential insert out of range", lambda m: m.nn.Sequential(m.nn.ReLU()).insert(5, m.nn.ReLU()), "index")
case("ModuleDict update non-mapping", lambda m: m.nn.ModuleDict().update(3), "ModuleDict")
case("state_dict load tensors shape transposed",
     lambda m: _sd_change(m, lambda m, sd: sd.__setitem__("weight", sd["weight"].t())), "weight")
case("Adam amsgrad (ok)", lambda m: m.optim.Adam(params(m), amsgrad=True), "amsgrad")
case("Adam lr tensor 2 elements", lambda m: m.optim.Adam(params(m), lr=m.tensor([0.1, 0.2])), "lr")
case("Adam betas wrong length", lambda m: m.optim.Adam(params(m), betas=(0.9,)), "beta")
case("SGD momentum str", lambda m: m.optim.SGD(params(m), lr=0.1, momentum="0.9"), "momentum")
case("SGD dict params (ok)", lambda m: m.optim.SGD([{"params": params(m)}], lr=0.1), "params")
case("SGD mixed dicts and tensors",
     lambda m: m.optim.SGD([{"params": params(m)}] + params(m), lr=0.1), "param_group")
case("SGD named params (ok)",
     lambda m: m.optim.SGD(list(m.nn.Linear(2, 2).named_parameters()), lr=0.1), "params")
case("AdamW weight_decay str", lambda m: m.optim.AdamW(params(m), weight_decay="0.01"), "weight_decay")
case("optimizer step with closure non-callable",
     lambda m: m.optim.SGD(params(m), lr=0.1).step(3), "closure")
case("CosineAnnealingLR T_max 0 step", lambda m: [s.step() for s in [sched("CosineAnnealingLR", 0)(m)]],
     "T_max")
case("MultiStepLR milestones int", sched("MultiStepLR", 3), "milestones")
case("LambdaLR non-callable", lambda m: sched("LambdaLR", 3)(m).step(), "lr_lambda")
case("StepLR step_size None", lambda m: sched("StepLR", None)(m).step(), "step_size")
case("PolynomialLR power str", lambda m: sched("PolynomialLR", power="2")(m).step(), "power")
case("ReduceLROnPlateau step None", lambda m: sched("ReduceLROnPlateau")(m).step(None), "metrics")
case("ReduceLROnPlateau patience negative (ok)", sched("ReduceLROnPlateau", patience=-1), "patience")
case("scheduler load_state_dict None", lambda m: sched("StepLR", 2)(m).load_state_dict(None), "state_dict")
case("DataLoader dataset None", lambda m: list(m.utils.data.DataLoader(None)), "dataset")
case("DataLoader batch_size bool", lambda m: list(DL(m, batch_size=True)), "batch_size")
case("DataLoader collate_fn not callable", lambda m: list(DL(m, collate_fn=3)), "collate_fn")
case("DataLoader sampler not iterable", lambda m: list(DL(m, sampler=3)), "sampler")
case("DataLoader iterable dataset shuffle",
     lambda m: m.utils.data.DataLoader(_stream(m), shuffle=True), "shuffle")
case("DataLoader iterable dataset len",
     lambda m: len(m.utils.data.DataLoader(_stream(m))), "len")
case("DataLoader drop_last everything (ok)", lambda m: list(DL(m, batch_size=10, drop_last=True)), "drop_last")
case("TensorDataset 0-d tensor", lambda m: m.utils.data.TensorDataset(m.tensor(1.0)), "tensor")
case("TensorDataset empty (ok)", lambda m: m.utils.data.TensorDataset(m.zeros(0, 2)), "tensor")
case("random_split generator wrong", lambda m: m.utils.data.random_split(range(4), [2, 2], generator=3),
     "generator")
case("random_split lengths None", lambda m: m.utils.data.random_split(range(4), None), "lengths")
case("Subset float index", lambda m: m.utils.data.Subset(range(3), [0, 1])[0.5], "index")
case("SubsetRandomSampler (ok)", lambda m: list(m.utils.data.SubsetRandomSampler([2, 0])), "indices")
case("SequentialSampler len of None", lambda m: len(m.utils.data.SequentialSampler(None)), "len")
case("clip_grad_norm_ max_norm negative (ok)", lambda m: U(m).clip_grad_norm_(grads(m), -1.0), "max_norm")
case("clip_grad_value_ None params", lambda m: U(m).clip_grad_value_(None, 1.0), "parameters")
case("clip_grad_norm_ tensor of params (ok)", lambda m: U(m).clip_grad_norm_(grads(m)[0], 1.0), "norm")
case("clip_grad_norm_ list of ints", lambda m: U(m).clip_grad_norm_([1, 2], 1.0), "parameters")


# --- state dicts and composite schedulers ----------------------------------------------------
def _bn_load(m, mutate, strict=True):
    bn = m.nn.BatchNorm1d(3)
    sd = dict(bn.state_dict())
    mutate(m, sd)
    return bn.load_state_dict(sd, strict=strict)


case("BatchNorm load running_mean wrong shape",
     lambda m: _bn_load(m, lambda m, sd: sd.__setitem__("running_mean", m.zeros(4))), "running_mean")
case("BatchNorm load without num_batches_tracked",
     lambda m: _bn_load(m, lambda m, sd: sd.pop("num_batches_tracked")), "num_batches_tracked")
case("BatchNorm load extra key non-strict (ok)",
     lambda m: _bn_load(m, lambda m, sd: sd.__setitem__("x", m.zeros(1)), strict=False), "x")
case("load_state_dict OrderedDict (ok)",
     lambda m: m.nn.Linear(2, 2).load_state_dict(m.nn.Linear(2, 2).state_dict()), "state_dict")
case("load_state_dict str", lambda m: m.nn.Linear(2, 2).load_state_dict("weights.pt"), "state_dict")
case("Sequential load nested missing",
     lambda m: m.nn.Sequential(m.nn.Linear(2, 2)).load_state_dict({"0.weight": m.zeros(2, 2)}), "0.bias")
case("optimizer load_state_dict list", lambda m: _opt_load(m, lambda m, sd: [sd]), "state_dict")
case("optimizer load_state_dict from Adam into SGD (ok)",
     lambda m: m.optim.SGD(params(m), lr=0.1).load_state_dict(m.optim.Adam(params(m)).state_dict()),
     "state_dict")
case("SequentialLR non-scheduler",
     lambda m: (lambda o: m.optim.lr_scheduler.SequentialLR(o, [3], milestones=[]))(
         m.optim.SGD(params(m), lr=0.1)), "optimizer")
case("SequentialLR empty", lambda m: (lambda o: m.optim.lr_scheduler.SequentialLR(o, [], milestones=[]))(
    m.optim.SGD(params(m), lr=0.1)), "scheduler")
case("ChainedScheduler empty", lambda m: m.optim.lr_scheduler.ChainedScheduler([]), "scheduler")
case("StepLR load_state_dict list", lambda m: sched("StepLR", 2)(m).load_state_dict([1]), "state_dict")
case("ReduceLROnPlateau load_state_dict None",
     lambda m: sched("ReduceLROnPlateau")(m).load_state_dict(None), "state_dict")
case("ReduceLROnPlateau step tensor (ok)", lambda m: sched("ReduceLROnPlateau")(m).step(m.tensor(1.0)),
     "metrics")
case("BatchSampler over list (ok)", lambda m: list(m.utils.data.BatchSampler([3, 1, 2], 2, True)), "batch")
case("DataLoader batch_sampler not iterable", lambda m: list(DL(m, batch_sampler=3)), "batch_sampler")
case("DataLoader worker_init_fn unused (ok)", lambda m: DL(m, worker_init_fn=3), "worker_init_fn")
case("DataLoader over dict samples (ok)",
     lambda m: list(m.utils.data.DataLoader([{"a": m.zeros(2)}, {"a": m.ones(2)}], batch_size=2)), "a")
case("DataLoader over tuples of tensors (ok)",
     lambda m: list(m.utils.data.DataLoader([(m.zeros(2), 1), (m.ones(2), 0)], batch_size=2)), "tuple")


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.name)
def test_wrong_call(case: Case) -> None:
    check(case)


def test_table_size() -> None:
    assert len(CASES) >= 200
    assert len({c.name for c in CASES}) == len(CASES), "case names must be unique"
