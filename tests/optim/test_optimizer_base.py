"""The Optimizer base: param groups, zero_grad, closures, hooks, state_dict, validation."""
from __future__ import annotations

import numpy as np
import pytest
import torch

import chainrule as cr
from chainrule.errors import BackwardError


def _w(*values):
    return cr.tensor(list(values), dtype=cr.float64, requires_grad=True)


VALIDATION = [
    ("SGD", dict(lr=-1.0), "Invalid learning rate: -1.0"),
    ("SGD", dict(momentum=-0.1), "Invalid momentum value: -0.1"),
    ("SGD", dict(weight_decay=-1), "Invalid weight_decay value: -1"),
    ("SGD", dict(nesterov=True), "Nesterov momentum requires a momentum and zero dampening"),
    ("SGD", dict(nesterov=True, momentum=0.9, dampening=0.1), "Nesterov momentum requires"),
    ("Adam", dict(lr=-1.0), "Invalid learning rate: -1.0"),
    ("Adam", dict(eps=-1e-8), "Invalid epsilon value: -1e-08"),
    ("Adam", dict(betas=(1.0, 0.999)), "Invalid beta parameter at index 0: 1.0"),
    ("Adam", dict(betas=(0.9, -0.1)), "Invalid beta parameter at index 1: -0.1"),
    ("Adam", dict(weight_decay=-0.5), "Invalid weight_decay value: -0.5"),
    ("AdamW", dict(betas=(0.9, 1.5)), "Invalid beta parameter at index 1: 1.5"),
    ("RMSprop", dict(alpha=-0.5), "Invalid alpha value: -0.5"),
    ("RMSprop", dict(momentum=-1), "Invalid momentum value: -1"),
    ("RMSprop", dict(eps=-1), "Invalid epsilon value: -1"),
    ("Adagrad", dict(lr_decay=-1), "Invalid lr_decay value: -1"),
    ("Adagrad", dict(initial_accumulator_value=-1), "Invalid initial_accumulator_value value: -1"),
    ("Adamax", dict(betas=(0.9, 1.0)), "Invalid beta parameter at index 1: 1.0"),
    ("Adamax", dict(lr=-0.1), "Invalid learning rate: -0.1"),
]


@pytest.mark.parametrize("name,kwargs,message", VALIDATION)
def test_invalid_hyperparameters_are_rejected_with_torchs_message(name, kwargs, message):
    with pytest.raises(ValueError, match=message.replace("(", r"\(").replace("+", r"\+")):
        getattr(cr.optim, name)([_w(1.0)], **kwargs)
    with pytest.raises(ValueError, match=message.replace("(", r"\(").replace("+", r"\+")):
        getattr(torch.optim, name)([torch.zeros(1, requires_grad=True)], **kwargs)


def test_bad_params_arguments():
    w = _w(1.0)
    with pytest.raises(TypeError, match="iterable of Tensors or dicts"):
        cr.optim.SGD(w, lr=0.1)
    with pytest.raises(ValueError, match="empty parameter list"):
        cr.optim.SGD([], lr=0.1)
    with pytest.raises(TypeError, match="optimizer can only optimize Tensors"):
        cr.optim.SGD([1.0], lr=0.1)
    with pytest.raises(ValueError, match="non-leaf"):
        cr.optim.SGD([w * 2], lr=0.1)
    with pytest.raises(TypeError, match="ordered collections"):
        cr.optim.SGD({w}, lr=0.1)
    with pytest.raises(TypeError, match="ordered collections"):
        cr.optim.SGD([{"params": {w}}], lr=0.1)
    with pytest.raises(ValueError, match="Invalid learning rate: nan"):  # torch's SGD lets NaN in
        cr.optim.SGD([w], lr=float("nan"))
    with pytest.raises(ValueError, match="more than one parameter group"):
        cr.optim.SGD([{"params": [w]}, {"params": [w]}], lr=0.1)
    with pytest.raises(NotImplementedError, match="differentiable"):
        cr.optim.Adam([w], differentiable=True)


def test_add_param_group_fills_defaults_and_rejects_overlap():
    a, b = _w(1.0), _w(2.0, 3.0)
    opt = cr.optim.SGD([a], lr=0.1, momentum=0.9)
    opt.add_param_group({"params": b, "lr": 0.5})
    assert opt.param_groups[1]["lr"] == 0.5 and opt.param_groups[1]["momentum"] == 0.9
    assert opt.param_groups[1]["params"][0] is b
    with pytest.raises(ValueError, match="more than one parameter group"):
        opt.add_param_group({"params": [a]})
    with pytest.raises(TypeError, match="param_group must be a dict"):
        opt.add_param_group([a])


def test_required_hyperparameter_must_be_given_per_group():
    class Plain(cr.optim.Optimizer):
        def __init__(self, params, lr=cr.optim.required):
            super().__init__(params, dict(lr=lr))

        def step(self, closure=None):
            return None
    with pytest.raises(ValueError, match="didn't specify a value of required optimization parameter lr"):
        Plain([_w(1.0)])
    assert Plain([{"params": [_w(1.0)], "lr": 0.1}]).param_groups[0]["lr"] == 0.1


def test_named_parameters_are_kept_in_the_groups_and_state_dict():
    a, b = _w(1.0), _w(2.0)
    opt = cr.optim.Adam([("a", a), ("b", b)])
    assert opt.param_groups[0]["param_names"] == ["a", "b"]
    assert opt.state_dict()["param_groups"][0]["param_names"] == ["a", "b"]


def test_parameters_without_grad_are_skipped():
    a, b = _w(1.0), _w(2.0)
    opt = cr.optim.Adam([a, b], lr=0.1)
    a.grad = cr.ones(1, dtype=cr.float64)
    opt.step()
    assert b.item() == 2.0 and b not in opt.state
    assert a.item() != 1.0 and float(opt.state[a]["step"]) == 1.0
    assert list(opt.state_dict()["state"]) == [0]


def test_zero_grad_to_none_and_to_zeros_in_place():
    w = _w(1.0, 2.0)
    opt = cr.optim.SGD([w], lr=0.1)
    (w * w).sum().backward()
    g = w.grad
    opt.zero_grad(set_to_none=False)
    assert w.grad is g and w.grad.tolist() == [0.0, 0.0] and not w.grad.requires_grad
    (w * w).sum().backward()
    assert w.grad.tolist() == [2.0, 4.0]  # accumulates into the zeroed gradient
    opt.zero_grad()
    assert w.grad is None


def test_step_with_closure_returns_the_loss_and_records_nothing():
    w = _w(3.0)
    opt = cr.optim.SGD([w], lr=0.1)

    def closure():
        opt.zero_grad()
        loss = (w * w).sum()
        assert cr.is_grad_enabled()
        loss.backward()
        return loss
    with cr.no_grad():  # the closure still gets grad mode
        loss = opt.step(closure)
    assert loss.item() == 9.0
    assert w.item() == pytest.approx(3.0 - 0.1 * 6.0)
    assert w.grad_fn is None and w.is_leaf and w.requires_grad


def test_step_bumps_the_version_so_a_stale_graph_refuses_to_run():
    w = _w(1.0, 2.0)
    opt = cr.optim.SGD([w], lr=0.1)
    y = (w * w).sum()
    w.grad = cr.ones(2, dtype=cr.float64)
    opt.step()
    with pytest.raises(BackwardError, match="modified by an in-place operation"):
        y.backward()


def test_step_updates_the_parameter_array_in_place():
    w = _w(1.0, 2.0)
    data = w._data
    opt = cr.optim.Adam([w], lr=0.1)
    w.grad = cr.ones(2, dtype=cr.float64)
    grad_before = w.grad.tolist()
    opt.step()
    assert w._data is data and w.grad.tolist() == grad_before


def test_step_hooks_run_around_step():
    w = _w(1.0)
    opt = cr.optim.SGD([w], lr=0.1)
    calls = []
    h1 = opt.register_step_pre_hook(lambda o, a, k: calls.append(("pre", w.item())))
    opt.register_step_post_hook(lambda o, a, k: calls.append(("post", w.item())))
    w.grad = cr.ones(1, dtype=cr.float64)
    opt.step()
    assert calls == [("pre", 1.0), ("post", pytest.approx(0.9))]
    h1.remove()
    opt.step()
    assert [c[0] for c in calls] == ["pre", "post", "post"]


def test_tensor_lr_is_accepted():
    w, tw = _w(1.0, 2.0), torch.tensor([1.0, 2.0], dtype=torch.float64, requires_grad=True)
    opt = cr.optim.SGD([w], lr=cr.tensor(0.25, dtype=cr.float64), momentum=0.5)
    topt = torch.optim.SGD([tw], lr=torch.tensor(0.25, dtype=torch.float64), momentum=0.5)
    for _ in range(3):
        w.grad, tw.grad = cr.tensor([1.0, -1.0], dtype=cr.float64), torch.tensor([1.0, -1.0], dtype=torch.float64)
        opt.step()
        topt.step()
    np.testing.assert_allclose(w.detach().numpy(), tw.detach().numpy(), rtol=1e-12)
    with pytest.raises(ValueError, match="Tensor lr must be 1-element"):
        cr.optim.SGD([w], lr=cr.ones(2))


def test_load_state_dict_copies_and_casts_state():
    w = _w(1.0, 2.0)
    opt = cr.optim.Adam([w], lr=0.1)
    w.grad = cr.ones(2, dtype=cr.float64)
    opt.step()
    sd = opt.state_dict()
    w32 = cr.tensor([1.0, 2.0], dtype=cr.float32, requires_grad=True)
    opt2 = cr.optim.Adam([w32], lr=0.1)
    opt2.load_state_dict(sd)
    assert opt2.state[w32]["exp_avg"].dtype == cr.float32
    assert opt2.state[w32]["step"].dtype == sd["state"][0]["step"].dtype  # step is not cast
    w64 = _w(1.0, 2.0)
    opt3 = cr.optim.Adam([w64], lr=0.1)
    opt3.load_state_dict(sd)
    for k, v in sd["state"][0].items():  # a copy, so stepping one leaves the other alone
        assert opt3.state[w64][k]._data is not v._data
    before = sd["state"][0]["exp_avg"].tolist()
    w64.grad = cr.ones(2, dtype=cr.float64)
    opt3.step()
    assert sd["state"][0]["exp_avg"].tolist() == before


def test_load_state_dict_rejects_mismatched_groups():
    a, b = _w(1.0), _w(2.0)
    sd = cr.optim.SGD([a, b], lr=0.1).state_dict()
    with pytest.raises(ValueError, match="doesn't match the size"):
        cr.optim.SGD([a], lr=0.1).load_state_dict(sd)
    with pytest.raises(ValueError, match="different number of parameter groups"):
        cr.optim.SGD([{"params": [a]}, {"params": [b]}], lr=0.1).load_state_dict(sd)


def test_adagrad_state_exists_before_the_first_step_as_in_torch():
    w = _w(1.0, 2.0)
    opt = cr.optim.Adagrad([w], initial_accumulator_value=0.25)
    tw = torch.tensor([1.0, 2.0], dtype=torch.float64, requires_grad=True)
    topt = torch.optim.Adagrad([tw], initial_accumulator_value=0.25)
    assert sorted(opt.state_dict()["state"][0]) == sorted(topt.state_dict()["state"][0])
    assert opt.state[w]["sum"].tolist() == [0.25, 0.25]
    late = _w(3.0)
    opt.add_param_group({"params": [late]})  # a group added later gets its state on first step
    late.grad = cr.ones(1, dtype=cr.float64)
    opt.step()
    assert float(opt.state[late]["step"]) == 1.0


def test_repr_lists_the_groups():
    text = repr(cr.optim.SGD([_w(1.0)], lr=0.1, momentum=0.9))
    assert text.startswith("SGD (") and "Parameter Group 0" in text and "momentum: 0.9" in text


def test_functional_updates_run_on_raw_arrays():
    p = np.array([1.0, 2.0])
    m, v, vmax, t = np.zeros(2), np.zeros(2), np.zeros(2), np.zeros(())
    for _ in range(2):
        cr.optim.functional.adam_update([p], [np.array([0.5, -0.5])], [m], [v], [vmax], [t],
                                        amsgrad=True, beta1=0.9, beta2=0.999, lr=0.1,
                                        weight_decay=0.0, eps=1e-8, maximize=False)
    tp = torch.tensor([1.0, 2.0], dtype=torch.float64, requires_grad=True)
    topt = torch.optim.Adam([tp], lr=0.1, amsgrad=True)
    for _ in range(2):
        tp.grad = torch.tensor([0.5, -0.5], dtype=torch.float64)
        topt.step()
    np.testing.assert_allclose(p, tp.detach().numpy(), rtol=1e-12)
    assert float(t) == 2.0
