"""``chainrule.nn.modules.<file>.<Layer>``: PyTorch's internal module paths, for programs that
spell layers that way (``safe_globals([torch.nn.modules.linear.Linear, ...])``).

Each name below is a namespace holding the chainrule layers PyTorch keeps in that file;
the classes are chainrule.nn's own (``nn.modules.linear.Linear is nn.Linear``).

>>> import chainrule as cr
>>> cr.nn.modules.linear.Linear is cr.nn.Linear
True
"""
from __future__ import annotations

import sys
import types


# PyTorch's file → the layers it defines (those chainrule has are exposed)
_LAYOUT = {
    "activation": "ReLU ReLU6 LeakyReLU PReLU ELU SELU CELU GELU SiLU Mish Sigmoid Tanh Hardtanh "
                  "Hardsigmoid Hardswish Softplus Softsign Tanhshrink Threshold Softmax LogSoftmax "
                  "Softmin MultiheadAttention GLU LogSigmoid Hardshrink Softshrink RReLU Softmax2d",
    "container": "Sequential ModuleList ModuleDict ParameterList ParameterDict",
    "dropout": "Dropout Dropout1d Dropout2d Dropout3d AlphaDropout FeatureAlphaDropout",
    "linear": "Linear Identity Bilinear LazyLinear NonDynamicallyQuantizableLinear",
    "normalization": "LayerNorm GroupNorm LocalResponseNorm RMSNorm",
    "instancenorm": "InstanceNorm1d InstanceNorm2d InstanceNorm3d",
    "padding": " ".join(f"{k}Pad{n}d" for k in ("Reflection", "Replication", "Circular", "Zero",
                                                 "Constant") for n in (1, 2, 3)),
    "pixelshuffle": "PixelShuffle PixelUnshuffle",
    "channelshuffle": "ChannelShuffle",
    "upsampling": "Upsample UpsamplingNearest2d UpsamplingBilinear2d",
    "fold": "Fold Unfold",
    "distance": "CosineSimilarity PairwiseDistance",
    "batchnorm": "BatchNorm1d BatchNorm2d BatchNorm3d SyncBatchNorm",
    "sparse": "Embedding EmbeddingBag",
    "transformer": "Transformer TransformerEncoder TransformerDecoder TransformerEncoderLayer "
                   "TransformerDecoderLayer",
    "rnn": "RNN LSTM GRU RNNCell LSTMCell GRUCell RNNBase",
    "conv": "Conv1d Conv2d Conv3d ConvTranspose1d ConvTranspose2d ConvTranspose3d",
    "pooling": "MaxPool1d MaxPool2d AvgPool1d AvgPool2d AdaptiveAvgPool1d AdaptiveAvgPool2d "
               "AdaptiveMaxPool2d LPPool1d LPPool2d MaxPool3d AvgPool3d AdaptiveAvgPool3d "
               "AdaptiveMaxPool1d AdaptiveMaxPool3d MaxUnpool1d MaxUnpool2d MaxUnpool3d",
    "flatten": "Flatten Unflatten",
    "module": "Module",
    "loss": "MSELoss L1Loss CrossEntropyLoss NLLLoss BCELoss BCEWithLogitsLoss SmoothL1Loss "
            "HuberLoss KLDivLoss TripletMarginLoss TripletMarginWithDistanceLoss MultiMarginLoss "
            "MultiLabelSoftMarginLoss MultiLabelMarginLoss SoftMarginLoss MarginRankingLoss "
            "HingeEmbeddingLoss CosineEmbeddingLoss PoissonNLLLoss GaussianNLLLoss CTCLoss",
}


def install(nn) -> None:
    """Make ``nn.modules.<file>`` namespaces of ``nn``'s layers (``chainrule.nn`` calls this
    once its layers exist; this module sits below it and never imports it)."""
    aliases = {"NonDynamicallyQuantizableLinear": "Linear"}  # PyTorch's attention projection
    this = sys.modules[__name__]
    for file, names in _LAYOUT.items():
        space = types.ModuleType(f"{__name__}.{file}", f"PyTorch's torch.nn.modules.{file}")
        for name in names.split():
            layer = getattr(nn, aliases.get(name, name), None)
            if layer is not None:
                setattr(space, name, layer)
        setattr(this, file, space)
        sys.modules[space.__name__] = space

