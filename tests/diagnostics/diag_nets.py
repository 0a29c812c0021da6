"""Small networks built to show (or not show) each gradient-flow problem."""
import numpy as np

import chainrule as cr
from chainrule import nn


def mlp(sizes, act=nn.ReLU):
    layers = []
    for i, (a, b) in enumerate(zip(sizes[:-1], sizes[1:])):
        layers.append(nn.Linear(a, b))
        if i < len(sizes) - 2 and act is not None:
            layers.append(act())
    return nn.Sequential(*layers)


def data(n=64, d=4, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((n, d)).astype(np.float32)
    y = (np.sin(x[:, :1]) + 0.5 * x[:, 1:2]).astype(np.float32)
    return cr.tensor(x), cr.tensor(y)


def train(model, x, y, steps=5, lr=0.05, watch_optimizer=True, **watch_kw):
    """A few SGD steps under a monitor; returns the report."""
    opt = cr.optim.SGD(model.parameters(), lr=lr)
    monitor = cr.diagnostics.watch(model, opt if watch_optimizer else None, **watch_kw)
    loss_fn = nn.MSELoss()
    for _ in range(steps):
        opt.zero_grad()
        loss_fn(model(x), y).backward()
        opt.step()
    monitor.remove()
    return monitor.report()


def he_init(model):
    for m in model.modules():
        if isinstance(m, nn.Linear):
            nn.init.kaiming_normal_(m.weight, nonlinearity="relu")
            nn.init.zeros_(m.bias)
    return model
