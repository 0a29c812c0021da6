"""Op specs for tril/triu/diag and the sorting family (sort, argsort, topk, kthvalue, median).

The sorting functions gather their values with ``gather``; their gradients are swept
here on inputs without ties (the order, and so the gradient, is then unique).
"""
from __future__ import annotations

from harness import C, S, both, distinct

NO_TIES = distinct()
SPECS = []

SPECS.extend([
    S("tril", both(lambda m, x, k=0: m.tril(x, k)),
      [C((3, 3)), C((2, 3, 4), 1), C((4, 3), -1), C((2, 5), 7), C((0, 3))]),
    S("triu", both(lambda m, x, k=0: m.triu(x, k)),
      [C((3, 3)), C((2, 3, 4), -1), C((4, 3), 2), C((3, 2), -5)]),
    S("tril_triu_methods", both(lambda m, x: (x.tril(diagonal=1), x.triu(diagonal=-1))), [C((3, 4))]),
    S("diag", both(lambda m, x, k=0: m.diag(x, k)), [C((3,)), C((3,), 1), C((2,), -2), C((3, 4)),
                                                     C((4, 3), -1), C((3, 3), 5)]),
    S("sort", both(lambda m, x, *a, **k: tuple(m.sort(x, *a, **k))),
      [C((5,)), C((3, 4), 0), C((3, 4), kw=dict(descending=True)), C((2, 3, 4), 1, True)],
      domain=NO_TIES, smooth=False),
    S("argsort_msort", both(lambda m, x: (m.argsort(x, dim=0, descending=True), m.msort(x))),
      [C((4, 3))], domain=NO_TIES, smooth=False),
    S("topk", both(lambda m, x, k, *a: tuple(m.topk(x, k, *a))),
      [C((6,), 3), C((3, 5), 2, 0), C((3, 5), 2, -1, False), C((3, 5), 0), C((2, 4), 4)],
      domain=NO_TIES, smooth=False),
    S("kthvalue", both(lambda m, x, k, *a: tuple(m.kthvalue(x, k, *a))),
      [C((5,), 2), C((3, 4), 1, 0), C((3, 4), 4, 1, True)], domain=NO_TIES, smooth=False),
    S("median", both(lambda m, x, *a: m.median(x, *a) if not a else tuple(m.median(x, *a))),
      [C((5,)), C((4, 3)), C((4, 3), 0), C((4, 3), 1, True)], domain=NO_TIES, smooth=False),
])
