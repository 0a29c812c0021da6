"""Every NumPy speed trick has a benchmark row (benchmarks/numpy_kernels.py) that can
re-measure it, and each row's two sides compute the same values (no timing here)."""
import inspect

import numpy as np
import pytest

from benchmarks import numpy_kernels as B
from chainrule.ops import numpy_kernels as K

ROWS = B.rows()


def _functions_of(module) -> set[str]:
    return {name for name, fn in vars(module).items()
            if inspect.isfunction(fn) and fn.__module__ == module.__name__}


def test_every_function_of_numpy_kernels_has_a_row_or_a_reason():
    covered = {fn.__name__ for row in ROWS for fn in row.covers
               if getattr(fn, "__module__", None) == K.__name__}
    defined = _functions_of(K)
    missing = defined - covered - set(B.NOT_TRICKS)
    assert not missing, f"kernels without a benchmark row (or a NOT_TRICKS reason): {missing}"
    stale = set(B.NOT_TRICKS) - defined
    assert not stale, f"NOT_TRICKS names functions that no longer exist: {stale}"
    both = covered & set(B.NOT_TRICKS)
    assert not both, f"listed as no trick but measured by a row: {both}"


@pytest.mark.parametrize("row", ROWS, ids=[r.name for r in ROWS])
def test_each_kernel_names_its_row(row):
    for fn in row.covers:
        doc = inspect.getdoc(fn) or ""
        assert f"benchmark row ``{row.name.lower()}``" in " ".join(doc.lower().split()), (
            f"{fn.__qualname__}'s docstring should name its benchmark row ``{row.name}``")


@pytest.mark.parametrize("row", ROWS, ids=[r.name for r in ROWS])
def test_both_sides_of_a_row_agree(row):
    why = row.available()
    if why is not None:
        pytest.skip(why)
    kernel = row.kernel(*row.make())
    plain = row.plain(*row.make())
    assert kernel.shape == plain.shape and kernel.dtype == plain.dtype
    np.testing.assert_allclose(kernel, plain, rtol=row.rtol, atol=row.atol)


def test_row_names_are_unique():
    names = [r.name for r in ROWS]
    assert len(names) == len(set(names))

