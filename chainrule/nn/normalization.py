"""Normalization layers: BatchNorm1d/2d, LayerNorm, GroupNorm (PyTorch's state and defaults).

>>> import chainrule as cr
>>> bn = cr.nn.BatchNorm2d(3)
>>> sorted(bn.state_dict())
['bias', 'num_batches_tracked', 'running_mean', 'running_var', 'weight']
>>> y = bn(cr.randn(4, 3, 5, 5))
>>> int(bn.num_batches_tracked)
1
"""
from __future__ import annotations

from ..creation import empty, ones, tensor, zeros
from ..dtypes import int64
from ..errors import DTypeError, ShapeError, op_error
from ..tensor import Tensor
from . import _args, init
from .functional import _normalization as F
from .module import Module
from .parameter import Parameter

__all__ = ["BatchNorm1d", "BatchNorm2d", "BatchNorm3d", "SyncBatchNorm", "LayerNorm", "GroupNorm",
           "InstanceNorm1d", "InstanceNorm2d", "InstanceNorm3d", "RMSNorm", "LocalResponseNorm"]


def _register_affine(module: Module, affine: bool, bias: bool, shape: tuple, device,
                     dtype) -> None:
    """Give ``module`` a ``weight`` and (with ``bias``) a ``bias`` parameter of ``shape``
    when ``affine``; absent ones are registered as None, as in PyTorch."""
    if affine:
        module.weight = Parameter(empty(*shape, dtype=dtype, device=device))
        if bias:
            module.bias = Parameter(empty(*shape, dtype=dtype, device=device))
        else:
            module.register_parameter("bias", None)
    else:
        module.register_parameter("weight", None)
        module.register_parameter("bias", None)


class _BatchNorm(Module):
    """Shared state: affine parameters, running statistics and the batch counter."""

    _dims: tuple = (2,)
    _optional_state = ("num_batches_tracked",)  # PyTorch loads checkpoints from before it

    def __init__(self, num_features: int, eps: float = 1e-5, momentum: float | None = 0.1,
                 affine: bool = True, track_running_stats: bool = True, device=None,
                 dtype=None, *, bias: bool = True) -> None:
        super().__init__()
        self.num_features = _args.size(num_features, "num_features", type(self).__name__)
        self.eps = eps
        self.momentum = momentum
        self.affine = affine
        self.has_bias = affine and bias
        self.track_running_stats = track_running_stats
        _register_affine(self, affine, bias, (num_features,), device, dtype)
        if track_running_stats:
            self.register_buffer("running_mean", zeros(num_features, dtype=dtype, device=device))
            self.register_buffer("running_var", ones(num_features, dtype=dtype, device=device))
            self.register_buffer("num_batches_tracked", tensor(0, dtype=int64, device=device))
        else:
            self.register_buffer("running_mean", None)
            self.register_buffer("running_var", None)
            self.register_buffer("num_batches_tracked", None)
        self.reset_parameters()

    def reset_running_stats(self) -> None:
        if self.track_running_stats:
            self.running_mean.zero_()
            self.running_var.fill_(1)
            self.num_batches_tracked.zero_()

    def reset_parameters(self) -> None:
        self.reset_running_stats()
        if self.affine:
            init.ones_(self.weight)
            if self.bias is not None:
                init.zeros_(self.bias)

    def _check_input_dim(self, input: Tensor) -> None:
        name = type(self).__name__
        if not isinstance(input, Tensor) or input.ndim not in self._dims:
            got = f"input of shape {tuple(input.shape)}" if isinstance(input, Tensor) else \
                type(input).__name__
            want = " or ".join(f"{d}-D" for d in self._dims)
            raise op_error(ShapeError, name, f"expected {want} input, got {got}")
        if input.shape[1] != self.num_features:
            raise op_error(ShapeError, name, f"{self!r} was given an input of shape "
                           f"{tuple(input.shape)} with {input.shape[1]} channels, but it expects "
                           f"{self.num_features} channels")

    def forward(self, input: Tensor) -> Tensor:
        self._check_input_dim(input)
        factor = 0.0 if self.momentum is None else self.momentum
        if self.training and self.track_running_stats:
            self.num_batches_tracked.add_(1)
            if self.momentum is None:  # cumulative moving average
                factor = 1.0 / float(self.num_batches_tracked.item())
        use_batch_stats = self.training or not self.track_running_stats
        # running stats are updated only while training with tracking on
        update = self.training and self.track_running_stats
        return F.batch_norm(input, self.running_mean if update or not use_batch_stats else None,
                            self.running_var if update or not use_batch_stats else None,
                            self.weight, self.bias, use_batch_stats, factor, self.eps)

    def extra_repr(self) -> str:
        bias = f", bias={self.has_bias}"
        return (f"{self.num_features}, eps={self.eps}, momentum={self.momentum}, "
                f"affine={self.affine}{bias}, track_running_stats={self.track_running_stats}")


class BatchNorm1d(_BatchNorm):
    """Batch normalization of (N, C) or (N, C, L) input, per channel."""

    _dims = (2, 3)


class BatchNorm2d(_BatchNorm):
    """Batch normalization of (N, C, H, W) input, per channel."""

    _dims = (4,)


class BatchNorm3d(_BatchNorm):
    """Batch normalization of (N, C, D, H, W) input, per channel."""

    _dims = (5,)


class SyncBatchNorm(_BatchNorm):
    """PyTorch's cross-process batch norm. Without an initialized process group (always, in
    chainrule) PyTorch's runs as a plain batch norm over the local batch; so does this one."""

    def _check_input_dim(self, input: Tensor) -> None:
        if not isinstance(input, Tensor) or input.ndim < 2:
            got = f"{input.ndim}D" if isinstance(input, Tensor) else type(input).__name__
            raise op_error(ValueError, "SyncBatchNorm", f"expected at least 2D input (got {got} "
                           "input)")
        if input.shape[1] != self.num_features:
            raise op_error(ShapeError, "SyncBatchNorm", f"{self!r} was given an input of shape "
                           f"{tuple(input.shape)} with {input.shape[1]} channels, but it expects "
                           f"{self.num_features} channels")

    @classmethod
    def convert_sync_batchnorm(cls, module: Module, process_group=None) -> Module:
        """``module`` with every BatchNorm*d replaced by a SyncBatchNorm holding the same
        parameters and statistics (PyTorch's helper for distributed training)."""
        converted = module
        if isinstance(module, _BatchNorm) and not isinstance(module, (SyncBatchNorm, _InstanceNorm)):
            converted = cls(module.num_features, module.eps, module.momentum, module.affine,
                            module.track_running_stats)
            if module.affine:
                with _no_grad():
                    converted.weight = module.weight
                    converted.bias = module.bias
            converted.running_mean = module.running_mean
            converted.running_var = module.running_var
            converted.num_batches_tracked = module.num_batches_tracked
            converted.training = module.training
        for name, child in module.named_children():
            converted.add_module(name, cls.convert_sync_batchnorm(child, process_group))
        return converted


class LayerNorm(Module):
    """Normalization over the last dims given by ``normalized_shape``, with elementwise affine.

    >>> import chainrule as cr
    >>> cr.nn.LayerNorm(4)(cr.randn(2, 3, 4)).shape
    chainrule.Size([2, 3, 4])
    """

    def __init__(self, normalized_shape, eps: float = 1e-5, elementwise_affine: bool = True,
                 bias: bool = True, device=None, dtype=None) -> None:
        super().__init__()
        if _args.is_int(normalized_shape):
            normalized_shape = (normalized_shape,)
        if not isinstance(normalized_shape, (tuple, list)):
            raise op_error(DTypeError, "LayerNorm", f"normalized_shape must be an int or a tuple of "
                           f"ints, got {normalized_shape!r}")
        self.normalized_shape = tuple(_args.size(s, "normalized_shape", "LayerNorm")
                                      for s in normalized_shape)
        self.eps = eps
        self.elementwise_affine = elementwise_affine
        _register_affine(self, elementwise_affine, bias, self.normalized_shape, device, dtype)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        if self.weight is not None:
            init.ones_(self.weight)
        if self.bias is not None:
            init.zeros_(self.bias)

    def forward(self, input: Tensor) -> Tensor:
        k = len(self.normalized_shape)
        if not isinstance(input, Tensor) or input.ndim < k or \
                tuple(input.shape[-k:]) != self.normalized_shape:
            got = tuple(input.shape) if isinstance(input, Tensor) else type(input).__name__
            raise op_error(ShapeError, "LayerNorm", f"{self!r} expects input whose last dims are "
                           f"{self.normalized_shape}, got input of shape {got}")
        return F.layer_norm(input, self.normalized_shape, self.weight, self.bias, self.eps)

    def extra_repr(self) -> str:
        bias = f", bias={self.bias is not None}"
        return (f"{self.normalized_shape}, eps={self.eps}, "
                f"elementwise_affine={self.elementwise_affine}{bias}")


class GroupNorm(Module):
    """Normalization over groups of channels (and the spatial dims), per sample.

    >>> import chainrule as cr
    >>> cr.nn.GroupNorm(2, 4)(cr.randn(3, 4, 5)).shape
    chainrule.Size([3, 4, 5])
    """

    def __init__(self, num_groups: int, num_channels: int, eps: float = 1e-5, affine: bool = True,
                 device=None, dtype=None, *, bias: bool = True) -> None:
        super().__init__()
        _args.size(num_groups, "num_groups", "GroupNorm", minimum=1)
        _args.size(num_channels, "num_channels", "GroupNorm")
        if num_channels % num_groups:
            raise op_error(ValueError, "GroupNorm", f"num_channels ({num_channels}) must be "
                           f"divisible by num_groups ({num_groups})")
        self.num_groups = num_groups
        self.num_channels = num_channels
        self.eps = eps
        self.affine = affine
        self.has_bias = affine and bias
        _register_affine(self, affine, bias, (num_channels,), device, dtype)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        if self.affine:
            init.ones_(self.weight)
            if self.bias is not None:
                init.zeros_(self.bias)

    def forward(self, input: Tensor) -> Tensor:
        if not isinstance(input, Tensor) or input.ndim < 2 or input.shape[1] != self.num_channels:
            got = tuple(input.shape) if isinstance(input, Tensor) else type(input).__name__
            raise op_error(ShapeError, "GroupNorm", f"{self!r} expects (N, {self.num_channels}, "
                           f"...) input, got input of shape {got}")
        return F.group_norm(input, self.num_groups, self.weight, self.bias, self.eps)

    def extra_repr(self) -> str:
        bias = f", bias={self.has_bias}"
        return f"{self.num_groups}, {self.num_channels}, eps={self.eps}, affine={self.affine}{bias}"


class _InstanceNorm(_BatchNorm):
    """Instance norm: per-sample, per-channel statistics over the spatial dims; no affine and
    no running statistics unless asked (PyTorch's defaults); unbatched input accepted."""

    _spatial = 1

    def __init__(self, num_features: int, eps: float = 1e-5, momentum: float | None = 0.1,
                 affine: bool = False, track_running_stats: bool = False, device=None,
                 dtype=None) -> None:
        super().__init__(num_features, eps, momentum, affine, track_running_stats, device, dtype)

    def _check_input_dim(self, input: Tensor) -> None:
        batched = self._spatial + 2
        if not isinstance(input, Tensor) or input.ndim not in (batched - 1, batched):
            got = f"{input.ndim}D" if isinstance(input, Tensor) else type(input).__name__
            raise op_error(ValueError, type(self).__name__, f"expected {batched - 1}D or "
                           f"{batched}D input (got {got} input)")

    def forward(self, input: Tensor) -> Tensor:
        self._check_input_dim(input)
        feature_dim = input.ndim - self._spatial - 1
        if input.shape[feature_dim] != self.num_features:
            if self.affine:
                raise op_error(ValueError, type(self).__name__, f"expected input's size at "
                               f"dim={feature_dim} to match num_features ({self.num_features}), "
                               f"but got: {input.shape[feature_dim]}.")
            from ..errors import warn_user
            warn_user(f"input's size at dim={feature_dim} does not match num_features. You can "
                      "silence this warning by not passing in num_features, which is not used "
                      "because affine=False")
        unbatched = input.ndim == self._spatial + 1
        x = input.unsqueeze(0) if unbatched else input
        y = F.instance_norm(x, self.running_mean, self.running_var, self.weight, self.bias,
                            self.training or not self.track_running_stats,
                            self.momentum if self.momentum is not None else 0.0, self.eps)
        return y.squeeze(0) if unbatched else y


class InstanceNorm1d(_InstanceNorm):
    """Instance normalization of (N, C, L) or (C, L) input."""

    _spatial = 1


class InstanceNorm2d(_InstanceNorm):
    """Instance normalization of (N, C, H, W) or (C, H, W) input."""

    _spatial = 2


class InstanceNorm3d(_InstanceNorm):
    """Instance normalization of (N, C, D, H, W) or (C, D, H, W) input."""

    _spatial = 3


class RMSNorm(Module):
    """Root-mean-square normalization over the last dims, with an elementwise scale.

    >>> import chainrule as cr
    >>> cr.nn.RMSNorm(4)
    RMSNorm((4,), eps=None, elementwise_affine=True)
    """

    def __init__(self, normalized_shape, eps: float | None = None, elementwise_affine: bool = True,
                 device=None, dtype=None) -> None:
        super().__init__()
        if _args.is_int(normalized_shape):
            normalized_shape = (normalized_shape,)
        self.normalized_shape = tuple(_args.size(s, "normalized_shape", "RMSNorm")
                                      for s in normalized_shape)
        self.eps = eps
        self.elementwise_affine = elementwise_affine
        if elementwise_affine:
            self.weight = Parameter(empty(*self.normalized_shape, dtype=dtype, device=device))
        else:
            self.register_parameter("weight", None)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        if self.weight is not None:
            init.ones_(self.weight)

    def forward(self, input: Tensor) -> Tensor:
        return F.rms_norm(input, self.normalized_shape, self.weight, self.eps)

    def extra_repr(self) -> str:
        return (f"{self.normalized_shape}, eps={self.eps}, "
                f"elementwise_affine={self.elementwise_affine}")


class LocalResponseNorm(Module):
    """Normalization across neighbouring channels (AlexNet's)."""

    def __init__(self, size: int, alpha: float = 1e-4, beta: float = 0.75, k: float = 1.0) -> None:
        super().__init__()
        self.size = size
        self.alpha = alpha
        self.beta = beta
        self.k = k

    def forward(self, input: Tensor) -> Tensor:
        return F.local_response_norm(input, self.size, self.alpha, self.beta, self.k)

    def extra_repr(self) -> str:
        return f"{self.size}, alpha={self.alpha}, beta={self.beta}, k={self.k}"


def _no_grad():
    from ..autograd.grad_mode import no_grad
    return no_grad()
