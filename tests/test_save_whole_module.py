"""``save(model, f)`` / ``load(f)`` of whole modules, without pickle (PyTorch's
``weights_only`` contract: only chainrule's classes and the ones the user allows)."""
from __future__ import annotations

import io
import json
import pickle
import struct
import sys

import numpy as np
import pytest
import torch

import chainrule as cr
from chainrule.errors import SerializationError
from chainrule.serialization import add_safe_globals, clear_safe_globals, get_safe_globals, \
    safe_globals


class TinyNet(cr.nn.Module):
    """A user model with a plain attribute, a config dict, tied weights and a buffer."""

    def __init__(self, vocab: int = 7, d: int = 4):
        super().__init__()
        self.config = {"vocab": vocab, "d": d, "name": "tiny"}
        self.scale = 0.5
        self.emb = cr.nn.Embedding(vocab, d)
        self.head = cr.nn.Linear(d, vocab, bias=False)
        self.head.weight = self.emb.weight  # tied
        self.register_buffer("mask", cr.tril(cr.ones(3, 3)))

    def forward(self, idx):
        return self.head(self.emb(idx) * self.scale)


def _round_trip(obj, **load_kwargs):
    buf = io.BytesIO()
    cr.save(obj, buf)
    buf.seek(0)
    return cr.load(buf, **load_kwargs)


@pytest.mark.parametrize("make, x", [
    (lambda: cr.nn.Sequential(cr.nn.Linear(3, 4), cr.nn.GELU(), cr.nn.Dropout(0.2), cr.nn.Linear(4, 2)),
     lambda: cr.randn(5, 3)),
    (lambda: cr.nn.Sequential(cr.nn.Conv2d(1, 2, 3), cr.nn.BatchNorm2d(2), cr.nn.ReLU(), cr.nn.MaxPool2d(2)),
     lambda: cr.randn(2, 1, 6, 6)),
    (lambda: cr.nn.LSTM(3, 4, num_layers=2, batch_first=True), lambda: cr.randn(2, 5, 3)),
    (lambda: cr.nn.TransformerEncoderLayer(8, 2, dim_feedforward=16, dropout=0.0), lambda: cr.randn(4, 2, 8)),
])
def test_chainrule_layers_round_trip(make, x):
    cr.manual_seed(0)
    model, data = make(), x()
    model.eval()
    if isinstance(model[1] if isinstance(model, cr.nn.Sequential) and len(model) > 1 else None,
                  cr.nn.BatchNorm2d):
        model[1].running_mean.fill_(0.25)  # buffers come back too
    loaded = _round_trip(model)
    assert type(loaded) is type(model) and loaded.training is False
    out, back = model(data), loaded(data)
    for a, b in zip(out if isinstance(out, tuple) else (out,), back if isinstance(back, tuple) else (back,)):
        a0, b0 = (a[0], b[0]) if isinstance(a, tuple) else (a, b)
        np.testing.assert_array_equal(a0.detach().numpy(), b0.detach().numpy())
    assert all(isinstance(p, cr.nn.Parameter) and p.requires_grad for p in loaded.parameters())
    assert [n for n, _ in loaded.named_parameters()] == [n for n, _ in model.named_parameters()]


def test_a_user_class_needs_to_be_allowed_as_in_pytorch(tmp_path):
    net = TinyNet()
    path = tmp_path / "net.pt"
    cr.save(net, path)
    with pytest.raises(SerializationError, match=r"TinyNet.*add_safe_globals\(\[TinyNet\]\)"):
        cr.load(path)
    # PyTorch's weights_only load refuses an unknown class too
    torch_path = tmp_path / "torch.pt"
    torch.save(torch.nn.Sequential(torch.nn.Linear(2, 2)), torch_path)
    with pytest.raises(pickle.UnpicklingError):
        torch.load(torch_path)
    with safe_globals([TinyNet]):
        loaded = cr.load(path)
    assert get_safe_globals() == []
    idx = cr.tensor([[1, 2, 3]])
    np.testing.assert_array_equal(loaded(idx).detach().numpy(), net(idx).detach().numpy())
    assert loaded.config == net.config and loaded.scale == 0.5
    assert loaded.head.weight is loaded.emb.weight  # still tied
    assert loaded.mask.tolist() == net.mask.tolist()
    # the loaded model trains
    opt = cr.optim.SGD(loaded.parameters(), lr=0.1)
    loss = cr.nn.functional.cross_entropy(loaded(idx).view(-1, 7), cr.tensor([2, 3, 4]))
    loss.backward()
    opt.step()
    try:
        add_safe_globals([TinyNet])
        assert type(cr.load(path)) is TinyNet
    finally:
        clear_safe_globals()
    # weights_only=False: classes of modules the program imported
    assert type(cr.load(path, weights_only=False)) is TinyNet


def _with_structure(structure) -> bytes:
    """A chainrule-format file (format 1, no checksums) holding ``structure`` and no tensors."""
    meta = {"chainrule.format": "1", "chainrule.structure": json.dumps(structure)}
    head = json.dumps({"__metadata__": meta}).encode()
    return struct.pack("<Q", len(head)) + head


HOSTILE = [
    {"$object": ["os:system", {"$dict": []}]},
    {"$object": ["builtins:eval", {"$dict": []}]},
    {"$object": ["chainrule.nn:Linear.__init__.__globals__", {"$dict": []}]},
    {"$object": ["never_imported_module_xyz:Thing", {"$dict": []}]},
    {"$object": ["chainrule.__main__:main", {"$dict": []}]},
    {"$object": ["chainrule.no_such_module:Thing", {"$dict": []}]},
]
# refused by the default load only: with weights_only=False, classes and functions of modules
# the program imported may be named (load makes a bare object or returns the function; it
# calls neither)
HOSTILE_BY_DEFAULT = [{"$object": ["subprocess:Popen", {"$dict": []}]}, {"$global": "os:system"},
                      {"$global": "builtins:exec"}]


@pytest.mark.parametrize("structure, weights_only",
                         [(s, w) for s in HOSTILE for w in (True, False)]
                         + [(s, True) for s in HOSTILE_BY_DEFAULT])
def test_hostile_files_run_nothing(structure, weights_only):
    with pytest.raises(SerializationError):
        cr.load(io.BytesIO(_with_structure(structure)), weights_only=weights_only)
    assert "never_imported_module_xyz" not in sys.modules and "chainrule.__main__" not in sys.modules


def test_pickle_bytes_are_refused():
    buf = io.BytesIO()
    torch.save(torch.nn.Linear(2, 2), buf)  # a zip of pickles
    with pytest.raises(SerializationError):
        cr.load(io.BytesIO(buf.getvalue()))
    with pytest.raises(SerializationError):
        cr.load(io.BytesIO(pickle.dumps({"a": 1})))


def test_unstorable_values_are_named():
    net = cr.nn.Linear(2, 2)
    net.callback = lambda x: x
    with pytest.raises(SerializationError, match="callback"):
        _round_trip(net)
