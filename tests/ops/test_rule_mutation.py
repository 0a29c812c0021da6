"""Mutation tests of the op sweep: one VJP rule made 10% wrong must turn the sweep red.

Each op has one rule per input, written once against a namespace ``m`` (``defgrad``): the
engine runs it on arrays for a plain first-order backward and on Tensors under
``create_graph`` (higher orders). A few ops have rules written on Tensors only (``defvjp``),
which the engine runs on Tensors at every order. One rule of one input at a time is
replaced by a wrong one:

* ``arrays``:      the rule, run on arrays, returns 1.1 × its value;
* ``tensor``:      the rule, run on Tensors, returns 1.1 × its value;
* ``derivative``:  the rule, run on Tensors, returns its value, but its own derivative is
                   1.1 × too large (``r + 0.1 (r - r.detach())``): only a second-order
                   check sees it.

The two halves of one definition are mutated apart so that each order is seen to be
checked. The sweep's checks (float64) then run in-process on the spec cases that apply the
op, and one of them must fail. A ``tensor`` mutation must be caught by the checks that the
sweep added for ``create_graph`` (first order through ``create_graph``, and second order
against PyTorch), not by the plain backward's check: for a Tensor-only rule that check
would see it anyway.
"""
from __future__ import annotations

import contextlib

import pytest

import chainrule as cr
from chainrule.autograd.engine import IndexedGrad
from chainrule.autograd.rule_namespace import TENSORS
from chainrule.ops import registry
from harness import (all_specs, case_id, check_against_torch, check_second_order_against_torch,
                     check_tensor_rules_against_torch, run_for_coverage,
                     torch_second_order_applies)

SCALE = 1.1

# ops that must be among the mutated (every op with a Tensor rule is): the ones the issue
# names. mean has no rule of its own (it is sum, then div); layer_norm is the fused
# "standardize" op; conv2d's backward ops are conv2d_weight and conv_transpose2d
NAMED = ("exp", "log", "sigmoid", "tanh", "gelu", "log_softmax", "softmax", "matmul", "conv2d",
         "conv2d_weight", "conv_transpose2d", "standardize", "cross_entropy", "sum", "pow",
         "pow_scalar", "div")

# mutations the sweep cannot see, with the reason. The test checks that each still passes
# every check, so the list cannot go stale.
ZERO = "its gradient is zero: 1.1 x 0 is the same rule"
THIRD = "a backward op: this is a third-order term, and the sweep compares up to second order"
NOT_CAUGHT: dict[tuple[str, int, str], str] = {
    **{(name, i, kind): ZERO for name, inputs in (("ceil", 1), ("floor", 1), ("round", 1),
                                                  ("sign", 1), ("trunc", 1), ("floor_divide", 2))
       for i in range(inputs) for kind in ("arrays", "tensor", "derivative")},
    ("relu_grad", 1, "arrays"): "its rule for the saved output is None (no derivative)",
    ("relu_grad", 1, "tensor"): "its rule for the saved output is None (no derivative)",
    ("relu_grad", 1, "derivative"): "its rule for the saved output is None (no derivative)",
    # the adjoint of max_pool2d_backward (itself max_pool2d's backward op)
    ("max_pool2d_select", 0, "arrays"): THIRD,
    ("max_pool2d_select", 0, "tensor"): THIRD,
    **{(name, i, kind): "its rule for a saved input is None: the positions of the maxima are "
                        "piecewise constant (no derivative)"
       for name in ("max_pool2d_backward", "max_pool2d_select") for i in (1, 2)
       for kind in ("arrays", "tensor", "derivative")},
    **{(name, i, "derivative"): THIRD for name, i in (
        ("conv2d_weight", 0), ("conv2d_weight", 1), ("cross_entropy_grad", 0),
        ("cross_entropy_grad", 1), ("embedding_backward", 0), ("index_put_zeros", 0),
        ("linear_bias_grad", 0), ("linear_weight_grad", 0), ("linear_weight_grad", 1),
        ("max_pool2d_backward", 0), ("max_pool2d_select", 0), ("pad_dim", 0), ("pool_scatter", 0),
        ("relu_grad", 0), ("unfold_backward", 0), ("window_sum_t", 0))},
    ("ctc_loss", 0, "derivative"): "its rule is ctc_loss_backward, which (as PyTorch's) has "
                                   "no derivative: nothing of second order to compare",
    **{(name, 0, "derivative"): "PyTorch's sparse backward has no derivative with respect to "
                                "its incoming gradient: no second-order oracle"
       for name in ("sparse_coo_sum_duplicates", "sparse_coo_to_dense")},
}
# ops left out: their rules have no value to scale
NO_VALUE = {"refused_view": "its rules raise BackwardError by design (PyTorch refuses too)",
            "to_device": "needs a second device (see test_op_registry.UNREACHABLE)"}

# an op with any number of inputs (cat) has its rules mutated for this many of them
VARIADIC_WIDTH = 4


def _rules(op) -> list:
    """``op``'s rules as a list (the first VARIADIC_WIDTH of an op with any number of inputs)."""
    if isinstance(op.vjps, registry.RulesOfJoint):
        return [op.vjps[i] for i in range(VARIADIC_WIDTH)]
    return list(op.vjps)


def _targets() -> list:
    """(op name, input index, kind) for every rule of every differentiable op."""
    out = []
    for name, op in sorted(registry.REGISTRY.items()):
        if not op.differentiable or not op.vjps or name in NO_VALUE:
            continue
        kinds = ("arrays", "tensor", "derivative") if op.array_rules else ("tensor", "derivative")
        out += [(name, i, kind) for i, rule in enumerate(_rules(op)) if rule is not None
                for kind in kinds]
    return out


TARGETS = _targets()


@pytest.fixture(scope="module")
def cases_by_op():
    return trace_cases_by_op()


def trace_cases_by_op() -> dict:
    """op name → [(spec, case)] that apply it (forward, backward or double backward), the
    specs about the op first, then those that apply the fewest ops."""
    applied = []
    for spec in all_specs():
        if not spec.grad:
            continue
        for k, case in enumerate(spec.cases):
            if not case.torch:
                continue
            with registry.trace_op_names() as names:
                run_for_coverage(spec, case)
            applied.append((spec, k, case, names))
    by_op: dict[str, list] = {}
    for spec, k, case, names in applied:
        for name in names:
            by_op.setdefault(name, []).append((spec, k, case, len(names)))
    for name, entries in by_op.items():
        entries.sort(key=lambda e: (not _about(e[0], name), e[3]))
    return {name: [(s, k, c) for s, k, c, _ in entries] for name, entries in by_op.items()}


def _about(spec, name: str) -> bool:
    return name in spec.ops or spec.name == name or spec.name.startswith(name + "_") \
        or spec.name == "nn_" + name


# ------------------------------------------------------------------ mutants --
def _scale(r):
    if r is None:
        return None
    if isinstance(r, IndexedGrad):
        return IndexedGrad(r.index, r.values * SCALE, r.shape, r.accumulate)
    return r * SCALE


def _with_wrong_derivative(r):
    # the same value; a derivative (in the inputs and in g) 1.1 times the rule's
    return None if r is None else r + (r - r.detach()) * (SCALE - 1)


def _wrong(kind: str):
    """The mutation of one result: applied only where the rule ran in ``kind``'s namespace."""
    on_tensors = kind != "arrays"
    change = _with_wrong_derivative if kind == "derivative" else _scale

    def apply(m, r):
        return change(r) if (m is TENSORS) == on_tensors else r
    return apply


def _mutated_rule(rule, kind: str):
    wrong = _wrong(kind)

    def mutant(m, *args, **params):
        return wrong(m, rule(m, *args, **params))
    return mutant


def _mutated_joint(joint, index: int, kind: str):
    wrong = _wrong(kind)

    def mutant(m, *args, **params):
        results = list(joint(m, *args, **params))
        if index < len(results):  # (an op with any number of inputs: this call may have fewer)
            results[index] = wrong(m, results[index])
        return results
    return mutant


@contextlib.contextmanager
def mutated(op, index: int, kind: str):
    """``op`` with the rule of input ``index`` made wrong (see the module docstring)."""
    saved = op.vjps, op.joint
    try:
        if isinstance(op.vjps, registry.RulesOfJoint):  # its rules are made from the joint one
            op.joint = _mutated_joint(op.joint, index, kind)
            op.vjps = registry.RulesOfJoint(op.joint)
            yield
            return
        rules = list(op.vjps)
        rules[index] = _mutated_rule(rules[index], kind)
        op.vjps = tuple(rules)
        if op.joint is not None:  # the engine calls the joint rule when there is one
            op.joint = _mutated_joint(op.joint, index, kind)
        yield
    finally:
        op.vjps, op.joint = saved


def _checks(kind: str, spec, case) -> list:
    """The sweep's checks that should see a mutation of this kind on this case."""
    second = [check_second_order_against_torch] if torch_second_order_applies(spec, case) else []
    if kind == "arrays":  # the plain backward; a backward op's rule runs in a double backward
        return [check_against_torch] + second
    if kind == "tensor":
        return [check_tensor_rules_against_torch] + second
    return second


def first_failure(op_name: str, index: int, kind: str, cases) -> str | None:
    """The first check (and case) that fails with the mutation in place, else None."""
    op = registry.REGISTRY[op_name]
    with mutated(op, index, kind):
        for spec, k, case in cases:
            dtype = "float64" if "float64" in spec.dtypes else spec.dtypes[0]
            for check in _checks(kind, spec, case):
                try:
                    check(spec, case, dtype)
                except AssertionError:
                    return f"{check.__name__}[{case_id(spec, k, case)}]"
    return None


@pytest.mark.parametrize("op_name,index,kind",
                         [pytest.param(*t, id="{}-{}-{}".format(*t)) for t in TARGETS])
def test_mutation_is_caught(cases_by_op, op_name, index, kind):
    cases = cases_by_op.get(op_name, [])
    caught = first_failure(op_name, index, kind, cases)
    reason = NOT_CAUGHT.get((op_name, index, kind))
    if reason is not None:
        assert caught is None, f"listed as not caught ({reason}), but {caught} catches it now"
        return
    assert caught is not None, (
        f"{op_name}: a {kind} mutation of the rule of input {index} passed every check of "
        f"{len(cases)} spec case(s) that apply the op")


def test_named_ops_are_mutated():
    mutated_rules = {(name, kind) for name, _, kind in TARGETS}
    for name in NAMED:
        kinds = ("arrays", "tensor") if registry.REGISTRY[name].array_rules else ("tensor",)
        for kind in kinds + ("derivative",):
            assert (name, kind) in mutated_rules, (name, kind)


def test_unmutated_checks_pass(cases_by_op):
    """The mutants' failures are theirs: the same checks pass on the true rules."""
    for name in ("exp", "conv2d", "standardize"):
        for spec, k, case in cases_by_op[name][:2]:
            for kind in ("arrays", "tensor"):
                for check in _checks(kind, spec, case):
                    check(spec, case, "float64")


def test_mutation_is_undone():
    op = registry.REGISTRY["exp"]
    before = op.vjps, op.joint
    with mutated(op, 0, "tensor"):
        assert op.vjps != before[0]
    assert (op.vjps, op.joint) == before
