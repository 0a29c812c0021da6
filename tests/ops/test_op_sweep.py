"""The op sweep: every spec case against PyTorch (float32, float64) through both uses of
each rule (on arrays in a plain backward, on Tensors under ``create_graph=True``),
finite differences (float64, :func:`chainrule.autograd.gradcheck`) and, for smooth ops,
second order: against finite differences (gradgradcheck) and, for these and for ops that
are smooth away from their kinks, against PyTorch's double backward (float32, float64)."""
from __future__ import annotations

import pytest

from harness import (all_specs, case_id, check_against_torch, check_finite_differences,
                     check_second_order, check_second_order_against_torch,
                     check_tensor_rules_against_torch, torch_second_order_applies)

SPECS = all_specs()

TORCH = [pytest.param(s, c, d, id=f"{case_id(s, k, c)}-{d}")
         for s in SPECS for k, c in enumerate(s.cases) if c.torch for d in s.dtypes]
TENSOR_RULES = [pytest.param(s, c, d, id=f"{case_id(s, k, c)}-{d}")
                for s in SPECS if s.grad for k, c in enumerate(s.cases) if c.torch for d in s.dtypes]
FD = [pytest.param(s, c, id=case_id(s, k, c))
      for s in SPECS if s.grad for k, c in enumerate(s.cases) if c.fd]
SECOND = [pytest.param(s, c, id=case_id(s, k, c))
          for s in SPECS if s.grad and s.smooth for k, c in enumerate(s.cases) if c.fd and c.second]
SECOND_TORCH = [pytest.param(s, c, d, id=f"{case_id(s, k, c)}-{d}")
                for s in SPECS for k, c in enumerate(s.cases) if torch_second_order_applies(s, c)
                for d in s.dtypes]


@pytest.mark.parametrize("spec,case,dtype", TORCH)
def test_matches_torch(spec, case, dtype):
    check_against_torch(spec, case, dtype)


@pytest.mark.parametrize("spec,case,dtype", TENSOR_RULES)
def test_tensor_rules_match_torch(spec, case, dtype):
    check_tensor_rules_against_torch(spec, case, dtype)


@pytest.mark.parametrize("spec,case", FD)
def test_finite_differences(spec, case):
    check_finite_differences(spec, case)


@pytest.mark.parametrize("spec,case", SECOND)
def test_second_order(spec, case):
    check_second_order(spec, case)


@pytest.mark.parametrize("spec,case,dtype", SECOND_TORCH)
def test_second_order_matches_torch(spec, case, dtype):
    check_second_order_against_torch(spec, case, dtype)
