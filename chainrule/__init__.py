"""chainrule: a deep-learning library built around backpropagation, that shows it happening.

>>> import chainrule as cr
>>> x = cr.tensor([[1.0, 2.0]], requires_grad=True)
>>> y = (x @ cr.ones(2, 3)).relu().sum()
>>> y.backward()
>>> x.grad
tensor([[3., 3.]])
"""
import sys as _sys

from .dtypes import (DType, bool_ as bool, float16, bfloat16, float32, float64, half, double, int8, int16,  # noqa: A004
                     int32, int64, uint8, short, long, get_default_dtype, set_default_dtype,
                     promote_types)
from .dtypes import float as float  # noqa: A004,F401,E402
from .dtypes import int as int  # noqa: A004,F401,E402
from .backends import Device as device
from .tensor import Tensor, Size
from .autograd.grad_mode import (no_grad, enable_grad, set_grad_enabled, is_grad_enabled,
                                 inference_mode)
from .creation import *  # noqa: F401,F403
from .random import (Generator, manual_seed, seed, initial_seed, get_rng_state, set_rng_state,
                     default_generator, rand, randn, randint, randperm, rand_like, randn_like,
                     randint_like, normal, bernoulli, multinomial)
from . import ops as _ops  # registers every op and Tensor method
from .ops.functions import *  # noqa: F401,F403
from . import autograd, func, nn, optim, utils, datasets, diagnostics  # noqa: E402
from .serialization import *  # noqa: F401,F403,E402
from . import serialization  # noqa: E402  (torch.serialization.safe_globals)
# PyTorch's device, accelerator and process-wide switches, answered truthfully for chainrule
from . import accelerator, amp, cuda, distributed, onnx  # noqa: E402
from .amp import autocast, is_autocast_available, is_autocast_enabled, get_autocast_dtype  # noqa: E402,F401
from .type_info import finfo, iinfo  # noqa: E402,F401
from .backends import cuda as _backends_cuda, cudnn as _cudnn, mkldnn as _mkldnn  # noqa: E402,F401
from .backends import mps as _mps, openmp as _openmp  # noqa: E402,F401
from .nn import parallel as _parallel  # noqa: E402,F401
from .runtime import *  # noqa: F401,F403,E402
from .legacy import *  # noqa: F401,F403,E402  (x.new_zeros, FloatTensor …)
from ._late_bindings import connect as _connect_layers  # noqa: E402
_connect_layers()

__version__ = "0.1.0"

from . import _compat_methods  # noqa: E402,F401  (x == None is False, as PyTorch)
from .ops.more_math import *  # noqa: F401,F403,E402  (asinh, atan2, unique, trace …)
from .more_api import *  # noqa: F401,F403,E402  (pi, finfo, meshgrid …)
from . import compiler  # noqa: E402  (torch.compiler)
from .compiler import compile  # noqa: E402,F401,A001  (torch.compile: capture a step, replay it)
from ._out import install as _install_out  # noqa: E402  (PyTorch's out= on the functions that take it)
_install_out(globals())
del _install_out
_compat_methods.install_methods(_sys.modules[__name__])  # (x.fliplr(), x.eq_(y) …: after every op is in place)
from . import multiprocessing  # noqa: E402  (Tensor.share_memory_, spawn; torch.multiprocessing)
from . import sparse  # noqa: E402  (sparse COO: torch.sparse_coo_tensor, to_sparse, torch.sparse.mm)
from .sparse import layout, sparse_coo, sparse_coo_tensor, spmm, strided  # noqa: E402,F401
from . import _deprecated_overloads  # noqa: E402,F401  (add_(Number, Tensor) …, with PyTorch's warning)
from ._opmath import install as _install_opmath  # noqa: E402
_install_opmath()  # (bfloat16/float16 composites computed in float32, rounded once)
del _install_opmath
from .amp.policy import install as _install_autocast_policy  # noqa: E402
_install_autocast_policy()  # (PyTorch's autocast op lists: after every function is in place)
del _install_autocast_policy
from . import cpu  # noqa: E402,F401  (torch.cpu: is_available, cpu.amp's deprecated spellings)
from .utils.dlpack import from_dlpack  # noqa: E402,F401  (torch.from_dlpack)
