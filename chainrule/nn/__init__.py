"""Neural-network layers, losses and utilities with PyTorch's names (``chainrule.nn``)."""
import sys as _sys

from .parameter import Parameter, Buffer  # noqa: F401
from .module import Module  # noqa: F401
from .containers import *  # noqa: F401,F403
from .linear import *  # noqa: F401,F403
from .activation import *  # noqa: F401,F403
from .loss import *  # noqa: F401,F403
from .conv import *  # noqa: F401,F403
from .pooling import *  # noqa: F401,F403
from .normalization import *  # noqa: F401,F403
from .dropout import *  # noqa: F401,F403
from .sparse import *  # noqa: F401,F403
from .rnn import *  # noqa: F401,F403
from .attention import *  # noqa: F401,F403
from .transformer import *  # noqa: F401,F403
from .vision import *  # noqa: F401,F403
from .padding import *  # noqa: F401,F403
from .distance import *  # noqa: F401,F403
from . import functional, init, utils  # noqa: F401
from . import modules  # noqa: E402,F401  (PyTorch's torch.nn.modules.<file> paths)
from .embedding_bag import *  # noqa: F401,F403,E402
from .layers3d import *  # noqa: F401,F403,E402
from .ctc_loss import *  # noqa: F401,F403,E402
modules.install(_sys.modules[__name__])  # torch.nn.modules.<file>: the layers imported above
