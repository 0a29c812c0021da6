"""Small reference models used by ``chainrule train`` and the demos.

- :func:`mlp`: a plain multilayer perceptron of any depth and activation;
- :func:`residual_mlp`: the same with residual blocks ``x + W2·act(W1·x)``, W1 He-initialised
  and W2 zero-initialised (Fixup-style: each block starts as the identity, so the
  gradient reaches every layer however deep the network is);
- :func:`small_cnn`: conv 16 → pool → conv 32 → pool → linear.

>>> import chainrule as cr
>>> net = residual_mlp(in_features=64, classes=10, depth=4, width=32)
>>> net(cr.randn(5, 64)).shape
chainrule.Size([5, 10])
"""
from __future__ import annotations



from . import nn

ACTIVATIONS = {"relu": nn.ReLU, "sigmoid": nn.Sigmoid, "tanh": nn.Tanh, "gelu": nn.GELU,
               "leaky_relu": nn.LeakyReLU, "elu": nn.ELU, "silu": nn.SiLU}
INITS = ("default", "he", "xavier", "normal")


def _activation(name: str) -> nn.Module:
    try:
        return ACTIVATIONS[name]()
    except KeyError:
        raise ValueError(f"unknown activation {name!r}; choose from {sorted(ACTIVATIONS)}") from None


def _init_linear(layer: nn.Linear, init: str, activation: str) -> None:
    """Initialise one Linear layer: 'default' keeps PyTorch's, 'he' suits ReLU-like units,
    'xavier' suits tanh/sigmoid, 'normal' is N(0, 1) (too large on purpose: for demos)."""
    if init == "default":
        return
    if init == "he":
        nonlinearity = "leaky_relu" if activation == "leaky_relu" else "relu"
        nn.init.kaiming_normal_(layer.weight, nonlinearity=nonlinearity)
    elif init == "xavier":
        gain = nn.init.calculate_gain(activation if activation in ("tanh", "sigmoid", "relu")
                                      else "linear")
        nn.init.xavier_normal_(layer.weight, gain=gain)
    elif init == "normal":
        nn.init.normal_(layer.weight, 0.0, 1.0)
    else:
        raise ValueError(f"unknown init {init!r}; choose from {INITS}")
    nn.init.zeros_(layer.bias)


def mlp(in_features: int = 64, classes: int = 10, depth: int = 3, width: int = 128,
        activation: str = "relu", init: str = "default") -> nn.Sequential:
    """``depth`` hidden Linear+activation layers of ``width`` units, then a Linear head."""
    if depth < 1:
        raise ValueError(f"depth must be at least 1, got {depth}")
    layers: list[nn.Module] = [nn.Flatten()]
    size = in_features
    for _ in range(depth):
        linear = nn.Linear(size, width)
        _init_linear(linear, init, activation)
        layers += [linear, _activation(activation)]
        size = width
    layers.append(nn.Linear(size, classes))
    return nn.Sequential(*layers)


class ResidualBlock(nn.Module):
    """``x + W2·act(W1·x)``; W2 starts at zero, so the block starts as the identity."""

    def __init__(self, width: int, activation: str = "relu", init: str = "he") -> None:
        super().__init__()
        self.fc1 = nn.Linear(width, width)
        self.act = _activation(activation)
        self.fc2 = nn.Linear(width, width)
        _init_linear(self.fc1, init, activation)
        nn.init.zeros_(self.fc2.weight)
        nn.init.zeros_(self.fc2.bias)

    def forward(self, x):
        return x + self.fc2(self.act(self.fc1(x)))


def residual_mlp(in_features: int = 64, classes: int = 10, depth: int = 50, width: int = 64,
                 activation: str = "relu", init: str = "he") -> nn.Sequential:
    """A stem, residual blocks of two Linear layers, and a head: ``depth`` Linear layers in all
    when ``depth`` is even (depth=50: the stem, 24 blocks and the head)."""
    if depth < 1:
        raise ValueError(f"depth must be at least 1, got {depth}")
    stem = nn.Linear(in_features, width)
    _init_linear(stem, init, activation)
    blocks = [ResidualBlock(width, activation, init) for _ in range(max(1, (depth - 1) // 2))]
    return nn.Sequential(nn.Flatten(), stem, _activation(activation), *blocks,
                         nn.Linear(width, classes))


def small_cnn(in_channels: int = 1, classes: int = 10, image_size: int = 8,
              channels: tuple[int, int] = (16, 32), activation: str = "relu") -> nn.Sequential:
    """conv(3x3) → act → maxpool(2) → conv(3x3) → act → maxpool(2) → linear."""
    c1, c2 = channels
    side = image_size // 2 // 2
    return nn.Sequential(
        nn.Conv2d(in_channels, c1, 3, padding=1), _activation(activation), nn.MaxPool2d(2),
        nn.Conv2d(c1, c2, 3, padding=1), _activation(activation), nn.MaxPool2d(2),
        nn.Flatten(), nn.Linear(c2 * side * side, classes))


def build(name: str, *, in_features: int, in_channels: int, image_size: int, classes: int,
          depth: int, width: int, activation: str, init: str, residual: bool) -> nn.Module:
    """The model ``chainrule train --model NAME`` asks for."""
    if name == "mlp":
        return mlp(in_features, classes, depth, width, activation, init)
    if name == "resnet":
        if not residual:
            return mlp(in_features, classes, depth, width, activation, init)
        return residual_mlp(in_features, classes, depth, width, activation,
                            "he" if init == "default" else init)
    if name == "cnn":
        if image_size < 4:
            raise ValueError(f"the cnn needs images of at least 4x4, got {image_size}x{image_size}"
                             " (use --model mlp for non-image data)")
        return small_cnn(in_channels, classes, image_size, activation=activation)
    raise ValueError(f"unknown model {name!r}; choose from mlp, cnn, resnet")


__all__ = ["mlp", "residual_mlp", "small_cnn", "ResidualBlock", "build", "ACTIVATIONS", "INITS"]

