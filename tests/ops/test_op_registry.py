"""Every op in the registry is exercised by some spec, and every differentiable op has
a rule (or an explicit ``None``) for every input it was applied to.

Ops added by anyone (chainrule/ops, chainrule/nn …) must be covered: put specs in
``tests/ops/specs.py`` or in a ``tests/ops/specs_<area>.py`` exporting ``SPECS``.
"""
from __future__ import annotations

import pytest

import chainrule as cr  # noqa: F401 - registers every op
from chainrule.ops import registry
from harness import all_specs, run_for_coverage

# Ops that no CPU-only spec can reach, with the reason. Keep this short.
UNREACHABLE = {
    "to_device": "moves an array between devices; needs a second (CUDA) device",
}


@pytest.fixture(scope="module")
def traced():
    """Run every spec case (forward, backward, double backward) recording op names
    and how many tensor inputs each application had."""
    applied: dict[str, set[int]] = {}

    def count_inputs(op, inputs, params, out):
        applied.setdefault(op.name, set()).add(len(inputs))

    with registry.trace_op_names() as names, registry.observe_ops(count_inputs):
        for spec in all_specs():
            for case in spec.cases:
                run_for_coverage(spec, case)
    assert applied, "the op observer saw nothing"
    return names, applied


def test_every_op_has_a_spec(traced):
    names, _ = traced
    missing = sorted(set(registry.REGISTRY) - names - set(UNREACHABLE))
    assert not missing, (
        f"{len(missing)} registered op(s) never ran in any spec: {missing}. Add specs for them "
        "to tests/ops/specs.py or a tests/ops/specs_<area>.py exporting SPECS.")


def test_unreachable_list_is_current():
    stale = sorted(set(UNREACHABLE) - set(registry.REGISTRY))
    assert not stale, f"UNREACHABLE names ops that no longer exist: {stale}"


def test_trace_records_applied_ops():
    with registry.trace_op_names() as names:
        (cr.ones(2) * 2).exp()
    assert {"mul", "exp"} <= names
    assert registry.TRACE is None


def test_op_observers_see_params_and_are_removed_by_their_handles():
    seen = []
    first = registry.observe_ops(lambda op, inputs, params, out: seen.append((op.name, params)))
    second = registry.observe_ops(lambda op, inputs, params, out: seen.append(len(inputs)))
    cr.ones(2, 3).sum(1)
    first.remove()
    cr.ones(2).exp()
    second.remove()
    cr.ones(2).exp()
    assert seen[0][0] == "sum" and seen[0][1]["dims"] == (1,)
    assert seen[1:] == [1, 1]  # the second observer, then nothing once both are removed
    assert registry.OBSERVER is None


def test_differentiable_ops_have_rules(traced):
    _, applied = traced
    problems = []
    for name, op in sorted(registry.REGISTRY.items()):
        if not op.differentiable:
            if not op.nondiff_reason:
                problems.append(f"{name}: declared nondifferentiable without a reason")
            continue
        if not op.vjps:
            problems.append(f"{name}: differentiable, but has no VJP rules at all")
            continue
        if isinstance(op.vjps, registry.RulesOfJoint):  # any number of inputs: one joint rule
            if not callable(op.joint) or op.rules_complete < max(applied.get(name, [0])):
                problems.append(f"{name}: rules for any number of inputs without a joint rule")
            continue
        for n in applied.get(name, ()):
            if len(op.vjps) < n:
                problems.append(f"{name}: applied to {n} tensor inputs but has rules for only "
                                f"{len(op.vjps)} (declare None for inputs without a derivative)")
        for i, rule in enumerate(op.vjps):
            if rule is not None and not callable(rule):
                problems.append(f"{name}: rule {i} is not callable")
    assert not problems, "\n".join(problems)


def test_a_missing_rule_is_an_error_not_a_zero():
    """An input whose rule is None must refuse requires_grad (never a silent zero)."""
    cond = cr.tensor([True, False])
    a = cr.tensor([1.0, 2.0], requires_grad=True)
    out = cr.where(cond, a, 0.0)
    (g,) = cr.autograd.grad(out.sum(), a)
    assert g.tolist() == [1.0, 0.0]
    with pytest.raises(cr.errors.BackwardError, match="no derivative"):
        registry.REGISTRY["where"](a, a, a)
