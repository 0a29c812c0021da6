"""Functional forms of the layers and losses (``chainrule.nn.functional``, PyTorch's ``F``)."""
from ._activation import *  # noqa: F401,F403
from ._linear import *  # noqa: F401,F403
from ._loss import *  # noqa: F401,F403
from ._loss_margin import *  # noqa: F401,F403
from ._conv import *  # noqa: F401,F403
from ._pooling import *  # noqa: F401,F403
from ._normalization import *  # noqa: F401,F403
from ._dropout import *  # noqa: F401,F403
from ._sparse import *  # noqa: F401,F403
from ._attention import *  # noqa: F401,F403
from ._misc import *  # noqa: F401,F403
from ._vision import *  # noqa: F401,F403,E402
from ._embedding_bag import *  # noqa: F401,F403,E402
from ._grid import *  # noqa: F401,F403,E402
from ._conv3d import *  # noqa: F401,F403,E402
from ._pooling3d import *  # noqa: F401,F403,E402
from ._ctc import *  # noqa: F401,F403,E402
