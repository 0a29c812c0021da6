"""The op families. Importing this package registers every op and Tensor method."""
from . import registry  # noqa: F401
from . import conversion, elementwise, shape, reduce, linalg, softmax, indexing, inplace, conv, sorting  # noqa: F401

OP_FAMILIES = ("conversion", "elementwise", "shape", "reduce", "linalg", "softmax", "indexing", "inplace", "conv", "sorting")
from . import search, scans, products, structure  # noqa: F401,E402  (ops added later, own files)
from . import inplace_views  # noqa: F401,E402  (unsqueeze_, t_ … : in-place shape ops)
