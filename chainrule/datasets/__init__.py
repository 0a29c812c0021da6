"""Data sets: bundled (digits), downloadable (MNIST, FashionMNIST) and synthetic.

>>> import chainrule as cr
>>> train = cr.datasets.digits("train")
>>> x, y = train[0]
>>> x.shape, x.dtype, y.dtype
(chainrule.Size([1, 8, 8]), chainrule.float32, chainrule.int64)
"""
from .bundled import digits
from .download import DownloadError, check_integrity, download_url
from .idx import IDXError, read_idx, write_idx
from .mnist import MNIST, FashionMNIST
from .synthetic import moons, spirals

__all__ = ["digits", "MNIST", "FashionMNIST", "moons", "spirals", "read_idx", "write_idx",
           "IDXError", "download_url", "check_integrity", "DownloadError"]
