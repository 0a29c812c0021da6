"""Mixed precision, as ``torch.amp``: :class:`autocast` and :class:`GradScaler`.

* :mod:`~chainrule.amp.autocast_mode`: ``autocast(device_type, dtype)``, the switch;
* :mod:`~chainrule.amp.policy`: which ops run in the lower precision, which in float32
  (PyTorch's CPU lists);
* :mod:`~chainrule.amp.grad_scaler`: dynamic loss scaling for float16 training.

bfloat16 and float16 arithmetic is emulated on NumPy (each op computes in float32 and
rounds its result, as PyTorch's CPU kernels do): mixed precision here gives PyTorch's
dtypes and values, not speed.

>>> import chainrule as cr
>>> model = cr.nn.Linear(3, 2)
>>> with cr.autocast("cpu", dtype=cr.bfloat16):
...     out = model(cr.ones(4, 3))
...     loss = cr.nn.functional.mse_loss(out, cr.zeros(4, 2))
>>> out.dtype, loss.dtype
(chainrule.bfloat16, chainrule.float32)
>>> loss.backward(); model.weight.grad.dtype
chainrule.float32
"""
from types import SimpleNamespace as _SimpleNamespace

from .autocast_mode import (AUTOCAST, CudaAutocast, autocast, autocast_inputs, get_autocast_dtype,
                            is_autocast_available, is_autocast_enabled, suspended)
from .grad_scaler import CudaGradScaler, GradScaler, OptState
from .. import cuda as _cuda

# torch.cuda.amp.GradScaler / autocast (PyTorch's older spellings): set here, as chainrule.cuda
# sits below this package
_cuda.amp = _SimpleNamespace(GradScaler=CudaGradScaler, autocast=CudaAutocast)

__all__ = ["GradScaler", "autocast", "is_autocast_available", "is_autocast_enabled",
           "get_autocast_dtype"]
