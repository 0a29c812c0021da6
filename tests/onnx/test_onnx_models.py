"""Small whole models and the tensor ops they use, exported with a dynamic batch axis."""
from __future__ import annotations

import pytest

import chainrule as cr
from onnx_runner import export_and_compare

nn = cr.nn
F = cr.nn.functional


class CNN(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.features = nn.Sequential(
            nn.Conv2d(1, 4, 3, padding=1), nn.BatchNorm2d(4), nn.ReLU(), nn.MaxPool2d(2),
            nn.Conv2d(4, 8, 3), nn.BatchNorm2d(8), nn.ReLU(), nn.AvgPool2d(2),
            nn.AdaptiveAvgPool2d(1))
        self.head = nn.Sequential(nn.Flatten(), nn.Dropout(0.3), nn.Linear(8, 3))

    def forward(self, x):
        return self.head(self.features(x))


class RecurrentClassifier(nn.Module):
    def __init__(self, cell) -> None:
        super().__init__()
        self.embed = nn.Embedding(20, 6)
        self.rnn = cell(6, 8, batch_first=True)
        self.out = nn.Linear(8, 4)

    def forward(self, tokens):
        seq, _ = self.rnn(self.embed(tokens))
        return F.log_softmax(self.out(seq[:, -1]), dim=-1)


class BagOfWords(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.embed = nn.Embedding(30, 5)
        self.fc = nn.Linear(5, 2)

    def forward(self, tokens):
        return self.fc(self.embed(tokens).mean(dim=1))


class TinyTransformer(nn.Module):
    """Embedding + learned positions + a 2-layer encoder + mean pooling."""

    def __init__(self) -> None:
        super().__init__()
        self.embed = nn.Embedding(16, 8)
        self.pos = nn.Parameter(cr.randn(1, 6, 8))
        layer = nn.TransformerEncoderLayer(8, 2, 16, dropout=0.1, batch_first=True)
        self.encoder = nn.TransformerEncoder(layer, 2)
        self.head = nn.Linear(8, 3)

    def forward(self, tokens):
        h = self.encoder(self.embed(tokens) + self.pos)
        return self.head(h.mean(dim=1))


class CausalEncoder(nn.Module):
    """A causal mask made inside forward (its size is the sequence's, a static axis); the
    attention's check for fully masked rows steers Python only and is left out."""

    def __init__(self) -> None:
        super().__init__()
        self.layer = nn.TransformerEncoderLayer(8, 2, 16, batch_first=True)

    def forward(self, x):
        mask = nn.Transformer.generate_square_subsequent_mask(x.shape[1])
        return self.layer(x, src_mask=mask)


class TensorOps(nn.Module):
    """The tensor ops models are made of, one after another."""

    def __init__(self) -> None:
        super().__init__()
        self.w = nn.Parameter(cr.randn(4, 8))

    def forward(self, x, y):
        b = x.shape[0]
        a = (x + y) * 0.5 - y / 3.0
        a = a @ self.w
        t = a.view(b, 2, 2, 2).permute(0, 2, 1, 3).reshape(b, -1)
        u = cr.cat([t.transpose(0, 1).t(), a[:, 1:3], a[:, ::2]], dim=1)
        left, right = u.chunk(2, dim=1)
        s = cr.stack([left, right], dim=1).sum(dim=1)
        s = s.unsqueeze(1).squeeze(1).flatten(1)
        m = s.max(dim=-1, keepdim=True).values - s.min(dim=-1).values.unsqueeze(1)
        v = s.var(dim=-1, keepdim=True)
        z = cr.where(s > 0, (s.exp() + 1).log(), s.abs().sqrt())
        z = z.masked_fill(z > 2.0, 2.0).clamp(-1.5, 1.5) ** 2
        p = F.pad(z, (1, 2), value=0.5).flip(1).cumsum(dim=1)
        q = cr.tril(p.unsqueeze(1).expand(b, 3, p.shape[1]))[:, 1]
        idx = s.argmax(dim=-1, keepdim=True).to(cr.float32)
        n = F.normalize(q, dim=-1) + s.amin(dim=-1, keepdim=True)
        return cr.cat([n, m, v, idx, cr.softmax(z, -1), -cr.sigmoid(z).neg()], dim=1)


MODELS = {
    "MLP": (lambda: nn.Sequential(nn.Linear(6, 16), nn.ReLU(), nn.Dropout(0.2),
                                  nn.Linear(16, 16), nn.Tanh(), nn.Linear(16, 3)),
            lambda b: cr.randn(b, 6)),
    "CNN": (CNN, lambda b: cr.randn(b, 1, 12, 12)),
    "LSTM-classifier": (lambda: RecurrentClassifier(nn.LSTM), lambda b: cr.randint(0, 20, (b, 7))),
    "GRU-classifier": (lambda: RecurrentClassifier(nn.GRU), lambda b: cr.randint(0, 20, (b, 7))),
    "Embedding-bag-of-words": (BagOfWords, lambda b: cr.randint(0, 30, (b, 9))),
    "Transformer": (TinyTransformer, lambda b: cr.randint(0, 16, (b, 6))),
    "Transformer-causal": (CausalEncoder, lambda b: cr.randn(b, 5, 8)),
    "TensorOps": (TensorOps, lambda b: (cr.randn(b, 4), cr.randn(b, 4))),
}


@pytest.mark.parametrize("name", sorted(MODELS))
def test_model_matches_onnxruntime(name, tmp_path):
    make_model, make_inputs = MODELS[name]
    export_and_compare(make_model(), make_inputs, tmp_path, batches=(3, 1))


@pytest.mark.parametrize("opset", [13, 17, 18])
def test_opsets(opset, tmp_path):
    """Reductions spell their axes as an attribute before opset 18, as an input from 18."""
    model = nn.Sequential(nn.Linear(4, 6), nn.LayerNorm(6), nn.GELU())
    proto = export_and_compare(model, lambda b: cr.randn(b, 4), tmp_path, opset_version=opset)
    assert proto.opset_import[0].version == opset
