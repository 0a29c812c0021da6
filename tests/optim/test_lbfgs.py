"""``optim.LBFGS`` against PyTorch's: the same parameter trajectory, step by step, with fixed
steps and with the strong-Wolfe line search."""
from __future__ import annotations

import numpy as np
import pytest
import torch

import chainrule as cr


def _run(m, make_loss, start, steps, dtype="float64", counters=False, **options):
    params = [m.tensor(np.array(s), dtype=getattr(m, dtype), requires_grad=True) for s in start]
    opt = m.optim.LBFGS(params, **options)

    def closure():
        opt.zero_grad()
        loss = make_loss(m, *params)
        loss.backward()
        return loss
    path = []
    for _ in range(steps):
        loss = opt.step(closure)
        path.append([p.detach().numpy().copy() for p in params] + [loss.item()])
        if counters:  # the evaluation and iteration counts of the state, and the last step length
            state = opt.state[params[0]]
            path[-1] += [state["func_evals"], state["n_iter"], float(state["t"])]
    return path


def _rosenbrock(m, xy):
    return (1 - xy[0]) ** 2 + 100 * (xy[1] - xy[0] ** 2) ** 2


def _mlp(m, w1, b1, w2):
    x = m.tensor(np.linspace(-1, 1, 24).reshape(12, 2))
    target = m.tensor(np.sin(np.linspace(0, 3, 12)).reshape(12, 1))
    return ((m.tanh(x @ w1 + b1) @ w2 - target) ** 2).mean()


@pytest.mark.parametrize("case", ["rosenbrock", "mlp", "mlp_small_history", "few_iters"])
def test_trajectory_matches_pytorch(case):
    rng = np.random.default_rng(0)
    if case == "rosenbrock":
        args = (_rosenbrock, [np.array([-1.2, 1.0])], 6, dict(lr=0.1))
    else:
        start = [rng.standard_normal((2, 8)) * 0.5, rng.standard_normal(8) * 0.1,
                 rng.standard_normal((8, 1)) * 0.5]
        options = {"mlp": dict(lr=0.8), "mlp_small_history": dict(lr=0.5, history_size=3),
                   "few_iters": dict(lr=1, max_iter=4, max_eval=5)}[case]
        # 3 steps of up to 20 iterations: differences of 1e-16 in the libraries' sums grow
        # about 30x a step on this problem (a 1e-15 change of the start does the same)
        args = (_mlp, start, 2 if case == "mlp_small_history" else 3, options)
    ours, theirs = _run(cr, *args[:3], **args[3]), _run(torch, *args[:3], **args[3])
    for step, (a, b) in enumerate(zip(ours, theirs)):
        for x, y in zip(a, b):
            np.testing.assert_allclose(x, y, rtol=1e-8, atol=1e-10, err_msg=f"step {step}")


def _quartic_state(m) -> tuple:
    """Three LBFGS iterations on sum(w**4); the optimizer and its state for the one parameter."""
    w = m.tensor([1.0, 2.0], requires_grad=True)
    opt = m.optim.LBFGS([w], max_iter=3)

    def closure():
        opt.zero_grad()
        loss = (w ** 4).sum()
        loss.backward()
        return loss
    opt.step(closure)
    return opt, w, opt.state_dict()["state"][0]


def test_state_and_errors_as_pytorch():
    opt, w, state = _quartic_state(cr)
    _, _, theirs = _quartic_state(torch)
    assert set(state) <= set(theirs) | {"t"}
    assert state["n_iter"] == theirs["n_iter"] and state["func_evals"] == theirs["func_evals"]
    with pytest.raises(RuntimeError, match="closure"):
        opt.step()
    with pytest.raises(ValueError, match="parameter groups"):
        cr.optim.LBFGS([{"params": [w]}, {"params": [cr.ones(1, requires_grad=True)]}])
    for m, v in ((cr, w), (torch, torch.tensor([1.0, 2.0], requires_grad=True))):
        bad = m.optim.LBFGS([v], line_search_fn="backtracking")  # refused by step, as PyTorch

        def closure():
            bad.zero_grad()
            loss = (v ** 2).sum()
            loss.backward()
            return loss
        with pytest.raises(RuntimeError, match="only 'strong_wolfe' is supported"):
            bad.step(closure)


def _kinked(m, w):
    """Piecewise linear plus a little curvature: the zoom hugs the bracket's ends and ends
    on the bracket-width tolerance."""
    return m.relu(w - 0.3).sum() * 3 + m.relu(-w).sum() + 0.1 * (w ** 2).sum()


def _mlp_start():
    rng = np.random.default_rng(0)
    return [rng.standard_normal((2, 8)) * 0.5, rng.standard_normal(8) * 0.1,
            rng.standard_normal((8, 1)) * 0.5]


WOLFE_CASES = {
    # Rosenbrock from the classic start: bracketing, zoom and convergence to 4e-10
    "rosenbrock": (_rosenbrock, [np.array([-1.2, 1.0])], 8, dict(lr=1)),
    # a smaller first guess and short steps: the extrapolation branch runs more often
    "rosenbrock_lr_0.1_max_iter_5": (_rosenbrock, [np.array([-1.2, 1.0])], 8,
                                     dict(lr=0.1, max_iter=5)),
    "kinked": (_kinked, [np.array([3.0, -2.0, 0.5])], 4, dict(lr=1)),
    "rosenbrock_far": (_rosenbrock, [np.array([2.5, -1.5])], 6, dict(lr=2, history_size=4)),
    # 3 steps: as above, ulp differences of the libraries' sums grow from step to step
    "mlp": (_mlp, _mlp_start(), 3, dict(lr=1)),
    "mlp_small_history": (_mlp, _mlp_start(), 4, dict(lr=1, history_size=3, max_iter=10)),
    # max_eval cuts the line search short (max_ls = max_eval - evaluations so far)
    "mlp_max_eval": (_mlp, _mlp_start(), 5, dict(lr=1, max_iter=10, max_eval=12)),
    "mlp_tolerances": (_mlp, _mlp_start(), 3, dict(lr=0.5, tolerance_grad=1e-4,
                                                     tolerance_change=1e-6)),
}


@pytest.mark.parametrize("case", sorted(WOLFE_CASES))
def test_strong_wolfe_trajectory_matches_pytorch(case):
    loss, start, steps, options = WOLFE_CASES[case]
    options = dict(options, line_search_fn="strong_wolfe", counters=True)
    ours, theirs = _run(cr, loss, start, steps, **options), _run(torch, loss, start, steps, **options)
    for step, (a, b) in enumerate(zip(ours, theirs)):
        n = len(start)
        for x, y in zip(a[:n + 1], b[:n + 1]):
            np.testing.assert_allclose(x, y, rtol=1e-8, atol=1e-10, err_msg=f"step {step}")
        assert a[n + 1:n + 3] == b[n + 1:n + 3], f"step {step}: (func_evals, n_iter)"
        np.testing.assert_allclose(a[n + 3], b[n + 3], rtol=1e-6, err_msg=f"step {step}: t")
    assert ours[-1][len(start)] < 0.5 * ours[0][len(start)]  # the search made progress


def test_strong_wolfe_in_float32_follows_pytorch():
    options = dict(line_search_fn="strong_wolfe", dtype="float32", counters=True)
    ours = _run(cr, _rosenbrock, [np.array([-1.2, 1.0])], 4, **options)
    theirs = _run(torch, _rosenbrock, [np.array([-1.2, 1.0])], 4, **options)
    for step, (a, b) in enumerate(zip(ours, theirs)):
        assert a[0].dtype == np.float32
        np.testing.assert_allclose(a[0], b[0], rtol=1e-5, atol=1e-6, err_msg=f"step {step}")
        assert a[2:4] == b[2:4]


def test_strong_wolfe_state_round_trip_continues_identically():
    """The state (with a tensor step length from the search) saved mid-run and loaded into a
    fresh optimizer continues exactly as the original."""
    def make(m, start):
        w = m.tensor(np.array(start), requires_grad=True)
        opt = m.optim.LBFGS([w], lr=1, max_iter=4, line_search_fn="strong_wolfe")

        def closure():
            opt.zero_grad()
            loss = _rosenbrock(m, w)
            loss.backward()
            return loss
        return w, opt, closure
    w, opt, closure = make(cr, [-1.2, 1.0])
    opt.step(closure)
    w2, opt2, closure2 = make(cr, w.detach().numpy().copy())
    opt2.load_state_dict(opt.state_dict())
    tw, topt, tclosure = make(torch, [-1.2, 1.0])
    topt.step(tclosure)
    assert sorted(opt.state_dict()["state"][0]) == sorted(
        k for k in topt.state_dict()["state"][0] if k != "al")
    for _ in range(3):
        opt.step(closure)
        opt2.step(closure2)
        topt.step(tclosure)
        np.testing.assert_array_equal(w.detach().numpy(), w2.detach().numpy())
    np.testing.assert_allclose(w.detach().numpy(), tw.detach().numpy(), rtol=1e-8)
