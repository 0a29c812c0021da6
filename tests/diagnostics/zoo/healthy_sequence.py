"""Healthy sequence setups: recurrent classifiers, transformers, embeddings used right.
build(lib, fixed) ignores ``fixed``.
"""
from __future__ import annotations

from typing import Any

from . import data
from .case import Case, Setup
from .loop import Batches, accuracy, standard_train


def _recurrent_classifier(lib: Any, kind: str, length: int) -> Setup:
    lib.manual_seed(0)
    x, y = data.sequences(seed=30, n=512, length=length)
    nn = lib.nn

    class Classifier(nn.Module):
        def __init__(self):
            super().__init__()
            self.rnn = getattr(nn, kind)(4, 32, batch_first=True)
            self.out = nn.Linear(32, 2)

        def forward(self, x):
            _, h = self.rnn(x)
            h = h[0] if isinstance(h, tuple) else h   # LSTM: (h_n, c_n)
            return self.out(h[-1])
    model = Classifier()
    opt = lib.optim.Adam(model.parameters(), lr=1e-2)
    ce = nn.CrossEntropyLoss()
    return Setup(model, opt, standard_train(model, opt, ce, Batches(lib, (x, y), 32)),
                 score=accuracy(lib, model, x, y))


def lstm_classifier(lib: Any, fixed: bool = True) -> Setup:
    return _recurrent_classifier(lib, "LSTM", 20)


def gru_classifier(lib: Any, fixed: bool = True) -> Setup:
    return _recurrent_classifier(lib, "GRU", 12)


def prenorm_transformer(lib: Any, fixed: bool = True) -> Setup:
    lib.manual_seed(0)
    x, y = data.sequences(seed=31, n=512, length=10)
    nn = lib.nn

    class Encoder(nn.Module):
        def __init__(self):
            super().__init__()
            self.embed = nn.Linear(4, 32)
            layer = nn.TransformerEncoderLayer(32, 4, 64, dropout=0.0, batch_first=True,
                                               norm_first=True)
            # pre-norm layers leave the residual stream un-normalised: a final LayerNorm
            self.encoder = nn.TransformerEncoder(layer, 2, norm=nn.LayerNorm(32),
                                                 enable_nested_tensor=False)
            self.out = nn.Linear(32, 2)

        def forward(self, x):
            return self.out(self.encoder(self.embed(x)).mean(1))
    model = Encoder()
    opt = lib.optim.AdamW(model.parameters(), lr=3e-3)
    ce = nn.CrossEntropyLoss()
    return Setup(model, opt, standard_train(model, opt, ce, Batches(lib, (x, y), 32)),
                 score=accuracy(lib, model, x, y))


def _next_token_loss(lib: Any):
    ce = lib.nn.CrossEntropyLoss()
    return lambda logits, targets: ce(logits.reshape(-1, logits.shape[-1]), targets.reshape(-1))


def tied_embeddings(lib: Any, fixed: bool = True) -> Setup:
    lib.manual_seed(0)
    x, y = data.counting_tokens(seed=32)
    nn = lib.nn

    class TiedLM(nn.Module):
        """An LSTM language model whose output layer shares the input embedding's weight."""

        def __init__(self):
            super().__init__()
            self.emb = nn.Embedding(16, 32)
            self.rnn = nn.LSTM(32, 32, batch_first=True)
            self.head = nn.Linear(32, 16, bias=False)
            self.head.weight = self.emb.weight

        def forward(self, tokens):
            h, _ = self.rnn(self.emb(tokens))
            return self.head(h)
    model = TiedLM()
    opt = lib.optim.Adam(model.parameters(), lr=1e-2)
    return Setup(model, opt, standard_train(model, opt, _next_token_loss(lib),
                                            Batches(lib, (x, y), 32)))


def embedding_padding_idx(lib: Any, fixed: bool = True) -> Setup:
    lib.manual_seed(0)
    tokens, y = data.padded_bags(seed=33)
    nn = lib.nn

    class MaskedBag(nn.Module):
        """Mean of the real tokens' embeddings: padding_idx=0 plus a mask for the count."""

        def __init__(self):
            super().__init__()
            self.emb = nn.Embedding(20, 16, padding_idx=0)
            self.out = nn.Linear(16, 2)

        def forward(self, tokens):
            mask = (tokens != 0).float().unsqueeze(-1)
            summed = (self.emb(tokens) * mask).sum(1)
            return self.out(summed / mask.sum(1).clamp(min=1.0))
    model = MaskedBag()
    opt = lib.optim.Adam(model.parameters(), lr=3e-2)
    ce = nn.CrossEntropyLoss()
    return Setup(model, opt, standard_train(model, opt, ce, Batches(lib, (tokens, y), 32)),
                 score=accuracy(lib, model, tokens, y))


def gpt_block(lib: Any, fixed: bool = True) -> Setup:
    lib.manual_seed(0)
    x, y = data.counting_tokens(seed=34)
    nn = lib.nn
    length = x.shape[1]

    class Block(nn.Module):
        """nanoGPT's block: causal self-attention and an MLP, both pre-norm residual."""

        def __init__(self, d):
            super().__init__()
            self.ln1 = nn.LayerNorm(d)
            self.attn = nn.MultiheadAttention(d, 4, batch_first=True)
            self.ln2 = nn.LayerNorm(d)
            self.mlp = nn.Sequential(nn.Linear(d, 4 * d), nn.GELU(), nn.Linear(4 * d, d))
            self.register_buffer("causal", lib.triu(lib.ones(length, length), 1).bool())

        def forward(self, x):
            h = self.ln1(x)
            x = x + self.attn(h, h, h, attn_mask=self.causal, need_weights=False)[0]
            return x + self.mlp(self.ln2(x))

    class TinyGPT(nn.Module):
        def __init__(self):
            super().__init__()
            self.tok = nn.Embedding(16, 32)
            self.pos = nn.Embedding(length, 32)
            self.block = Block(32)
            self.ln_f = nn.LayerNorm(32)
            self.head = nn.Linear(32, 16)

        def forward(self, tokens):
            x = self.tok(tokens) + self.pos(lib.arange(tokens.shape[1]))
            return self.head(self.ln_f(self.block(x)))
    model = TinyGPT()
    opt = lib.optim.AdamW(model.parameters(), lr=1e-2)
    return Setup(model, opt, standard_train(model, opt, _next_token_loss(lib),
                                            Batches(lib, (x, y), 32)))


CASES = [
    Case("lstm_classifier", True, None, None, lstm_classifier,
         note="LSTM over 20 steps, classify from h_n", metric="accuracy", learns=0.8),
    Case("gru_classifier", True, None, None, gru_classifier,
         note="GRU over 12 steps, classify from h_n", metric="accuracy", learns=0.8),
    Case("prenorm_transformer", True, None, None, prenorm_transformer,
         note="2-layer pre-norm TransformerEncoder with a final LayerNorm, mean-pooled",
         metric="accuracy", learns=0.8),
    Case("tied_embeddings", True, None, None, tied_embeddings,
         note="LSTM language model whose output layer shares the embedding weight",
         learns=0.5),
    Case("embedding_padding_idx", True, None, None, embedding_padding_idx,
         note="bag of embeddings with padding_idx=0 and a masked mean",
         metric="accuracy", learns=0.85),
    Case("gpt_block", True, None, None, gpt_block,
         note="one nanoGPT-style block (causal MultiheadAttention + GELU MLP, pre-norm)",
         learns=0.5),
]
