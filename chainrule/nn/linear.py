"""Linear, Bilinear, Identity, Flatten, Unflatten (initialised as PyTorch does).

>>> import chainrule as cr
>>> layer = cr.nn.Linear(3, 2)
>>> layer
Linear(in_features=3, out_features=2, bias=True)
>>> layer(cr.ones(4, 3)).shape
chainrule.Size([4, 2])
"""
from __future__ import annotations

import math

from ..creation import empty
from ..tensor import Tensor
from . import _args, init
from .functional import _linear as F
from .module import Module
from .parameter import Parameter

__all__ = ["Identity", "Linear", "LazyLinear", "Bilinear", "Flatten", "Unflatten"]


class Identity(Module):
    """Returns its input (arguments to the constructor are accepted and ignored)."""

    def __init__(self, *args, **kwargs) -> None:
        super().__init__()

    def forward(self, input: Tensor) -> Tensor:
        return input


class Linear(Module):
    """``y = x Wᵀ + b`` with W of shape (out_features, in_features).

    Both W and b start as U(-1/√in, 1/√in) (PyTorch's kaiming_uniform_ with a=√5).
    """

    def __init__(self, in_features: int, out_features: int, bias: bool = True,
                 device=None, dtype=None) -> None:
        super().__init__()
        self.in_features = _args.size(in_features, "in_features", "Linear")
        self.out_features = _args.size(out_features, "out_features", "Linear")
        self.weight = Parameter(empty(out_features, in_features, dtype=dtype, device=device))
        if bias:
            self.bias = Parameter(empty(out_features, dtype=dtype, device=device))
        else:
            self.register_parameter("bias", None)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        init.kaiming_uniform_(self.weight, a=math.sqrt(5))
        if self.bias is not None:
            fan_in = self.in_features
            bound = 1 / math.sqrt(fan_in) if fan_in > 0 else 0
            init.uniform_(self.bias, -bound, bound)

    def forward(self, input: Tensor) -> Tensor:
        return F.linear(input, self.weight, self.bias)

    def extra_repr(self) -> str:
        return f"in_features={self.in_features}, out_features={self.out_features}, " \
               f"bias={self.bias is not None}"


class LazyLinear(Linear):
    """A Linear whose ``in_features`` is read from the first input."""

    def __init__(self, out_features: int, bias: bool = True, device=None, dtype=None) -> None:
        Module.__init__(self)
        self.in_features = 0
        self.out_features = _args.size(out_features, "out_features", "LazyLinear")
        self._lazy = (bias, device, dtype)
        self.register_parameter("weight", None)
        self.register_parameter("bias", None)

    def forward(self, input: Tensor) -> Tensor:
        if self.weight is None:
            bias, device, dtype = self._lazy
            self.in_features = input.shape[-1]
            self.weight = Parameter(empty(self.out_features, self.in_features, dtype=dtype or input.dtype,
                                          device=device))
            if bias:
                self.bias = Parameter(empty(self.out_features, dtype=dtype or input.dtype, device=device))
            self.reset_parameters()
        return super().forward(input)


class Bilinear(Module):
    """``y_k = x1ᵀ W_k x2 + b_k``; W and b start as U(-1/√in1, 1/√in1)."""

    def __init__(self, in1_features: int, in2_features: int, out_features: int, bias: bool = True,
                 device=None, dtype=None) -> None:
        super().__init__()
        # the init bound is 1/sqrt(in1_features): PyTorch fails on 0 too
        self.in1_features = _args.size(in1_features, "in1_features", "Bilinear", minimum=1)
        self.in2_features = _args.size(in2_features, "in2_features", "Bilinear")
        self.out_features = _args.size(out_features, "out_features", "Bilinear")
        self.weight = Parameter(empty(out_features, in1_features, in2_features, dtype=dtype,
                                      device=device))
        if bias:
            self.bias = Parameter(empty(out_features, dtype=dtype, device=device))
        else:
            self.register_parameter("bias", None)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        bound = 1 / math.sqrt(self.weight.shape[1])
        init.uniform_(self.weight, -bound, bound)
        if self.bias is not None:
            init.uniform_(self.bias, -bound, bound)

    def forward(self, input1: Tensor, input2: Tensor) -> Tensor:
        return F.bilinear(input1, input2, self.weight, self.bias)

    def extra_repr(self) -> str:
        return (f"in1_features={self.in1_features}, in2_features={self.in2_features}, "
                f"out_features={self.out_features}, bias={self.bias is not None}")


class Flatten(Module):
    """Flatten dims ``start_dim..end_dim`` (default: all but the batch dim)."""

    def __init__(self, start_dim: int = 1, end_dim: int = -1) -> None:
        super().__init__()
        self.start_dim = start_dim
        self.end_dim = end_dim

    def forward(self, input: Tensor) -> Tensor:
        return input.flatten(self.start_dim, self.end_dim)

    def extra_repr(self) -> str:
        return f"start_dim={self.start_dim}, end_dim={self.end_dim}"


class Unflatten(Module):
    """Expand dim ``dim`` into ``unflattened_size``."""

    def __init__(self, dim: int, unflattened_size) -> None:
        super().__init__()
        self.dim = dim
        self.unflattened_size = tuple(unflattened_size)

    def forward(self, input: Tensor) -> Tensor:
        return input.unflatten(self.dim, self.unflattened_size)

    def extra_repr(self) -> str:
        return f"dim={self.dim}, unflattened_size={self.unflattened_size}"
