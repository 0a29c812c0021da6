"""The table of cases for tests/backends/test_nn_on_cuda.py: every public module class of
``chainrule.nn`` with small constructor arguments and inputs, and every loss of
``chainrule.nn.functional`` with its inputs.

The layer tables of tests/nn (test_more_layers, test_nn_round2, test_activation) are reused
as they stand; the entries here cover the classes they leave out. An input is a shape (float64
normal numbers that get a gradient) or one of the makers below, each a function of a NumPy
``Generator`` returning ``(array, requires_grad)``.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable

import numpy as np

import chainrule as cr
import chainrule.nn as nn
import chainrule.nn.functional as F

from tests.nn.test_activation import LAYERS as ACTIVATION_LAYERS
from tests.nn.test_more_layers import LAYERS as MORE_LAYERS
from tests.nn.test_nn_round2 import LAYERS as ROUND2_LAYERS


# ------------------------------------------------------------------ inputs --
def normal(*shape, grad: bool = True):
    return lambda rng: (rng.standard_normal(shape), grad)


def positive(*shape, grad: bool = True):
    return lambda rng: (rng.uniform(0.5, 2.0, shape), grad)


def unit(*shape, grad: bool = True):
    """Probabilities away from 0 and 1 (BCE's inputs and targets)."""
    return lambda rng: (rng.uniform(0.05, 0.95, shape), grad)


def ints(high: int, *shape, low: int = 0):
    return lambda rng: (rng.integers(low, high, shape), False)


def signs(*shape):
    """±1 targets (hinge, cosine-embedding, margin-ranking and soft-margin losses)."""
    return lambda rng: (rng.choice([-1.0, 1.0], shape), False)


def const(values, dtype=None):
    return lambda rng: (np.asarray(values, dtype=dtype), False)


def with_nan(*shape):
    """Normal numbers with a NaN (max pools propagate it; their NaN paths run)."""
    def make(rng):
        a = rng.standard_normal(shape)
        a.reshape(-1)[1] = np.nan
        return a, True
    return make


def _as_maker(spec):
    return normal(*spec) if isinstance(spec, tuple) else spec


@dataclass
class Case:
    """One module on given inputs. ``build`` is a spec such as ``"Conv2d(2, 3, 3)"``
    (evaluated in ``nn``'s namespace) or a function returning the module. ``random``: its
    training-mode output is drawn (dropout), so only its eval mode is compared across devices.
    ``call(module, *inputs)`` replaces ``module(*inputs)``; ``lazy``: parameters materialize
    at the first call (made on the CPU before the copy to the device)."""

    id: str
    build: str | Callable[[], nn.Module]
    inputs: list = field(default_factory=list)
    random: bool = False
    call: Callable | None = None
    lazy: bool = False

    def module(self) -> nn.Module:
        if callable(self.build):
            return self.build()
        return eval(self.build, {"nn": nn, "cr": cr, "F": F, **vars(nn)})

    def arrays(self, seed: int = 1) -> list:
        rng = np.random.default_rng(seed)
        return [_as_maker(spec)(rng) for spec in self.inputs]


# --------------------------------------------------- reused tables (tests/nn) --
def _reused() -> list[Case]:
    cases = []
    for spec, shapes, options in MORE_LAYERS:
        maker = positive if options.get("positive") else normal
        cases.append(Case(spec, spec, [maker(*s) for s in shapes],
                          random=options.get("eval", False)))
    cases += [Case(spec, spec, [shape]) for spec, shape in ROUND2_LAYERS]
    cases += [Case(name, build, [(4, 6, 3)]) for name, build, _ in ACTIVATION_LAYERS]
    return cases


def _unpool(dims: int):
    pool = {1: F.max_pool1d, 2: F.max_pool2d, 3: F.max_pool3d}[dims]
    return lambda m, x: m(*pool(x, 2, return_indices=True))


def _mask(n: int):
    return nn.Transformer.generate_square_subsequent_mask(n)


def _transformer_call(m, src, tgt, pad):
    mask = _mask(tgt.shape[1]).to(src.device, src.dtype)
    return m(src, tgt, tgt_mask=mask, src_key_padding_mask=pad, memory_key_padding_mask=pad)


PAD = const([[False] * 4 + [True], [False] * 5])  # key padding: the last key of sample 0

# ------------------------------------------------------- the classes left out --
OWN = [
    # pooling
    Case("MaxPool1d(3, stride=2, padding=1)", "MaxPool1d(3, stride=2, padding=1)", [(2, 3, 7)]),
    Case("MaxPool2d(2, dilation=2, ceil_mode=True)", "MaxPool2d(2, dilation=2, ceil_mode=True)",
         [(2, 3, 7, 6)]),
    Case("MaxPool2d(3, stride=2, padding=1) over a NaN", "MaxPool2d(3, stride=2, padding=1)",
         [with_nan(1, 2, 5, 5)]),
    Case("MaxPool1d(2) over a NaN", "MaxPool1d(2)", [with_nan(2, 2, 6)]),
    Case("AvgPool1d(3, stride=2, padding=1)", "AvgPool1d(3, stride=2, padding=1)", [(2, 3, 7)]),
    Case("AvgPool2d(3, 2, 1, count_include_pad=False, divisor_override=None)",
         "AvgPool2d(3, 2, 1, count_include_pad=False)", [(2, 3, 6, 5)]),
    Case("AdaptiveAvgPool1d(3)", "AdaptiveAvgPool1d(3)", [(2, 3, 7)]),
    Case("AdaptiveAvgPool2d((2, 3))", "AdaptiveAvgPool2d((2, 3))", [(2, 3, 5, 7)]),
    Case("AdaptiveMaxPool1d(3)", "AdaptiveMaxPool1d(3)", [(2, 3, 7)]),
    Case("AdaptiveMaxPool2d((3, 2))", "AdaptiveMaxPool2d((3, 2))", [(2, 2, 7, 5)]),
    Case("MaxUnpool1d(2)", "MaxUnpool1d(2)", [(2, 3, 6)], call=_unpool(1)),
    Case("MaxUnpool2d(2)", "MaxUnpool2d(2)", [(2, 3, 4, 6)], call=_unpool(2)),
    Case("MaxUnpool3d(2)", "MaxUnpool3d(2)", [(1, 2, 4, 4, 2)], call=_unpool(3)),
    # convolutions and linear maps
    Case("Conv1d(4, 6, 3, groups=2, padding='same')", "Conv1d(4, 6, 3, groups=2, padding='same')",
         [(2, 4, 7)]),
    Case("Conv2d(3, 4, 3, stride=2, padding=1, padding_mode='reflect')",
         "Conv2d(3, 4, 3, stride=2, padding=1, padding_mode='reflect')", [(2, 3, 7, 6)]),
    Case("ConvTranspose1d(4, 2, 3, stride=2, output_padding=1)",
         "ConvTranspose1d(4, 2, 3, stride=2, output_padding=1)", [(2, 4, 5)]),
    Case("ConvTranspose2d(4, 6, 3, stride=2, padding=1, groups=2, dilation=2)",
         "ConvTranspose2d(4, 6, 3, stride=2, padding=1, groups=2, dilation=2)", [(2, 4, 3, 4)]),
    Case("Linear(5, 3)", "Linear(5, 3)", [(2, 4, 5)]),
    Case("LazyLinear(3)", "LazyLinear(3)", [(4, 5)], lazy=True),
    Case("Bilinear(3, 4, 2)", "Bilinear(3, 4, 2)", [(5, 3), (5, 4)]),
    Case("Identity()", "Identity(7, unused=1)", [(3, 4)]),
    Case("Flatten()", "Flatten()", [(2, 3, 4)]),
    Case("Unflatten(1, (2, 3))", "Unflatten(1, (2, 3))", [(4, 6, 2)]),
    Case("PReLU(3)", "PReLU(3)", [(2, 3, 4)]),
    # normalization
    Case("BatchNorm1d(3)", "BatchNorm1d(3)", [(5, 3, 4)]),
    Case("BatchNorm1d(3, momentum=None)", "BatchNorm1d(3, momentum=None)", [(5, 3)]),
    Case("BatchNorm2d(3, affine=False)", "BatchNorm2d(3, affine=False)", [(4, 3, 2, 3)]),
    Case("GroupNorm(2, 6)", "GroupNorm(2, 6)", [(2, 6, 3, 2)]),
    Case("LayerNorm([3, 4])", "LayerNorm([3, 4])", [(2, 3, 4)]),
    Case("InstanceNorm1d(3, track_running_stats=True)",
         "InstanceNorm1d(3, affine=True, track_running_stats=True)", [(2, 3, 5)]),
    # dropout (drawn in training mode)
    Case("Dropout(0.4)", "Dropout(0.4)", [(4, 5)], random=True),
    Case("Dropout1d(0.5)", "Dropout1d(0.5)", [(2, 4, 5)], random=True),
    Case("Dropout2d(0.5)", "Dropout2d(0.5)", [(2, 4, 3, 3)], random=True),
    Case("FeatureAlphaDropout(0.3)", "FeatureAlphaDropout(0.3)", [(2, 4, 3, 3)], random=True),
    # embeddings
    Case("Embedding(10, 4, padding_idx=0, max_norm=1.0)",
         "Embedding(10, 4, padding_idx=0, max_norm=1.0)", [ints(10, 3, 5)]),
    Case("Embedding(10, 4) repeated indices", "Embedding(10, 4)", [const([[1, 2, 1], [3, 1, 9]])]),
    Case("Embedding.from_pretrained(freeze=False)",
         lambda: nn.Embedding.from_pretrained(cr.arange(12.0).reshape(4, 3), freeze=False),
         [const([3, 0, 3])]),
    Case("EmbeddingBag(10, 3, mode='mean') with offsets", "EmbeddingBag(10, 3, mode='mean')",
         [const([1, 2, 4, 5, 4, 3, 2, 9]), const([0, 2, 2, 5])]),
    Case("EmbeddingBag(10, 3, mode='sum') with per-sample weights",
         "EmbeddingBag(10, 3, mode='sum', padding_idx=2)",
         [ints(10, 3, 4), lambda rng: (None, False), normal(3, 4)]),
    Case("EmbeddingBag(10, 3, mode='max')", "EmbeddingBag(10, 3, mode='max')", [ints(10, 2, 5)]),
    Case("EmbeddingBag(10, 3, include_last_offset=True)",
         "EmbeddingBag(10, 3, include_last_offset=True, max_norm=0.5)",
         [const([1, 2, 4, 5, 4, 3]), const([0, 2, 2, 6])]),
    # recurrent
    Case("RNN(4, 5, nonlinearity='relu', num_layers=2)",
         "RNN(4, 5, nonlinearity='relu', num_layers=2)", [(3, 2, 4), (2, 2, 5)]),
    Case("LSTM(4, 5, batch_first=True, bidirectional=True, proj_size=3)",
         "LSTM(4, 5, batch_first=True, bidirectional=True, proj_size=3)", [(2, 3, 4)]),
    Case("GRU(4, 5, num_layers=2, dropout=0.5)", "GRU(4, 5, num_layers=2, dropout=0.5)",
         [(3, 2, 4)], random=True),
    Case("GRU(4, 5, batch_first=True)", "GRU(4, 5, batch_first=True)", [(2, 3, 4)]),
    Case("LSTM(4, 5, num_layers=2) from a given state", "LSTM(4, 5, num_layers=2)",
         [(4, 3, 4), (2, 3, 5), (2, 3, 5)], call=lambda m, x, h, c: m(x, (h, c))),
    Case("RNNCell(4, 5)", "RNNCell(4, 5)", [(3, 4), (3, 5)]),
    Case("LSTMCell(4, 5)", "LSTMCell(4, 5)", [(3, 4)]),
    Case("GRUCell(4, 5)", "GRUCell(4, 5)", [(4,), (5,)]),
    # attention, transformers
    Case("MultiheadAttention(8, 2, kdim=6, vdim=5)", "MultiheadAttention(8, 2, kdim=6, vdim=5)",
         [(4, 2, 8), (5, 2, 6), (5, 2, 5)]),
    Case("MultiheadAttention(8, 2, dropout=0.5, batch_first=True) masked",
         "MultiheadAttention(8, 2, dropout=0.5, batch_first=True, bias=False, add_bias_kv=True)",
         [(2, 5, 8)], random=True,
         call=lambda m, x: m(x, x, x, key_padding_mask=PAD_DEVICE(x), average_attn_weights=False)),
    Case("MultiheadAttention(8, 2) with a boolean attn_mask, no weights",
         "MultiheadAttention(8, 2, batch_first=True)", [(2, 5, 8), (2, 4, 8)],
         call=lambda m, q, kv: m(q, kv, kv, need_weights=False,
                                 attn_mask=cr.ones(5, 4, dtype=cr.bool, device=q.device).triu(1))),
    Case("MultiheadAttention(8, 2) with every key of a sample masked",
         "MultiheadAttention(8, 2, batch_first=True)", [(2, 3, 8), const([[False] * 3, [True] * 3])],
         call=lambda m, x, pad: m(x, x, x, key_padding_mask=pad)),
    Case("TransformerEncoderLayer(8, 2, 16, dropout=0.0, norm_first=True)",
         "TransformerEncoderLayer(8, 2, 16, dropout=0.0, batch_first=True, norm_first=True, "
         "activation='gelu')", [(2, 5, 8)]),
    Case("TransformerEncoder(layer, 2) masked",
         lambda: nn.TransformerEncoder(nn.TransformerEncoderLayer(8, 2, 16, dropout=0.0,
                                                                  batch_first=True), 2,
                                       norm=nn.LayerNorm(8)),
         [(2, 5, 8), PAD], call=lambda m, x, pad: m(x, src_key_padding_mask=pad)),
    Case("TransformerDecoderLayer(8, 2, 16)", "TransformerDecoderLayer(8, 2, 16)",
         [(4, 2, 8), (5, 2, 8)], random=True),
    Case("TransformerDecoder(layer, 2) causal",
         lambda: nn.TransformerDecoder(nn.TransformerDecoderLayer(8, 2, 16, dropout=0.0,
                                                                  batch_first=True), 2),
         [(2, 4, 8), (2, 5, 8)],
         call=lambda m, tgt, mem: m(tgt, mem, tgt_mask=_mask(4).to(tgt.device, tgt.dtype),
                                    tgt_is_causal=True)),
    Case("Transformer(8, 2, 1, 1, 16, dropout=0.0) masked",
         "Transformer(8, 2, 1, 1, 16, dropout=0.0, batch_first=True)",
         [(2, 5, 8), (2, 4, 8), PAD], call=_transformer_call),
    # containers
    Case("Sequential(Linear, ReLU, Linear)",
         "Sequential(Linear(3, 4), ReLU(), Dropout(0.0), Linear(4, 2))", [(5, 3)]),
    Case("Residual(Sequential(LayerNorm, Linear))",
         "Residual(Sequential(LayerNorm(4), Linear(4, 4)))", [(3, 4)]),
    # losses (the module classes; the functionals have their own table below)
    Case("L1Loss()", "L1Loss()", [(3, 4), (3, 4)]),
    Case("MSELoss(reduction='sum')", "MSELoss(reduction='sum')", [(3, 4), (3, 4)]),
    Case("SmoothL1Loss(beta=0.5)", "SmoothL1Loss(beta=0.5)", [(3, 4), (3, 4)]),
    Case("HuberLoss(delta=0.7, reduction='none')", "HuberLoss(delta=0.7, reduction='none')",
         [(3, 4), (3, 4)]),
    Case("BCELoss(weight)", lambda: nn.BCELoss(weight=cr.tensor([0.5, 1.0, 2.0, 1.5],
                                                                dtype=cr.float64)),
         [unit(3, 4), unit(3, 4, grad=False)]),
    Case("BCEWithLogitsLoss(pos_weight)",
         lambda: nn.BCEWithLogitsLoss(pos_weight=cr.tensor([0.5, 1.0, 2.0, 1.5],
                                                           dtype=cr.float64)),
         [(3, 4), unit(3, 4, grad=False)]),
    Case("CrossEntropyLoss(weight, ignore_index, label_smoothing)",
         lambda: nn.CrossEntropyLoss(weight=cr.tensor([1.0, 2.0, 0.5], dtype=cr.float64),
                                     ignore_index=1, label_smoothing=0.1),
         [(4, 3, 2), const([[0, 1], [2, 2], [1, 0], [0, 2]])]),
    Case("CrossEntropyLoss() with probabilities", "CrossEntropyLoss()",
         [(4, 3), unit(4, 3, grad=False)]),
    Case("NLLLoss(weight)", lambda: nn.NLLLoss(weight=cr.tensor([1.0, 2.0, 0.5],
                                                                dtype=cr.float64)),
         [(4, 3), ints(3, 4)]),
    Case("KLDivLoss(reduction='batchmean', log_target=True)",
         "KLDivLoss(reduction='batchmean', log_target=True)", [(3, 4), (3, 4)]),
    Case("PoissonNLLLoss(log_input=False, full=True)", "PoissonNLLLoss(log_input=False, full=True)",
         [positive(3, 4), const([[0, 1, 2, 3], [4, 0, 1, 2], [3, 3, 0, 1]], np.float64)]),
    Case("GaussianNLLLoss(full=True)", "GaussianNLLLoss(full=True)",
         [(3, 4), (3, 4), positive(3, 4)]),
    Case("CosineEmbeddingLoss(margin=0.2)", "CosineEmbeddingLoss(margin=0.2)",
         [(4, 5), (4, 5), signs(4)]),
    Case("HingeEmbeddingLoss(margin=0.5)", "HingeEmbeddingLoss(margin=0.5)", [(3, 4), signs(3, 4)]),
    Case("MarginRankingLoss(margin=0.3)", "MarginRankingLoss(margin=0.3)", [(5,), (5,), signs(5)]),
    Case("SoftMarginLoss()", "SoftMarginLoss()", [(3, 4), signs(3, 4)]),
    Case("MultiMarginLoss(p=2, margin=0.5, weight)",
         lambda: nn.MultiMarginLoss(p=2, margin=0.5, weight=cr.tensor([1.0, 0.5, 2.0],
                                                                      dtype=cr.float64)),
         [(4, 3), ints(3, 4)]),
    Case("MultiLabelMarginLoss()", "MultiLabelMarginLoss()",
         [(3, 4), const([[3, 0, -1, 1], [1, 2, 3, -1], [-1, 0, 0, 0]])]),
    Case("MultiLabelSoftMarginLoss()", "MultiLabelSoftMarginLoss()",
         [(3, 4), ints(2, 3, 4)]),
    Case("CTCLoss(reduction='mean')", "CTCLoss()",
         [(6, 2, 4), const([[1, 2, 2], [3, 1, 0]]), const([6, 5]), const([3, 2])],
         call=lambda m, x, *rest: m(x.log_softmax(-1), *rest)),
    Case("CTCLoss(zero_infinity=True, reduction='sum') concatenated targets",
         "CTCLoss(blank=3, reduction='sum', zero_infinity=True)",
         [(4, 2, 4), const([0, 1, 1, 0, 1, 2, 2]), const([4, 4]), const([3, 4])],
         call=lambda m, x, *rest: m(x.log_softmax(-1), *rest)),
]


def PAD_DEVICE(x):  # noqa: N802 (named as the constant it makes)
    """The key padding mask of ``PAD`` on ``x``'s device."""
    return cr.tensor(PAD(None)[0], device=x.device)


MODULE_CASES = _reused() + OWN

# Classes that cannot run as a layer on an input, each with its reason.
NOT_LAYERS = {
    "Module": "the abstract base: its forward is not defined",
    "ModuleList": "a container with no forward (its members run as the layers they are)",
    "ModuleDict": "a container with no forward (its members run as the layers they are)",
    "ParameterList": "holds parameters, has no forward",
    "ParameterDict": "holds parameters, has no forward",
    "RNNBase": "the base of RNN/LSTM/GRU; PyTorch's has no forward (its subclasses run here)",
    "RNNCellBase": "the base of RNNCell/LSTMCell/GRUCell; PyTorch's has no forward either",
}


def module_classes() -> set[str]:
    """Every public module class exported by ``chainrule.nn``."""
    return {name for name, obj in vars(nn).items()
            if not name.startswith("_") and isinstance(obj, type) and issubclass(obj, nn.Module)}


def covered_classes() -> set[str]:
    return {type(case.module()).__name__ for case in MODULE_CASES}


# ------------------------------------------------------- functional losses --
# name -> list of (keyword arguments, inputs); every loss of chainrule.nn.functional
LOSSES = {
    "l1_loss": [({}, [(3, 4), (3, 4)]), ({"reduction": "none"}, [(3, 4), (3, 4)])],
    "mse_loss": [({}, [(3, 4), (3, 4)]), ({"reduction": "sum"}, [(2, 3), (2, 3)])],
    "smooth_l1_loss": [({"beta": 0.5}, [(3, 4), (3, 4)]), ({"beta": 0.0}, [(5,), (5,)])],
    "huber_loss": [({"delta": 0.5}, [(3, 4), (3, 4)])],
    "binary_cross_entropy": [({}, [unit(3, 4), unit(3, 4, grad=False)]),
                             ({"weight": const([1.0, 2.0, 0.5, 1.0]), "reduction": "none"},
                              [unit(3, 4), unit(3, 4, grad=False)])],
    "binary_cross_entropy_with_logits": [
        ({}, [(3, 4), unit(3, 4, grad=False)]),
        ({"pos_weight": const([1.0, 2.0, 0.5, 1.0]), "weight": const([2.0, 1.0, 1.0, 0.5])},
         [(3, 4), unit(3, 4, grad=False)])],
    "cross_entropy": [({}, [(4, 3), ints(3, 4)]),
                      ({"label_smoothing": 0.2, "weight": const([1.0, 2.0, 0.5])},
                       [(4, 3, 2), ints(3, 4, 2)]),
                      ({"ignore_index": 0, "reduction": "sum"}, [(4, 3), const([0, 1, 2, 0])]),
                      ({}, [(4, 3), unit(4, 3, grad=False)]),
                      ({"ignore_index": 1}, [(3, 4), const([1, 1, 1])])],  # all ignored: nan
    "nll_loss": [({}, [(4, 3), ints(3, 4)]),
                 ({"ignore_index": 2, "reduction": "none"}, [(4, 3, 2), ints(3, 4, 2)]),
                 ({"weight": const([0.0, 2.0, 1.0])}, [(3, 3), const([0, 0, 0])])],  # 0/0
    "kl_div": [({"reduction": "batchmean"}, [(3, 4), unit(3, 4)]),
               ({"log_target": True, "reduction": "sum"}, [(3, 4), (3, 4)])],
    "poisson_nll_loss": [({}, [(3, 4), positive(3, 4, grad=False)]),
                         ({"log_input": False, "full": True},
                          [positive(3, 4), const([[0.0, 1, 2, 3], [4, 0, 1, 2], [3, 3, 0, 1]])])],
    "gaussian_nll_loss": [({}, [(3, 4), (3, 4), positive(3, 4)]),
                          ({"full": True, "reduction": "sum"}, [(3, 4), (3, 4), positive(3, 1)])],
    "cosine_embedding_loss": [({"margin": 0.2}, [(4, 5), (4, 5), signs(4)])],
    "hinge_embedding_loss": [({"margin": 0.5}, [(3, 4), signs(3, 4)])],
    "margin_ranking_loss": [({"margin": 0.3}, [(5,), (5,), signs(5)])],
    "soft_margin_loss": [({}, [(3, 4), signs(3, 4)])],
    "multi_margin_loss": [({}, [(4, 3), ints(3, 4)]),
                          ({"p": 2, "margin": 0.5, "weight": const([1.0, 0.5, 2.0])},
                           [(4, 3), ints(3, 4)])],
    "multilabel_margin_loss": [({}, [(3, 4), const([[3, 0, -1, 1], [1, 2, 3, -1],
                                                    [-1, 0, 0, 0]])])],
    "multilabel_soft_margin_loss": [({}, [(3, 4), ints(2, 3, 4)])],
    "triplet_margin_loss": [({"margin": 0.5, "swap": True}, [(4, 3), (4, 3), (4, 3)])],
    "triplet_margin_with_distance_loss": [({"margin": 1.5}, [(4, 3), (4, 3), (4, 3)])],
    "ctc_loss": [({}, [(6, 2, 4), const([[1, 2, 2], [3, 1, 0]]), const([6, 5]), const([3, 2])]),
                 ({"blank": 3, "reduction": "sum", "zero_infinity": True},
                  [(4, 2, 4), const([0, 1, 1, 0, 1, 2, 2]), const([4, 4]), const([3, 4])])],
}
LOSS_INPUT_TRANSFORMS = {  # applied to the first input on either device
    "nll_loss": lambda x: x.log_softmax(1),
    "ctc_loss": lambda x: x.log_softmax(-1),
    "kl_div": lambda x: x.log_softmax(-1),
}


def functional_losses() -> set[str]:
    """Every loss of ``chainrule.nn.functional``: the functions of its loss modules and any
    public function named ``*_loss``."""
    loss_modules = {"_loss", "_loss_margin", "_ctc"}
    return {name for name, obj in vars(F).items()
            if callable(obj) and not name.startswith("_")
            and (getattr(obj, "__module__", "").rsplit(".", 1)[-1] in loss_modules
                 or name.endswith("_loss"))}
