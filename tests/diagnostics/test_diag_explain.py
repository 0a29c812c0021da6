"""explain(): values and gradients from the engine's own rules, checked by hand and by torch."""
import re

import numpy as np
import pytest
import torch

import chainrule as cr


def micrograd(record=True):
    """micrograd's README expression (in-place += written out)."""
    a = cr.tensor(-4.0, requires_grad=True, dtype=cr.float64)
    b = cr.tensor(2.0, requires_grad=True, dtype=cr.float64)
    ctx = cr.diagnostics.record() if record else _null()
    with ctx:
        c = a + b
        d = a * b + b ** 3
        c = c + c + 1
        c = c + 1 + c + (-a)
        d = d + d * 2 + (b + a).relu()
        d = d + 3 * d + (b - a).relu()
        e = c - d
        f = e ** 2
        g = f / 2.0
        g = g + 10.0 / f
    return a, b, c, d, e, f, g


class _null:
    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return None


def line_value(text, lhs):
    """The number at the end of the forward line ``lhs = ...``."""
    m = re.search(rf"^\s+{re.escape(lhs)}\s+= .*?(-?[\d.]+(?:e[-+]?\d+)?)(?:    \(\w+\))?$",
                  text, re.M)
    assert m, f"no line for {lhs}"
    return float(m.group(1))


def grad_value(text, name):
    m = re.search(rf"^\s+{name}\.grad = (?:.* = )?(-?[\d.]+(?:e[-+]?\d+)?)$", text, re.M)
    assert m, f"no gradient line for {name}"
    return float(m.group(1))


def test_micrograd_values_and_gradients_match_hand_computation(capsys):
    a, b, c, d, e, f, g = micrograd()
    text = cr.diagnostics.explain(g, names=dict(a=a, b=b, c=c, d=d, e=e, f=f, g=g))
    assert capsys.readouterr().out.strip() == text.strip()  # printed and returned
    # by hand: c = -1, d = 6, e = -7, f = 49, g = 24.5 + 10/49
    assert line_value(text, "c") == -1 and line_value(text, "d") == 6
    assert line_value(text, "e") == -7 and line_value(text, "f") == 49
    assert line_value(text, "g") == pytest.approx(24.7041, abs=1e-4)
    # micrograd's published gradients
    assert grad_value(text, "a") == pytest.approx(138.8338, abs=1e-3)
    assert grad_value(text, "b") == pytest.approx(645.5773, abs=1e-3)
    # the chain-rule steps: dg/df = 1/2 - 10/f^2, then df/de = 2e = -14
    assert re.search(r"-> f: local dt\d+/df = 0\.5;  1 x 0\.5 = 0\.5$", text, re.M)  # g = f / 2
    assert re.search(r"-> f: local dt\d+/df = -0\.00416493;", text)               # 10 / f
    assert re.search(r"f = pow_scalar\(\.\.\.\): gradient arriving dg/df = "
                     r"-0\.00416493 \+ 0\.5 = 0\.495835", text)
    assert re.search(r"-> e: local df/de = -14;  0\.495835 x -14 = -6\.94169", text)
    # explain leaves the graph usable, and the engine agrees
    g.backward()
    assert a.grad.item() == pytest.approx(grad_value(text, "a"), rel=1e-5)
    assert b.grad.item() == pytest.approx(grad_value(text, "b"), rel=1e-5)


def test_without_record_constants_are_marked_but_gradients_still_right():
    a, b, c, d, e, f, g = micrograd(record=False)
    text = cr.diagnostics.explain(g, names={"a": a, "b": b}, quiet=True)
    assert "const" in text and "= ?" in text and "record()" in text
    assert grad_value(text, "a") == pytest.approx(138.8338, abs=1e-3)
    assert grad_value(text, "b") == pytest.approx(645.5773, abs=1e-3)


def test_small_tensors_against_torch():
    w = cr.tensor([[0.5, -1.0], [2.0, 0.25]], requires_grad=True, dtype=cr.float64)
    x = cr.tensor([1.0, -2.0], requires_grad=True, dtype=cr.float64)
    s = cr.tensor(3.0, requires_grad=True, dtype=cr.float64)
    out = ((w @ x).tanh() * s).sum()   # s broadcast: its gradient is summed by the engine
    text = cr.diagnostics.explain(out, names={"w": w, "x": x, "s": s}, quiet=True)
    tw = torch.tensor(w.detach().numpy(), requires_grad=True)
    tx = torch.tensor(x.detach().numpy(), requires_grad=True)
    ts = torch.tensor(3.0, dtype=torch.float64, requires_grad=True)
    ((tw @ tx).tanh() * ts).sum().backward()
    leaf = dict(re.findall(r"^\s+(\w)\.grad = (.*)$", text, re.M))
    # tensors print with 4 decimals
    assert np.allclose(np.array(eval(leaf["w"])), tw.grad.numpy(), atol=1e-4)
    assert np.allclose(np.array(eval(leaf["x"])), tx.grad.numpy(), atol=1e-4)
    assert float(leaf["s"]) == pytest.approx(ts.grad.item(), rel=1e-5)
    # the tanh node's local derivative is its 2x2 diagonal Jacobian 1 - tanh^2
    t = np.tanh(w.detach().numpy() @ x.detach().numpy())
    m = re.search(r"local dt4/dt3 = (\[\[.*?\]\]);", text)
    assert m and np.allclose(np.array(eval(m.group(1))), np.diag(1 - t ** 2), atol=1e-4)


def test_explain_needs_the_saved_values():
    a = cr.tensor(2.0, requires_grad=True)
    y = a * a
    y.backward()
    with pytest.raises(RuntimeError, match="retain_graph"):
        cr.diagnostics.explain(y, quiet=True)
    with pytest.raises(ValueError, match="no graph"):
        cr.diagnostics.explain(cr.tensor(1.0), quiet=True)


def test_explain_default_names():
    a = cr.tensor(3.0, requires_grad=True)
    text = cr.diagnostics.explain((a * a).exp(), quiet=True)
    assert re.search(r"x0 += 3    \(leaf\)", text)
    assert re.search(r"t1 += mul\(x0, x0\) = 9$", text, re.M)
    assert re.search(r"out += exp\(t1\) = 8103.08    \(output\)", text)
    # d/dx e^(x^2) = 2x e^(x^2), arriving as two products of the shared input
    assert grad_value(text, "x0") == pytest.approx(6 * np.exp(9.0), rel=1e-5)


def test_non_scalar_output_with_seed_and_large_jacobian():
    x = cr.tensor([1.0, -2.0], requires_grad=True)
    text = cr.diagnostics.explain(x * 2, names={"x": x}, gradient=cr.tensor([1.0, 3.0]),
                                  quiet=True)
    assert re.search(r"x\.grad = \[2\., 6\.\]", text)
    big = cr.arange(10.0).requires_grad_()
    text = cr.diagnostics.explain((big * big).sum(), names={"v": big}, quiet=True)
    assert "a 10x10 Jacobian (applied by the op's VJP rule)" in text
    # two arrivals (x * x uses v twice), each g * v, summed to 2v
    assert text.rstrip().endswith("= [ 0.,  2.,  4.,  6.,  8., 10., 12., 14., 16., 18.]")


@pytest.mark.parametrize("expr", [
    lambda a, b: (a * b).exp() / (b - a).sigmoid(),
    lambda a, b: (a.tanh() + b.log()) * a.sqrt(),
    lambda a, b: cr.maximum(a, b) ** 3 - a / b,
    lambda a, b: ((a - b) ** 2).relu() + (a * 0.5).sin(),
])
def test_scalar_expressions_agree_with_the_engine(expr):
    a = cr.tensor(0.7, requires_grad=True, dtype=cr.float64)
    b = cr.tensor(1.3, requires_grad=True, dtype=cr.float64)
    out = expr(a, b)
    text = cr.diagnostics.explain(out, names={"a": a, "b": b}, quiet=True)
    out.backward()
    assert grad_value(text, "a") == pytest.approx(a.grad.item(), rel=1e-5)
    assert grad_value(text, "b") == pytest.approx(b.grad.item(), rel=1e-5)
