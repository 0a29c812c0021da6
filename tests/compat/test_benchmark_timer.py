"""chainrule.utils.benchmark against torch.utils.benchmark: statistics and reprs of the same
raw times, what Timer runs and how often, labels, and the errors (not timing values)."""
from __future__ import annotations

import pytest
import torch
import torch.utils.benchmark as tb

import chainrule as cr
import chainrule.utils.benchmark as cb

RAW = [[3e-6], [1e-6, 2e-6], [1e-5, 2e-5, 3e-5, 4e-5], [5.0e-3, 5.1e-3, 4.9e-3, 5.0e-3, 5.2e-3],
       [1e-6, 1e-6, 9e-6, 1e-6, 2e-6, 8e-6], [2.5, 2.4, 2.6, 2.5]]
SPECS = [dict(stmt="x + 1", setup="pass"), dict(stmt="x + 1", setup="y = 2", label="add"),
         dict(stmt="x + 1", setup="pass", label="add", sub_label="small", description="int"),
         dict(stmt="a = 1\nb = a", setup="import math\nz = 2", sub_label="two lines"),
         dict(stmt="x + 1", setup="pass", description="d", num_threads=4)]


def _pair(raw, spec, number=10):
    ours = cb.Measurement(number, list(raw), cb.TaskSpec(**spec))
    theirs = tb.Measurement(number, list(raw), tb.utils.common.TaskSpec(**spec))
    return ours, theirs


@pytest.mark.parametrize("raw", RAW, ids=lambda r: f"{len(r)}")
def test_measurement_statistics_as_pytorch(raw):
    ours, theirs = _pair(raw, SPECS[0])
    assert ours.times == pytest.approx(theirs.times, rel=1e-12)
    for name in ("median", "mean", "iqr"):
        assert getattr(ours, name) == pytest.approx(getattr(theirs, name), rel=1e-9, abs=1e-18), name
    assert ours.significant_figures == theirs.significant_figures
    assert ours.has_warnings == theirs.has_warnings
    assert ours.meets_confidence(0.2) == theirs.meets_confidence(0.2)


@pytest.mark.parametrize("spec", SPECS, ids=lambda s: str(sorted(s)))
@pytest.mark.parametrize("raw", RAW, ids=lambda r: f"{len(r)}")
def test_measurement_repr_as_pytorch(raw, spec):
    ours, theirs = _pair(raw, spec)
    assert repr(ours).splitlines()[1:] == repr(theirs).splitlines()[1:]
    assert repr(ours).splitlines()[0].startswith("<") and "Measurement object" in repr(ours)
    assert (ours.title, ours.as_row_name, ours.label, ours.num_threads) == \
        (theirs.title, theirs.as_row_name, theirs.label, theirs.num_threads)


def test_merge_pools_replicates_as_pytorch():
    specs = [SPECS[1], SPECS[2], SPECS[1]]
    ours = cb.Measurement.merge([_pair(r, s)[0] for r, s in zip(RAW[1:4], specs)])
    theirs = tb.Measurement.merge([_pair(r, s)[1] for r, s in zip(RAW[1:4], specs)])
    assert [(m.number_per_run, m.raw_times, m.title) for m in ours] == \
        [(m.number_per_run, m.raw_times, m.title) for m in theirs]


def _counting_timer(module, **kw):
    calls = []
    timer = module.Timer("calls.append(1)", setup="calls.clear()", globals={"calls": calls}, **kw)
    return timer, calls


@pytest.mark.parametrize("number", [1, 7, 250])
def test_timeit_runs_stmt_warmup_plus_number_times_as_pytorch(number):
    counts = []
    for module in (cb, tb):
        timer, calls = _counting_timer(module)
        m = timer.timeit(number)
        assert m.number_per_run == number and len(m.raw_times) == 1 and m.raw_times[0] > 0
        counts.append(len(calls))
    assert counts[0] == counts[1]  # setup runs before each timing, as in timeit


def test_blocked_autorange_calls_back_once_a_block():
    timer, calls = _counting_timer(cb, label="count")
    seen = []
    m = timer.blocked_autorange(callback=lambda number, spent: seen.append((number, spent)),
                                min_run_time=0.02)
    assert len(seen) == len(m.raw_times) >= 1 and {n for n, _ in seen} == {m.number_per_run}
    assert [s for _, s in seen] == m.raw_times and sum(m.raw_times) >= 0.02
    assert m.times == [t / m.number_per_run for t in m.raw_times] and m.title == "count"


def test_adaptive_autorange_stops_on_confidence_or_max_time():
    timer, _ = _counting_timer(cb)
    m = timer.adaptive_autorange(threshold=10.0, min_run_time=0.001)
    assert len(m.raw_times) == 4  # more than 3 blocks, then the loose threshold is met
    m = cb.Timer("pass").adaptive_autorange(threshold=0.0, max_run_time=0.01)
    assert sum(m.raw_times) <= 0.01 + max(m.raw_times)  # a threshold of 0 is never met


def test_timer_globals_labels_and_threads():
    x = cr.ones(3)
    t = cb.Timer("torch.add(x, 1)", globals={"x": x}, label="L", sub_label="S", description="D",
                 num_threads=3)
    before = cr.get_num_threads()
    m = t.timeit(5)
    assert cr.get_num_threads() == before
    assert (m.title, m.description, m.num_threads, m.sub_label) == ("L: S", "D", 3, "S")
    mine = {"x": 1}
    cb.Timer("y = x", globals=mine).timeit(2)
    assert mine == {"x": 1}  # globals are copied, as PyTorch
    stmt = """
        a = 1
        b = a + 1
    """
    assert cb.Timer(stmt).timeit(1).stmt == tb.Timer(stmt).timeit(1).stmt == "a = 1\nb = a + 1"


@pytest.mark.parametrize("call, error", [
    (lambda m: m.Timer(lambda: 1), ValueError),
    (lambda m: m.Timer("pass", global_setup="int x;"), ValueError),
    (lambda m: m.Timer("pass", language="fortran"), ValueError),
    (lambda m: m.Timer("pass").repeat(), NotImplementedError),
    (lambda m: m.Timer("pass").autorange(), NotImplementedError),
    (lambda m: m.Timer("undefined_name").timeit(1), NameError),
])
def test_timer_errors_as_pytorch(call, error):
    with pytest.raises(error):
        call(tb)
    with pytest.raises(error):
        call(cb)


def test_compare_table_lays_out_labels_rows_and_columns():
    def results(module):
        spec = module.TaskSpec if module is cb else tb.utils.common.TaskSpec
        return [module.Measurement(1, [t], spec("f()", "pass", label=label, sub_label=row, description=col))
                for label, row, col, t in [("ops", "n=1", "add", 2e-6), ("ops", "n=1", "mul", 3e-6),
                                           ("ops", "n=9", "add", 4e-6), ("big", "n=9", "add", 4e-3)]]
    ours, theirs = str(cb.Compare(results(cb))), str(tb.Compare(results(tb)))
    cells = lambda text: [[c.strip() for c in line.split("|")] for line in text.splitlines() if "|" in line]  # noqa: E731
    assert cells(ours) == cells(theirs)
    assert [line for line in ours.splitlines() if line.startswith("Times")] == \
        [line for line in theirs.splitlines() if line.startswith("Times")]
    assert [line.strip("[]-  ") for line in ours.splitlines() if line.startswith("[")] == ["ops", "big"]
    c = cb.Compare(results(cb))
    c.trim_significant_figures()
    c.colorize()
    assert "\033[92m" in str(c) and "add" in str(c)
    with pytest.raises(ValueError):
        cb.Compare([1.0])


def test_benchmark_reached_as_torch_utils_benchmark():
    from chainrule.utils.benchmark import Compare, Timer  # noqa: F401
    assert cr.utils.benchmark.Timer is cb.Timer and torch.utils.benchmark.Timer is tb.Timer
