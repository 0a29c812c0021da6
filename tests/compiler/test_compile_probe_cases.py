"""chainrule.compile against the ways a hostile probe found it silently wrong.

Each case runs the same program eagerly and compiled (past the captures) and compares
what a user would read afterwards: outputs, parameters, gradients, buffers.
"""
import threading

import numpy as np
import pytest

import chainrule as cr
from chainrule.compiler import CompileWarning


def _eq(a, b):
    np.testing.assert_array_equal(np.asarray(a.detach()._data), np.asarray(b.detach()._data))


def _twins(make):
    cr.manual_seed(0)
    a = make()
    cr.manual_seed(0)
    b = make()
    return a, b


def test_bad_data_after_batchnorm_raises_without_updating_twice():
    def make():
        return cr.nn.Sequential(cr.nn.Linear(4, 3), cr.nn.BatchNorm1d(3))
    eager, model = _twins(make)

    def step(m, x, y):
        m.zero_grad()
        loss = cr.nn.functional.cross_entropy(m(x), y)
        loss.backward()
        return loss
    compiled = cr.compile(lambda x, y: step(model, x, y))
    x, good = cr.randn(6, 4), cr.tensor([0, 1, 2, 0, 1, 2])
    for _ in range(4):
        compiled(x, good)
        step(eager, x, good)
    assert compiled.stats()["replays"] >= 1
    bad = cr.tensor([0, 1, 9, 0, 1, 2])
    with pytest.raises(IndexError):
        step(eager, x, bad)
    with pytest.raises(IndexError, match="out of bounds"):
        compiled(x, bad)
    for name in ("running_mean", "running_var", "num_batches_tracked"):
        _eq(getattr(model[1], name), getattr(eager[1], name))


def test_freezing_a_layer_between_calls():
    def make():
        return cr.nn.Sequential(cr.nn.Linear(3, 3), cr.nn.Linear(3, 1))
    eager, model = _twins(make)

    def stepper(m):
        opt = cr.optim.SGD(m.parameters(), lr=0.1)

        def step(x):
            opt.zero_grad()
            m(x).sum().backward()
            opt.step()
        return step
    e, c = stepper(eager), cr.compile(stepper(model))
    x = cr.randn(5, 3)
    for i in range(8):
        if i == 4:
            for m in (eager, model):
                m[0].requires_grad_(False)
        e(x)
        c(x)
        for p, q in zip(model.parameters(), eager.parameters()):
            _eq(p, q)


def test_autocast_around_a_compiled_function():
    model = cr.nn.Linear(4, 4)
    f = cr.compile(lambda x: model(x))
    x = cr.randn(2, 4)
    with cr.no_grad():
        for _ in range(3):
            f(x)
        with cr.autocast("cpu", dtype=cr.bfloat16):
            assert f(x).dtype == model(x).dtype == cr.bfloat16


def test_models_in_a_list_and_a_nested_config():
    class Config:
        pass
    cfg = Config()
    cfg.inner = Config()
    cfg.inner.temperature = 1.0
    models = [cr.nn.Sequential(cr.nn.Linear(3, 3), cr.nn.Dropout(0.9))]
    f = cr.compile(lambda x: models[0](x) / cfg.inner.temperature)
    x = cr.ones(2, 3)
    with cr.no_grad():
        for _ in range(3):
            f(x)
        models[0].eval()
        cfg.inner.temperature = 4.0
        _eq(f(x), models[0](x) / 4.0)


def test_a_replaced_optimizer_and_head_are_used():
    model = cr.nn.Sequential(cr.nn.Linear(3, 3), cr.nn.Linear(3, 1))
    holder = {"opt": cr.optim.SGD(model.parameters(), lr=0.1)}

    class Trainer:
        pass
    t = Trainer()
    t.opt = holder["opt"]

    @cr.compile
    def step(x):
        t.opt.zero_grad()
        model(x).sum().backward()
        t.opt.step()
    x = cr.randn(4, 3)
    for _ in range(4):
        step(x)
    model[1] = cr.nn.Linear(3, 1)
    t.opt = cr.optim.SGD(model[1].parameters(), lr=0.5)
    before0 = model[0].weight.detach().clone()
    before1 = model[1].weight.detach().clone()
    step(x)
    _eq(model[0].weight, before0)  # not in the new optimizer: unchanged
    assert not np.array_equal(model[1].weight._data, before1._data)


def test_the_same_tensor_twice_is_its_own_signature():
    f = cr.compile(lambda a, b: a * 2 + b)
    x = cr.ones(3)
    for _ in range(3):
        f(x, x)
    y = cr.full((3,), 5.0)
    assert f(y, x).tolist() == [11.0, 11.0, 11.0]


def test_a_differently_strided_argument():
    f = cr.compile(lambda x: x.unfold(0, 2, 1).sum(dim=-1))
    base = cr.arange(16.0).reshape(4, 4)
    for _ in range(3):
        f(base.contiguous())
    t = base.t()
    _eq(f(t), t.unfold(0, 2, 1).sum(dim=-1))


def test_a_python_number_in_the_result_breaks():
    sched_lr = [0.1]

    def f(x):
        sched_lr[0] *= 0.5
        return x * 2, sched_lr[0]
    cf = cr.compile(f)
    with pytest.warns(CompileWarning, match="changes Python state"):
        outs = [cf(cr.ones(1))[1] for _ in range(4)]
    assert outs == [0.05, 0.025, 0.0125, 0.00625]
    # a number the step only returns (no Python state changed): still not frozen
    g = cr.compile(lambda x: (x * 2, 0.5))
    with pytest.warns(CompileWarning, match="Python float"):
        g(cr.ones(1))


def test_zero_d_results_replay():
    f = cr.compile(lambda out, x: (out.sum() / x.sum()).reshape(1))
    a, b = cr.randn(3), cr.randn(3)
    for _ in range(4):
        got = f(a, b)
    _eq(got, (a.sum() / b.sum()).reshape(1))


def test_two_threads_capturing_at_once():
    results, errors = {}, []

    def work(i):
        try:
            f = cr.compile(lambda x: (x * i).exp().sum(dim=0))
            x = cr.ones(50, 4)
            results[i] = [f(x) for _ in range(6)][-1]
        except Exception as e:  # noqa: BLE001 - reported below
            errors.append(e)
    threads = [threading.Thread(target=work, args=(i,)) for i in range(1, 5)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    for i, out in results.items():
        _eq(out, (cr.ones(50, 4) * i).exp().sum(dim=0))


def test_a_value_that_changes_every_call_ends_eager_with_a_warning():
    class Counting(cr.nn.Module):
        def __init__(self):
            super().__init__()
            self.calls = 0

        def forward(self, x):
            self.calls += 1
            return x * 2
    m = Counting()
    f = cr.compile(m)
    with pytest.warns(CompileWarning, match="changes Python state it reads \\(calls"):
        for _ in range(20):
            f(cr.ones(1))
    assert m.calls == 20


def test_python_random_and_param_group_writes_in_the_step_break():
    import random
    model = cr.nn.Linear(2, 1)
    opt = cr.optim.SGD(model.parameters(), lr=0.1)

    def augment(x):
        return x * (2.0 if random.random() < 0.5 else 1.0)
    f = cr.compile(augment)
    with pytest.warns(CompileWarning, match="Python's random"):
        f(cr.ones(2))

    @cr.compile
    def step(x):
        opt.zero_grad()
        model(x).sum().backward()
        opt.step()
        opt.param_groups[0]["lr"] *= 0.5  # (a schedule written by hand, in the step)
    with pytest.warns(CompileWarning, match="param_groups"):
        for _ in range(4):
            step(cr.ones(3, 2))
    assert opt.param_groups[0]["lr"] == 0.1 * 0.5 ** 4


def test_clip_grad_norm_in_the_step_replays():
    def make():
        return cr.nn.Linear(4, 2)
    eager, model = _twins(make)

    def stepper(m):
        opt = cr.optim.SGD(m.parameters(), lr=0.1)

        def step(x):
            opt.zero_grad()
            (m(x) ** 2).sum().backward()
            cr.nn.utils.clip_grad_norm_(m.parameters(), 0.5)
            opt.step()
        return step
    e, c = stepper(eager), cr.compile(stepper(model))
    for i in range(6):
        x = cr.randn(3, 4) * (0.01 if i % 2 else 10.0)  # clipped, then not
        e(x)
        c(x)
        for p, q in zip(model.parameters(), eager.parameters()):
            _eq(p, q)
    assert c.stats()["replays"] >= 2
