"""The op families. Importing this package registers every op and its Tensor methods.

The order is the layering (each family imports only those before it); ``inplace`` makes
the in-place twin of each method it finds on Tensor, so it comes after every family
that defines one.
"""
from . import registry  # noqa: F401
from . import conversion, comparison, elementwise, activations, numpy_kernels  # noqa: F401
from . import shape, diagonals, join, reduce, minmax, norms, linalg, softmax, indexing  # noqa: F401
from . import conv, pooling, sorting, search, scans, products, structure  # noqa: F401
from . import inplace, inplace_views  # noqa: F401  (x.add_(…); unsqueeze_, t_ …)
