"""chainrule.compile: graph breaks, guards and recompiles, explain, and what it refuses.

Each test runs a compiled function past its two captures, so that what is checked is the
replay (or the eager fallback), and compares with the same program run eagerly.
"""
import warnings

import numpy as np
import pytest

import chainrule as cr
from chainrule.compiler import CompileError, CompileWarning


def _run(fn, *args, n=5):
    return [fn(*args) for _ in range(n)]


def _same(a, b):
    return np.array_equal(np.asarray(a.detach()._data), np.asarray(b.detach()._data))


# -- a plain function ------------------------------------------------------------------------
def test_replays_from_the_third_call_and_agrees():
    f = cr.compile(lambda x, y: (x * y + x.exp()).sum(dim=0))
    x, y = cr.randn(4, 3), cr.randn(4, 3)
    outs = _run(f, x, y)
    assert f.stats() == {"captures": 2, "replays": 3, "eager": 0, "recompiles": 0}
    want = (x * y + x.exp()).sum(dim=0)
    assert all(_same(o, want) for o in outs)
    # fresh inputs of the same signature: the replay reads them, it does not keep old ones
    x2 = cr.randn(4, 3)
    assert _same(f(x2, y), (x2 * y + x2.exp()).sum(dim=0))
    assert "def replay" in f.replay_source()[0]


def test_a_new_shape_recompiles_and_agrees():
    f = cr.compile(lambda x: (x * 2).sum(dim=1))
    for rows in (3, 5, 3):
        x = cr.randn(rows, 4)
        out = _run(f, x, n=3)[-1]
        assert _same(out, (x * 2).sum(dim=1))
    assert f.stats()["recompiles"] >= 1
    assert f.stats()["replays"] >= 2


def test_a_changed_global_is_a_guard():
    global SCALE
    SCALE = 2.0

    def f(x):
        return x * SCALE
    cf = cr.compile(f)
    x = cr.ones(3)
    _run(cf, x)
    SCALE = 3.0
    assert cf(x).tolist() == [3.0, 3.0, 3.0]
    assert cf.stats()["recompiles"] == 1


def test_a_changed_module_attribute_is_a_guard():
    class Scaled(cr.nn.Module):
        def __init__(self):
            super().__init__()
            self.temperature = 2.0

        def forward(self, x):
            return x / self.temperature
    m = Scaled()
    cm = cr.compile(m)
    x = cr.ones(2)
    _run(cm, x)
    m.temperature = 4.0
    assert cm(x).tolist() == [0.25, 0.25]


def test_train_and_eval_are_separate_signatures():
    cr.manual_seed(0)
    model = cr.nn.Sequential(cr.nn.Linear(4, 4), cr.nn.Dropout(0.5))
    cm = cr.compile(model)
    x = cr.randn(2, 4)
    with cr.no_grad():
        model.eval()
        evals = _run(cm, x, n=3)
        model.train()
        _run(cm, x, n=3)
        model.eval()
        again = cm(x)
    assert all(_same(e, again) for e in evals)
    assert cm.stats()["replays"] >= 2


# -- graph breaks ---------------------------------------------------------------------------
def test_item_in_the_step_breaks_with_a_warning_naming_the_line():
    def f(x):
        if (x.sum() > 0).item():  # data-dependent Python
            return x * 2
        return x * 3
    cf = cr.compile(f)
    with pytest.warns(CompileWarning, match=r"item\(\) reads array data.*test_compile_breaks"):
        cf(cr.ones(2))
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # one warning per signature, not one per call
        assert cf(-cr.ones(2)).tolist() == [-3.0, -3.0]  # eager: follows the data
    assert cf.stats()["eager"] == 1 and cf.stats()["replays"] == 0


def test_bool_of_a_tensor_breaks():
    out = cr.compile.explain(lambda x: x * 2 if x.sum() > 0 else x, cr.ones(3))
    assert out.graph_break_count == 1 and out.graph_count == 0
    assert "reads array data on the host" in out.break_reasons[0][0]  # (bool() is an item())
    assert "test_compile_breaks.py" in out.break_reasons[0][1]
    assert "Graph break count: 1" in str(out)


def test_a_shape_that_depends_on_data_breaks():
    out = cr.compile.explain(lambda x: x[x > 0].sum(), cr.randn(5))
    assert out.graph_break_count == 1
    assert "depends on the data" in out.break_reasons[0][0]


def test_fullgraph_raises_instead_of_running_eagerly():
    cf = cr.compile(lambda x: x * float(x.sum()), fullgraph=True)
    with pytest.raises(CompileError, match="fullgraph"):
        cf(cr.ones(2))


def test_backward_outside_the_compiled_function_runs_eagerly_and_says_so():
    model = cr.nn.Linear(3, 2)
    cm = cr.compile(model)
    x = cr.randn(4, 3)
    with pytest.warns(CompileWarning, match="backward"):
        out = cm(x)
    out.sum().backward()  # the graph is there: eager
    assert model.weight.grad is not None


def test_a_hook_breaks_the_capture_and_keeps_running():
    model = cr.nn.Linear(3, 2)
    seen = []
    model.register_forward_hook(lambda m, a, out: seen.append(1))
    cm = cr.compile(model)
    with cr.no_grad(), pytest.warns(CompileWarning, match="hook"):
        _run(cm, cr.randn(2, 3), n=4)
    assert len(seen) == 4  # the hook ran every call: nothing was replayed without it


def test_a_numpy_constant_that_changes_between_calls_is_caught():
    import itertools
    counter = itertools.count(1)  # (an iterator: no attribute a guard could watch)

    def f(x):  # a host array made in the step, different at each call
        return x * cr.from_numpy(np.full(3, float(next(counter)), np.float32))
    cf = cr.compile(f)
    x = cr.ones(3)
    with pytest.warns(CompileWarning, match="differed"):
        outs = _run(cf, x, n=4)
    assert [o.tolist()[0] for o in outs] == [1.0, 2.0, 3.0, 4.0]


def test_a_numpy_argument_runs_eagerly_and_says_why():
    f = cr.compile(lambda x, a: x * cr.from_numpy(a))
    a = np.arange(3, dtype=np.float32)
    with pytest.warns(CompileWarning, match="NumPy array argument"):
        outs = [f(cr.ones(3), a + i) for i in range(3)]
    assert [o.tolist()[0] for o in outs] == [0.0, 1.0, 2.0]
    assert f.stats()["replays"] == 0


def test_the_cache_is_bounded():
    f = cr.compile(lambda x: x + 1)
    with pytest.warns(CompileWarning, match="signatures"):
        for n in range(1, 12):
            f(cr.ones(n))
    assert f(cr.ones(20)).tolist() == [2.0] * 20


# -- checks and guards inside the library ---------------------------------------------------
def test_a_bad_target_in_a_replay_raises_eagers_error():
    model = cr.nn.Linear(4, 3)
    loss = cr.compile(lambda x, y: cr.nn.functional.cross_entropy(model(x), y))
    x = cr.randn(5, 4)
    with cr.no_grad():
        _run(loss, x, cr.tensor([0, 1, 2, 0, 1]), n=3)
        assert loss.stats()["replays"] == 1
        with pytest.raises(IndexError, match="out of bounds"):
            loss(x, cr.tensor([0, 1, 7, 0, 1]))


def test_nan_after_the_captures_gives_eagers_max_pool_gradient():
    def step(x):
        y = cr.nn.functional.max_pool2d(x, 2)
        y.sum().backward()
        return y
    cstep = cr.compile(step)
    base = cr.randn(1, 1, 4, 4)
    for _ in range(3):
        cstep(base.clone().requires_grad_())
    assert cstep.stats()["replays"] == 1
    bad = base.clone()
    bad[0, 0, 0, 0] = float("nan")
    x_c, x_e = bad.clone().requires_grad_(), bad.clone().requires_grad_()
    y_c, y_e = cstep(x_c), step(x_e)
    np.testing.assert_array_equal(y_c._data, y_e._data)
    np.testing.assert_array_equal(x_c.grad._data, x_e.grad._data)


def test_conv_backward_with_nan_input_after_the_captures_agrees_with_eager():
    cr.manual_seed(0)
    conv = cr.nn.Conv2d(1, 2, 3)
    twin = cr.nn.Conv2d(1, 2, 3)
    twin.load_state_dict(conv.state_dict())

    def step(m, x):
        m.zero_grad()
        out = m(x).sum()
        out.backward()
        return out
    cstep = cr.compile(lambda x: step(conv, x))
    x = cr.randn(2, 1, 6, 6)
    for _ in range(3):
        cstep(x)
        step(twin, x)
    bad = x.clone()
    bad[0, 0, 2, 2] = float("inf")
    cstep(bad)
    step(twin, bad)
    np.testing.assert_array_equal(conv.weight.grad._data, twin.weight.grad._data)


# -- host calls and draws -------------------------------------------------------------------
def test_a_scheduler_inside_the_step_steps_at_every_replay():
    cr.manual_seed(0)
    model = cr.nn.Linear(2, 1)
    opt = cr.optim.SGD(model.parameters(), lr=1.0)
    sched = cr.optim.lr_scheduler.StepLR(opt, step_size=1, gamma=0.5)

    @cr.compile
    def step(x):
        opt.zero_grad()
        loss = model(x).sum()
        loss.backward()
        opt.step()
        sched.step()
        return loss
    _run(step, cr.ones(3, 2), n=5)
    assert opt.param_groups[0]["lr"] == 0.5 ** 5
    # call 1 starts with no .grad, the others with one: two signatures, the second replays
    assert step.stats() == {"captures": 3, "replays": 2, "eager": 0, "recompiles": 1}


def test_dropout_draws_the_same_stream_as_eager():
    def run(compiled):
        cr.manual_seed(3)
        drop = cr.nn.Dropout(0.5)
        f = cr.compile(drop) if compiled else drop
        x = cr.ones(4, 8)
        return [f(x) for _ in range(5)]
    eager, replayed = run(False), run(True)
    assert all(_same(a, b) for a, b in zip(eager, replayed))
    assert not all(_same(eager[0], e) for e in eager[1:])  # fresh masks each call


def test_compile_is_a_decorator_with_or_without_options():
    @cr.compile(mode="reduce-overhead", fullgraph=True)
    def f(x):
        return x + 1

    @cr.compile
    def g(x):
        return x + 2
    assert f(cr.ones(1)).item() == 2.0 and g(cr.ones(1)).item() == 3.0
    with pytest.raises(Exception, match="unknown mode"):
        cr.compile(lambda x: x, mode="fastest")


def test_explain_counts_calls_and_host_calls():
    model = cr.nn.Linear(3, 1)
    opt = cr.optim.SGD(model.parameters(), lr=0.1)

    def step(x):
        opt.zero_grad()
        loss = model(x).sum()
        loss.backward()
        opt.step()
        return loss
    out = cr.compile.explain(step, cr.randn(2, 3))
    assert out.graph_count == 1 and out.graph_break_count == 0
    assert out.host_calls == ["Optimizer.zero_grad", "SGD.step"]
    assert 0 < out.replayed_calls <= out.recorded_calls
    assert "def replay" in out.source


# -- what the step reaches: guards beyond its own globals -------------------------------------
MULTIPLIER = 2.0


def _helper(x):
    return x * MULTIPLIER


def test_a_global_read_by_a_helper_is_a_guard():
    global MULTIPLIER
    f = cr.compile(lambda x: _helper(x) + 1)
    x = cr.ones(2)
    _run(f, x)
    MULTIPLIER = 5.0
    try:
        assert f(x).tolist() == [6.0, 6.0]
    finally:
        MULTIPLIER = 2.0


def test_a_config_object_attribute_is_a_guard():
    class Config:
        scale = None

    cfg = Config()
    cfg.scale = 2.0
    f = cr.compile(lambda x: x * cfg.scale)
    _run(f, cr.ones(1))
    cfg.scale = 7.0
    assert f(cr.ones(1)).item() == 7.0


def test_a_model_passed_as_an_argument_keys_on_its_mode():
    cr.manual_seed(0)
    model = cr.nn.Sequential(cr.nn.Linear(3, 3), cr.nn.Dropout(0.9))
    f = cr.compile(lambda m, x: m(x))
    x = cr.ones(4, 3)
    with cr.no_grad():
        _run(f, model, x)
        model.eval()
        assert _same(f(model, x), model(x))


def test_a_bound_method_and_a_partial_see_their_objects():
    import functools

    class Trainer:
        def __init__(self):
            self.model = cr.nn.Sequential(cr.nn.Linear(3, 3), cr.nn.Dropout(0.9))
            self.scale = 1.0

        def forward(self, x):
            return self.model(x) * self.scale
    t = Trainer()
    bound = cr.compile(t.forward)
    part = cr.compile(functools.partial(lambda tr, x: tr.forward(x), t))
    x = cr.ones(2, 3)
    with cr.no_grad():
        _run(bound, x)
        _run(part, x)
        t.model.eval()
        t.scale = 3.0
        want = t.forward(x)
        assert _same(bound(x), want) and _same(part(x), want)
