"""The compile benchmarks run (no timing is asserted: benchmarks/ reports the times)."""
import chainrule as cr
from benchmarks import compile_profile, workloads as W
from benchmarks.__main__ import cases, compiled_step


def test_the_profile_times_every_call_of_the_replay():
    p = compile_profile.profile(lambda: W.overhead_step("chainrule", (10, 10)), runs=2)
    assert {"multiply", "add", "set grad"} <= set(p["calls"])
    assert all(ms >= 0 for ms in p["calls"].values())


def test_every_benchmark_workload_compiles_and_replays():
    for case in cases():
        if "deep MLP" in case.name or "LSTM" in case.name or "transformer" in case.name:
            continue  # (large: compiled in tests/compiler/test_compile_agreement at small sizes)
        step = compiled_step(case)
        assert step.stats()["replays"] == 1, case.name
        assert step.stats()["eager"] == 0, case.name
    assert isinstance(step, cr.compiler.CompiledFunction)
