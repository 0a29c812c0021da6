"""The benchmark workloads, each as a training step for chainrule and for PyTorch built
from the same initial weights and data, so the two do identical arithmetic.

Every ``*_step(lib, ...)`` returns a function that runs one step and returns its loss.
``lib`` is ``"chainrule"`` or ``"torch"``; the peers (JAX, autograd, tinygrad) live in
``peers.py`` and read their weights and data from the same helpers here.
"""
from __future__ import annotations

import math
import zlib

import numpy as np


def _rng(seed: int = 0) -> np.random.Generator:
    return np.random.default_rng(seed)


# where each library's workloads run: "cpu", or "cuda" (``python -m benchmarks --device cuda``
# sets both; its dry run keeps PyTorch on the CPU when PyTorch has no CUDA)
DEVICES = {"chainrule": "cpu", "torch": "cpu"}


def _on_device(M, *things):
    """Modules (moved in place) and tensors (moved copies) on the library's benchmark device."""
    device = DEVICES["torch" if M.__name__ == "torch" else "chainrule"]
    out = tuple(t if device == "cpu" else t.to(device) for t in things)
    return out if len(out) > 1 else out[0]


def _lib(lib: str):
    if lib == "chainrule":
        import chainrule as M
    elif lib == "torch":
        import torch as M
    else:
        raise ValueError(f"lib must be 'chainrule' or 'torch', got {lib!r}")
    return M


# ------------------------------------------------------------ weights, data --
def mlp_layers(sizes):
    """He-scaled ``(weight (out, in), bias)`` pairs as NumPy float32."""
    rng = _rng()
    return [((rng.standard_normal((o, i)).astype(np.float32) * np.sqrt(2.0 / i)).astype(np.float32),
             np.zeros(o, np.float32)) for i, o in zip(sizes[:-1], sizes[1:])]


def mlp_data(sizes, batch):
    rng = _rng(1)
    return (rng.standard_normal((batch, sizes[0])).astype(np.float32),
            rng.integers(0, sizes[-1], batch).astype(np.int64))


CNN_SHAPES = [(16, 1, 3, 3), (16,), (32, 16, 3, 3), (32,), (10, 32 * 7 * 7), (10,)]


def normal_params(shapes, seed: int = 3):
    """``N(0, 0.1²)`` arrays for ``shapes`` in order (the CNN's weights, in parameter order)."""
    rng = _rng(seed)
    return [(rng.standard_normal(s) * 0.1).astype(np.float32) for s in shapes]


def cnn_data(batch):
    rng = _rng(2)
    return (rng.standard_normal((batch, 1, 28, 28)).astype(np.float32),
            rng.integers(0, 10, batch).astype(np.int64))


def overhead_data(shape):
    rng = _rng(4)
    return rng.random(shape).astype(np.float32), rng.random(shape).astype(np.float32)


def _same_weights(model, M) -> None:
    """Deterministic weights by parameter order, identical in both libraries."""
    shapes = [tuple(p.shape) for p in model.parameters()]
    with M.no_grad():
        for p, w in zip(model.parameters(), normal_params(shapes)):
            p.copy_(M.from_numpy(w))


def _weights_by_name(M, *modules, seed: int = 6) -> None:
    """Deterministic weights chosen by parameter *name* (chainrule's names are PyTorch's,
    so the same name gets the same array in both libraries, whatever the order).

    Matrices ``N(0, 1/fan_in)``, LayerNorm weight 1 and bias 0, other vectors ``U(±0.05)``.
    """
    with M.no_grad():
        for k, module in enumerate(modules):
            for name, p in module.named_parameters():
                shape = tuple(p.shape)
                r = np.random.default_rng([seed, k, zlib.crc32(name.encode())])
                owner = name.rsplit(".", 1)[0] if "." in name else ""
                if len(shape) >= 2:
                    w = r.standard_normal(shape) / np.sqrt(np.prod(shape[1:]))
                elif owner.split(".")[-1].startswith("norm"):
                    w = np.ones(shape) if name.endswith("weight") else np.zeros(shape)
                else:
                    w = r.uniform(-0.05, 0.05, shape)
                p.copy_(M.from_numpy(w.astype(np.float32)))


def _sgd_step(M, params, loss_fn, lr):
    opt = M.optim.SGD(list(params), lr=lr)

    def step():
        opt.zero_grad()
        loss = loss_fn()
        loss.backward()
        opt.step()
        return loss
    step.optimizer = opt  # for benchmarks that instrument the step (watch_overhead)
    return step


# ---------------------------------------------------------------- workloads --
def overhead_step(lib: str, shape=(10, 10)):
    """``(a*b + a).sum().backward()``: almost pure per-op overhead."""
    M = _lib(lib)
    an, bn = overhead_data(shape)
    a = M.from_numpy(an).requires_grad_()
    b = M.from_numpy(bn).requires_grad_()

    def step():
        a.grad = None
        b.grad = None
        loss = (a * b + a).sum()
        loss.backward()
        return loss
    return step


def mlp_parts(lib: str, sizes=(784, 512, 512, 10), batch: int = 128, lr: float = 0.01):
    """A ReLU MLP with its SGD optimizer and data: ``(model, opt, x, y, F)``."""
    M = _lib(lib)
    nn, F = M.nn, M.nn.functional
    x, y = mlp_data(sizes, batch)
    mods = []
    for w, b in mlp_layers(sizes):
        lin = nn.Linear(w.shape[1], w.shape[0])
        with M.no_grad():
            lin.weight.copy_(M.from_numpy(w))
            lin.bias.copy_(M.from_numpy(b))
        mods += [lin, nn.ReLU()]
    model = _on_device(M, nn.Sequential(*mods[:-1]))
    opt = M.optim.SGD(model.parameters(), lr=lr)
    return (model, opt, *_on_device(M, M.from_numpy(x), M.from_numpy(y)), F)


def mlp_step(lib: str, sizes=(784, 512, 512, 10), batch: int = 128, lr: float = 0.01):
    """One SGD step of a ReLU MLP with cross-entropy."""
    model, opt, xt, yt, F = mlp_parts(lib, sizes, batch, lr)

    def step():
        opt.zero_grad()
        loss = F.cross_entropy(model(xt), yt)
        loss.backward()
        opt.step()
        return loss
    step.model, step.optimizer = model, opt
    return step


DEEP_MLP = (1024,) * 20 + (10,)   # 20 Linear layers: 19 of 1024→1024, then 1024→10


def cnn_step(lib: str, batch: int = 64, lr: float = 0.01):
    """One SGD step of conv 16 → pool → conv 32 → pool → linear on 1×28×28 images."""
    M = _lib(lib)
    nn, F = M.nn, M.nn.functional
    x, y = cnn_data(batch)
    model = nn.Sequential(nn.Conv2d(1, 16, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
                          nn.Conv2d(16, 32, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
                          nn.Flatten(), nn.Linear(32 * 7 * 7, 10))
    _same_weights(model, M)
    _on_device(M, model)
    xt, yt = _on_device(M, M.from_numpy(x), M.from_numpy(y))
    step = _sgd_step(M, model.parameters(), lambda: F.cross_entropy(model(xt), yt), lr)
    step.model = model
    return step


def lstm_step(lib: str, seq: int = 32, batch: int = 32, input_size: int = 256,
              hidden: int = 256, classes: int = 10, lr: float = 0.01):
    """One SGD step of ``nn.LSTM`` (time-major) → last output → ``nn.Linear`` → cross-entropy."""
    M = _lib(lib)
    nn, F = M.nn, M.nn.functional
    rng = _rng(5)
    x = rng.standard_normal((seq, batch, input_size)).astype(np.float32)
    y = rng.integers(0, classes, batch).astype(np.int64)
    lstm, head = nn.LSTM(input_size, hidden), nn.Linear(hidden, classes)
    _weights_by_name(M, lstm, head)
    _on_device(M, lstm, head)
    xt, yt = _on_device(M, M.from_numpy(x), M.from_numpy(y))

    def loss():
        out, _ = lstm(xt)
        return F.cross_entropy(head(out[-1]), yt)
    return _sgd_step(M, [*lstm.parameters(), *head.parameters()], loss, lr)


def transformer_step(lib: str, seq: int = 64, batch: int = 16, d_model: int = 256,
                     nhead: int = 4, classes: int = 10, lr: float = 0.01):
    """One SGD step of ``nn.TransformerEncoderLayer`` (post-norm, ReLU, feed-forward 2048,
    dropout 0, time-major) → ``nn.Linear`` head on every position → cross-entropy."""
    M = _lib(lib)
    nn, F = M.nn, M.nn.functional
    rng = _rng(7)
    x = rng.standard_normal((seq, batch, d_model)).astype(np.float32)
    y = rng.integers(0, classes, seq * batch).astype(np.int64)
    layer = nn.TransformerEncoderLayer(d_model, nhead, dim_feedforward=2048, dropout=0.0)
    head = nn.Linear(d_model, classes)
    _weights_by_name(M, layer, head)
    _on_device(M, layer, head)
    xt, yt = _on_device(M, M.from_numpy(x), M.from_numpy(y))

    def loss():
        return F.cross_entropy(head(layer(xt)).reshape(seq * batch, classes), yt)
    return _sgd_step(M, [*layer.parameters(), *head.parameters()], loss, lr)


def _gpt_model(M, vocab: int, block: int, d: int, heads: int, layers: int):
    """A small decoder-only GPT as people write it for character models: token and position
    embeddings, pre-norm blocks of causal self-attention (a ``tril`` mask buffer,
    ``masked_fill`` with -inf, softmax) and a GELU MLP, a final LayerNorm and a linear head."""
    nn, F = M.nn, M.nn.functional

    class Attention(nn.Module):
        def __init__(self):
            super().__init__()
            self.qkv, self.proj = nn.Linear(d, 3 * d), nn.Linear(d, d)
            self.register_buffer("mask", M.tril(M.ones(block, block)).view(1, 1, block, block))

        def forward(self, x):
            B, T, C = x.shape
            q, k, v = self.qkv(x).split(d, dim=2)
            q, k, v = (t.view(B, T, heads, C // heads).transpose(1, 2) for t in (q, k, v))
            att = (q @ k.transpose(-2, -1)) * (1.0 / math.sqrt(C // heads))
            att = F.softmax(att.masked_fill(self.mask[:, :, :T, :T] == 0, float("-inf")), dim=-1)
            return self.proj((att @ v).transpose(1, 2).contiguous().view(B, T, C))

    class Block(nn.Module):
        def __init__(self):
            super().__init__()
            self.ln_1, self.attn, self.ln_2 = nn.LayerNorm(d), Attention(), nn.LayerNorm(d)
            self.mlp = nn.Sequential(nn.Linear(d, 4 * d), nn.GELU(), nn.Linear(4 * d, d))

        def forward(self, x):
            x = x + self.attn(self.ln_1(x))
            return x + self.mlp(self.ln_2(x))

    class GPT(nn.Module):
        def __init__(self):
            super().__init__()
            self.wte, self.wpe = nn.Embedding(vocab, d), nn.Embedding(block, d)
            self.blocks = nn.ModuleList([Block() for _ in range(layers)])
            self.ln_f, self.lm_head = nn.LayerNorm(d), nn.Linear(d, vocab, bias=False)

        def forward(self, idx):
            x = self.wte(idx) + self.wpe(M.arange(idx.shape[1], device=idx.device))
            for block_ in self.blocks:
                x = block_(x)
            return self.lm_head(self.ln_f(x))
    return GPT()


def gpt_step(lib: str, vocab: int = 65, seq: int = 64, batch: int = 16, d: int = 64,
             heads: int = 4, layers: int = 2, lr: float = 1e-3):
    """One AdamW step of a 2-layer, 4-head, d=64 character GPT on 64-token sequences."""
    M = _lib(lib)
    rng = _rng(11)
    idx = rng.integers(0, vocab, (batch, seq + 1))
    model = _gpt_model(M, vocab, seq, d, heads, layers)
    _weights_by_name(M, model)
    _on_device(M, model)
    x, y = _on_device(M, M.from_numpy(idx[:, :-1].copy()), M.from_numpy(idx[:, 1:].copy()))
    opt = M.optim.AdamW(model.parameters(), lr=lr)

    def step():
        opt.zero_grad(set_to_none=True)
        logits = model(x)
        loss = M.nn.functional.cross_entropy(logits.view(-1, vocab), y.view(-1))
        loss.backward()
        opt.step()
        return loss
    step.model, step.optimizer = model, opt
    return step


def gpt_flops(vocab=65, seq=64, batch=16, d=64, layers=2) -> float:
    """Per block: QKV, scores, attention·V, output projection, the MLP's two products; then
    the head. Every product needs both gradients (the embeddings come before them)."""
    tokens = seq * batch
    block = 2 * tokens * d * 3 * d + 2 * 2 * batch * seq * seq * d + 2 * tokens * d * d \
        + 2 * 2 * tokens * d * 4 * d
    return 3 * (layers * block + 2 * tokens * d * vocab)


# ------------------------------------------------------ FLOP lower bounds --
# Matrix-product FLOPs only (2 per multiply-add); one training step is the forward
# product plus two in backward (gradient of the input and of the weight): 3×, except
# that a product whose input is the data needs no input gradient: 2× for those.
def mlp_flops(sizes, batch) -> float:
    """Matrix-product FLOPs of one training step: forward, and two products per layer back
    (one for the first layer, whose input is the data)."""
    return sum(3 * 2 * batch * i * o for i, o in zip(sizes[:-1], sizes[1:])) \
        - 2 * batch * sizes[0] * sizes[1]


def cnn_flops(batch: int = 64) -> float:
    conv1 = 2 * batch * 28 * 28 * 16 * 1 * 9  # reads the images: no input gradient
    conv2 = 2 * batch * 14 * 14 * 32 * 16 * 9
    fc = 2 * batch * 32 * 7 * 7 * 10
    return 3 * (conv1 + conv2 + fc) - conv1


def lstm_flops(seq=32, batch=32, input_size=256, hidden=256, classes=10) -> float:
    """Per time step, the 4 gates' input GEMM (input→4·hidden; the input is the data, so
    no input gradient) and hidden GEMM (hidden→4·hidden); then the head on the last output."""
    per_step_input = 2 * batch * input_size * 4 * hidden
    per_step_hidden = 2 * batch * hidden * 4 * hidden
    return 2 * seq * per_step_input + 3 * (seq * per_step_hidden + 2 * batch * hidden * classes)


def transformer_flops(seq=64, batch=16, d_model=256, nhead=4, ff=2048, classes=10) -> float:
    """QKV projection, attention scores Q·Kᵀ, attention·V, output projection, the two
    feed-forward layers, and the head; every head's products summed (scores and
    attention·V do not depend on the number of heads). The QKV projection reads the data:
    it needs no input gradient."""
    tokens = seq * batch
    qkv = 2 * tokens * d_model * 3 * d_model
    scores = 2 * batch * seq * seq * d_model
    attn_v = 2 * batch * seq * seq * d_model
    out_proj = 2 * tokens * d_model * d_model
    ffn = 2 * (2 * tokens * d_model * ff)
    head = 2 * tokens * d_model * classes
    return 3 * (qkv + scores + attn_v + out_proj + ffn + head) - qkv  # qkv reads the data
