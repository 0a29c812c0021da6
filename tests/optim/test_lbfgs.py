"""``optim.LBFGS`` against PyTorch's: the same parameter trajectory, step by step."""
from __future__ import annotations

import numpy as np
import pytest
import torch

import chainrule as cr


def _run(m, make_loss, start, steps, **options):
    params = [m.tensor(np.array(s), requires_grad=True) for s in start]
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
    with pytest.raises(NotImplementedError, match="strong_wolfe"):
        cr.optim.LBFGS([w], line_search_fn="strong_wolfe")
