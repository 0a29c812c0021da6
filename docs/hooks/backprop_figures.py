"""Figures and texts of the "Backprop by hand" page, computed by chainrule at build time.

Every curve here is a real run: activations differentiated by chainrule's autograd,
deep nets backpropagated, small models trained with ``chainrule.optim``. The sizes are
small so the whole page builds in a few seconds on two cores.
"""
from __future__ import annotations

import math
import time

import numpy as np

import chainrule as cr
from chainrule import nn

from common import BUG, FIXED, figure, png


def _activation_derivatives():
    fig, (ax_f, ax_d) = figure(9, 3.2, 2)
    x0 = np.linspace(-6, 6, 241, dtype=np.float32)
    for name, fn, colour in (("sigmoid", cr.sigmoid, BUG), ("tanh", cr.tanh, "#8e44ad"),
                             ("ReLU", cr.relu, FIXED)):
        x = cr.tensor(x0, requires_grad=True)
        y = fn(x)
        y.sum().backward()            # d(sum y)/dx_i = y'(x_i): the local derivative
        ax_f.plot(x0, y.detach().numpy(), color=colour, label=name)
        ax_d.plot(x0, x.grad.numpy(), color=colour, label=name)
    ax_f.set(title="activation f(x)", xlabel="x")
    ax_d.set(title="local derivative f'(x), from x.grad", xlabel="x")
    ax_d.axhline(0.25, color="grey", lw=0.8, ls=":")
    ax_d.annotate("sigmoid' ≤ 0.25", (2.2, 0.27), color="grey", fontsize=8)
    ax_f.legend(fontsize=8)
    return fig


def _deep_net(act: str, depth: int, width: int, residual: bool) -> nn.Module:
    class Block(nn.Module):
        def __init__(self):
            super().__init__()
            self.fc = nn.Linear(width, width)
            self.act = nn.Sigmoid() if act == "sigmoid" else nn.ReLU()
            if act == "relu":
                nn.init.kaiming_normal_(self.fc.weight, nonlinearity="relu")
                nn.init.zeros_(self.fc.bias)
                if residual:  # the residual branch starts small, so the sum keeps its scale
                    self.fc.weight.data.mul_(1 / math.sqrt(depth))

        def forward(self, x):
            y = self.act(self.fc(x))
            return x + y if residual else y

    return nn.Sequential(*[Block() for _ in range(depth)], nn.Linear(width, 1))


def _gradient_by_depth():
    depth, width = 30, 64
    x = cr.randn(128, width)
    y = cr.randn(128, 1)
    fig, (ax,) = figure(7.5, 3.6)
    for label, act, res, colour in (("sigmoid, default init", "sigmoid", False, BUG),
                                    ("ReLU, He init", "relu", False, FIXED),
                                    ("ReLU, He init, residual", "relu", True, "#27ae60")):
        cr.manual_seed(0)
        model = _deep_net(act, depth, width, res)
        nn.functional.mse_loss(model(x), y).backward()
        rms = [float(b.fc.weight.grad.pow(2).mean().sqrt()) for b in list(model)[:depth]]
        ax.semilogy(range(1, depth + 1), rms, marker="o", ms=3, color=colour, label=label)
    ax.set(title=f"gradient RMS of each layer's weights, {depth} layers of {width}",
           xlabel="layer (1 = next to the input)", ylabel="RMS of dL/dW")
    ax.legend(fontsize=8)
    return fig


def _digits():
    data = cr.datasets.digits("train")
    x, y = data.tensors
    return x[:512].reshape(512, 64), y[:512]


def _mlp(seed: int) -> nn.Module:
    cr.manual_seed(seed)
    return nn.Sequential(nn.Linear(64, 64), nn.ReLU(), nn.Linear(64, 10))


def _train(model, x, y, lr: float, steps: int, batch: int = 64) -> list[float]:
    opt = cr.optim.SGD(model.parameters(), lr=lr)
    losses = []
    for step in range(steps):
        i = (step * batch) % len(x)
        loss = nn.functional.cross_entropy(model(x[i:i + batch]), y[i:i + batch])
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(float(loss))
    return losses


def _learning_rate():
    x, y = _digits()
    rates = np.logspace(-3, 1.5, 10)
    finals, curves = [], {}
    for lr in rates:
        with np.errstate(all="ignore"):
            losses = _train(_mlp(0), x, y, float(lr), 80)
        tail = losses[-10:]
        finals.append(sum(tail) / len(tail) if all(map(math.isfinite, tail)) else math.nan)
        curves[float(lr)] = losses
    fig, (ax_lr, ax_t) = figure(9.5, 3.4, 2)
    first = curves[float(rates[0])][0]
    ax_lr.semilogx(rates, finals, marker="o", color=FIXED)
    for lr, f in zip(rates, finals):
        if not math.isfinite(f) or f > 1.2 * first:
            ax_lr.plot([lr], [1.2 * first], marker="x", color=BUG, ms=9)
    ax_lr.axhline(first, color="grey", ls=":", lw=0.8)
    ax_lr.set(title="mean loss of the last 10 of 80 SGD steps", xlabel="learning rate",
              ylabel="training loss", ylim=(0, 1.3 * first))
    ax_lr.annotate("× diverged", (0.03, 0.92), xycoords="axes fraction", color=BUG, fontsize=8)
    best = float(rates[int(np.nanargmin(finals))])
    for lr, colour in ((float(rates[0]), "grey"), (best, FIXED), (float(rates[-1]), BUG)):
        c = np.array(curves[lr], dtype=float)
        ax_t.plot(np.where(np.isfinite(c), c, np.nan), color=colour, label=f"lr = {lr:.2g}")
    ax_t.set(title="training loss over steps", xlabel="step", ylim=(0, 2 * first))
    ax_t.legend(fontsize=8)
    return fig


def _backward_cost():
    width, batch = 256, 128
    x = cr.randn(batch, width)
    depths = [2, 4, 8, 16]
    fwd, bwd = [], []
    for depth in depths:
        model = nn.Sequential(*[m for _ in range(depth) for m in (nn.Linear(width, width),
                                                                 nn.ReLU())])
        t_f, t_b = [], []
        for _ in range(4):  # the fastest of 4: the least disturbed by other work on the machine
            t0 = time.perf_counter()
            out = model(x).sum()
            t1 = time.perf_counter()
            out.backward()
            t2 = time.perf_counter()
            t_f.append(t1 - t0)
            t_b.append(t2 - t1)
        fwd.append(1e3 * min(t_f))
        bwd.append(1e3 * min(t_b))
    fig, (ax,) = figure(6.5, 3.4)
    ax.plot(depths, fwd, marker="o", color=FIXED, label="forward")
    ax.plot(depths, bwd, marker="o", color=BUG, label="backward")
    ax.set(title=f"time of one pass, Linear({width}, {width}) + ReLU layers, batch {batch}",
           xlabel="layers", ylabel="ms (fastest of 4)")
    ax.legend(fontsize=8)
    ratio = np.median(np.array(bwd) / np.array(fwd))
    ax.annotate(f"backward / forward ≈ {ratio:.1f}", (0.03, 0.9), xycoords="axes fraction",
                fontsize=8)
    return fig


def _plateaus():
    """Small initial weights start near a saddle point: the loss sits on a plateau first.
    XOR with two hidden units: some starts end in a local minimum."""
    rng = np.random.default_rng(0)
    xn = rng.standard_normal((256, 8)).astype(np.float32)
    yn = xn[:, :2] @ np.array([[1.0, 0.5], [-0.5, 1.0]], dtype=np.float32)
    x, y = cr.tensor(xn), cr.tensor(yn)
    fig, (ax_p, ax_m) = figure(9.5, 3.4, 2)
    for scale, colour in ((0.03, BUG), (0.1, "#e67e22"), (0.3, "#27ae60"), (1.0, FIXED)):
        cr.manual_seed(0)
        model = nn.Sequential(nn.Linear(8, 16, bias=False), nn.Linear(16, 16, bias=False),
                              nn.Linear(16, 2, bias=False))
        for layer in model:
            nn.init.normal_(layer.weight, std=scale / math.sqrt(layer.in_features))
        opt = cr.optim.SGD(model.parameters(), lr=0.05)
        losses = []
        for _ in range(400):
            loss = nn.functional.mse_loss(model(x), y)
            opt.zero_grad()
            loss.backward()
            opt.step()
            losses.append(float(loss))
        ax_p.plot(losses, color=colour, label=f"init std {scale:g}/√fan_in")
    ax_p.set(title="3 linear layers: the smaller the start, the longer the plateau",
             xlabel="step", ylabel="training loss")
    ax_p.legend(fontsize=8)

    # 16 independent 2-2-1 sigmoid nets trained at once: one batched matmul per layer, and
    # the sum of their losses gives each net exactly its own gradient
    n = 16
    cr.manual_seed(0)
    xor_x = cr.tensor([[0.0, 0.0], [0.0, 1.0], [1.0, 0.0], [1.0, 1.0]]).expand(n, 4, 2)
    xor_y = cr.tensor([[0.0], [1.0], [1.0], [0.0]]).expand(n, 4, 1)
    params = [(cr.rand(n, *shape) * 2 - 1).requires_grad_()
              for shape in ((2, 2), (1, 2), (2, 1), (1, 1))]
    w1, b1, w2, b2 = params
    opt = cr.optim.SGD(params, lr=5.0)
    curves = []
    for _ in range(2000):
        out = cr.sigmoid(cr.bmm(cr.sigmoid(cr.bmm(xor_x, w1) + b1), w2) + b2)
        per_net = ((out - xor_y) ** 2).mean(dim=(1, 2))
        opt.zero_grad()
        per_net.sum().backward()
        opt.step()
        curves.append(per_net.detach().numpy())
    curves = np.array(curves)
    stuck = curves[-1] > 0.05
    for i in range(n):
        ax_m.plot(curves[:, i], color=BUG if stuck[i] else FIXED, lw=1)
    ax_m.set(title=f"XOR, 2 hidden units, {n} starts: {int(stuck.sum())} stuck (red)",
             xlabel="step", ylabel="training loss")
    return fig


def _explain_text() -> str:
    a = cr.tensor(-4.0, requires_grad=True)
    b = cr.tensor(2.0, requires_grad=True)
    return cr.diagnostics.explain(a * b + b ** 3, names={"a": a, "b": b}, quiet=True)


def make() -> tuple[dict[str, bytes], dict[str, str]]:
    """PNG bytes by file name, and Markdown texts by placeholder key."""
    cr.manual_seed(0)
    figures = {"activations": _activation_derivatives, "gradient-by-depth": _gradient_by_depth,
               "learning-rate": _learning_rate, "backward-cost": _backward_cost,
               "plateaus": _plateaus}
    pngs = {f"backprop/{name}.png": png(make_fig()) for name, make_fig in figures.items()}
    texts = {"explain": "```text\n" + _explain_text().rstrip() + "\n```"}
    return pngs, texts
