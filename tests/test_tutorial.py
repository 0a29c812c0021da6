"""A PyTorch-tutorial script run twice — with ``import torch`` and with
``import chainrule as torch`` — from the same initial weights: the losses must agree.

The script is the "Learning PyTorch with Examples" progression (manual updates under
no_grad, then nn.Sequential with a hand-written SGD step) followed by a small
classifier trained with nn.Module, CrossEntropyLoss, DataLoader and optim.SGD.
"""
import numpy as np
import pytest

SCRIPT = '''
import math
import torch
from torch import nn

dtype = DTYPE(torch)

# -- 1. tensors and autograd: fit sin(x) with a cubic, updating by hand ---------------
x = torch.linspace(-math.pi, math.pi, 2000, dtype=dtype)
y = torch.sin(x)
a = torch.tensor(INIT["a"], dtype=dtype, requires_grad=True)
b = torch.tensor(INIT["b"], dtype=dtype, requires_grad=True)
c = torch.tensor(INIT["c"], dtype=dtype, requires_grad=True)
d = torch.tensor(INIT["d"], dtype=dtype, requires_grad=True)
learning_rate = 1e-6
for t in range(300):
    y_pred = a + b * x + c * x ** 2 + d * x ** 3
    loss = (y_pred - y).pow(2).sum()
    LOSSES.append(loss.item())
    loss.backward()
    with torch.no_grad():
        a -= learning_rate * a.grad
        b -= learning_rate * b.grad
        c -= learning_rate * c.grad
        d -= learning_rate * d.grad
        a.grad = None
        b.grad = None
        c.grad = None
        d.grad.zero_()
        d.grad = None

# -- 2. nn.Sequential, MSELoss(sum), manual SGD over model.parameters() ---------------
p = torch.tensor([1, 2, 3])
xx = x.unsqueeze(-1).pow(p)
model = torch.nn.Sequential(torch.nn.Linear(3, 1), torch.nn.Flatten(0, 1)).to(dtype)
model.load_state_dict({"0.weight": torch.tensor(INIT["w"], dtype=dtype),
                       "0.bias": torch.tensor(INIT["bias"], dtype=dtype)})
loss_fn = torch.nn.MSELoss(reduction="sum")
for t in range(300):
    y_pred = model(xx)
    loss = loss_fn(y_pred, y)
    LOSSES.append(loss.item())
    model.zero_grad()
    loss.backward()
    with torch.no_grad():
        for param in model.parameters():
            param -= learning_rate * param.grad
linear_layer = model[0]
LOSSES.append(linear_layer.bias.item())

# -- 3. a classifier: nn.Module subclass, CrossEntropyLoss, DataLoader, optim.SGD ------
class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.flatten = nn.Flatten()
        self.stack = nn.Sequential(
            nn.Linear(8, 16), nn.ReLU(),
            nn.Linear(16, 16), nn.Tanh(),
            nn.Linear(16, 3),
        )

    def forward(self, x):
        return self.stack(self.flatten(x))


net = Net().to(dtype)
net.load_state_dict({k: torch.tensor(v, dtype=dtype) for k, v in INIT["net"].items()})
X = torch.tensor(INIT["X"], dtype=dtype)
Y = torch.tensor(INIT["Y"])
loader = torch.utils.data.DataLoader(torch.utils.data.TensorDataset(X, Y), batch_size=16,
                                     shuffle=False)
criterion = nn.CrossEntropyLoss(label_smoothing=0.05)
optimizer = torch.optim.SGD(net.parameters(), lr=0.1, momentum=0.9)
for epoch in range(5):
    net.train()
    for xb, yb in loader:
        pred = net(xb)
        loss = criterion(pred, yb)
        optimizer.zero_grad()
        loss.backward()
        torch.nn.utils.clip_grad_norm_(net.parameters(), max_norm=5.0)
        optimizer.step()
        LOSSES.append(loss.item())
    net.eval()
    with torch.no_grad():
        correct = (net(X).argmax(1) == Y).type(torch.float).sum().item()
    LOSSES.append(correct / len(X))
'''


def _init():
    rng = np.random.default_rng(0)
    net = {}
    for i, (o, n) in zip((0, 2, 4), [(16, 8), (16, 16), (3, 16)]):
        net[f"stack.{i}.weight"] = rng.uniform(-1, 1, (o, n)) / np.sqrt(n)
        net[f"stack.{i}.bias"] = rng.uniform(-1, 1, (o,)) / np.sqrt(n)
    X = rng.normal(size=(96, 2, 4))
    Y = (X.reshape(96, -1)[:, :3].argmax(1)).astype(np.int64)
    return dict(a=0.3, b=-0.2, c=0.1, d=0.05, w=rng.normal(size=(1, 3)) * 0.1, bias=np.array([0.2]),
                net=net, X=X, Y=Y)


def _run(package: str, dtype: str) -> list:
    """Run the script with its imports pointed at ``package``: only the imports change."""
    losses: list = []
    import_line = "import torch" if package == "torch" else f"import {package} as torch"
    source = SCRIPT.replace("import torch\n", import_line + "\n", 1) \
        .replace("from torch import nn", f"from {package} import nn", 1)
    exec(compile(source, f"<tutorial: {import_line}>", "exec"), {"INIT": _init(), "LOSSES": losses,
                                                                      "DTYPE": lambda m: getattr(m, dtype)})
    return losses


@pytest.mark.slow
@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_tutorial_runs_identically_under_torch_and_chainrule(dtype):
    theirs = _run("torch", dtype)
    ours = _run("chainrule", dtype)
    assert len(ours) == len(theirs) == 300 + 300 + 1 + 5 * (6 + 1)
    np.testing.assert_allclose(ours, theirs, rtol=1e-5)
    # the script actually learned something (the comparison is not between two no-ops)
    assert theirs[299] < 0.5 * theirs[0]
    assert theirs[-1] > 0.8
