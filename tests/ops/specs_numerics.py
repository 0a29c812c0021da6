"""Op specs for ops added by the numerics work (tests/test_numerics_warnings.py covers their
non-finite edge cases): binary_cross_entropy as one op with PyTorch's rules."""
from __future__ import annotations

import numpy as np

from harness import C, F, S, both


def _probabilities(rng, shape):
    return rng.uniform(0.05, 0.95, size=shape)


SPECS = [
    S("nn_binary_cross_entropy",
      both(lambda m, x, y, **k: m.nn.functional.binary_cross_entropy(x, y, **k)),
      [C((4, 3), F((4, 3), domain=_probabilities)),
       C((5,), F((5,), domain=_probabilities), kw=dict(reduction="none")),
       C((2, 3), F((2, 3), domain=_probabilities), kw=dict(reduction="sum"))],
      domain=_probabilities, ops=("binary_cross_entropy",)),
]
