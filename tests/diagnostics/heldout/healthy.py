"""Healthy setups: each must learn and the monitor must stay silent."""
from __future__ import annotations

import math

import numpy as np

from .common import (Batches, blobs, cnn, digits, fit, healthy, mlp, regression, seq_sum,
                     sequences, tokens)


@healthy("mlp_sgd_momentum_steplr", note="digits MLP, SGD momentum, StepLR per 40 steps")
def mlp_sgd_momentum_steplr(lib, bug, watch):
    lib.manual_seed(100)
    x, y = digits()
    model = mlp(lib, [64, 128, 64, 10])
    opt = lib.optim.SGD(model.parameters(), lr=0.05, momentum=0.9)
    sched = lib.optim.lr_scheduler.StepLR(opt, step_size=40, gamma=0.5)
    watch(model, opt)
    return fit(lib, model, opt, Batches(lib, x, y, 64), lib.nn.CrossEntropyLoss(), 120,
               sched=sched)


@healthy("cnn_adam", note="digits CNN, Adam")
def cnn_adam(lib, bug, watch):
    lib.manual_seed(101)
    x, y = digits(flat=False)
    model = cnn(lib)
    opt = lib.optim.Adam(model.parameters(), lr=3e-3)
    watch(model, opt)
    return fit(lib, model, opt, Batches(lib, x, y, 32), lib.nn.CrossEntropyLoss(), 100)


@healthy("cnn_bn_nesterov_cosine", note="BN CNN, SGD nesterov, CosineAnnealingLR")
def cnn_bn_nesterov_cosine(lib, bug, watch):
    lib.manual_seed(102)
    x, y = digits(flat=False)
    model = cnn(lib, norm="bn")
    opt = lib.optim.SGD(model.parameters(), lr=0.05, momentum=0.9, nesterov=True)
    sched = lib.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=100)
    watch(model, opt)
    return fit(lib, model, opt, Batches(lib, x, y, 32), lib.nn.CrossEntropyLoss(), 100,
               sched=sched)


@healthy("cnn_groupnorm_sgd", note="GroupNorm CNN at batch 4, plain SGD")
def cnn_groupnorm_sgd(lib, bug, watch):
    lib.manual_seed(103)
    x, y = digits(flat=False)
    model = cnn(lib, norm="gn")
    opt = lib.optim.SGD(model.parameters(), lr=0.05)
    watch(model, opt)
    return fit(lib, model, opt, Batches(lib, x, y, 4), lib.nn.CrossEntropyLoss(), 150)


@healthy("lstm_classifier_adam_clip", note="LSTM sequence classifier, Adam, clip_grad_norm_(1)")
def lstm_classifier_adam_clip(lib, bug, watch):
    lib.manual_seed(104)
    nn = lib.nn
    x, y = sequences()

    class Net(nn.Module):
        def __init__(self):
            super().__init__()
            self.lstm = nn.LSTM(1, 24, batch_first=True)
            self.head = nn.Linear(24, 3)

        def forward(self, x):
            h, _ = self.lstm(x)
            return self.head(h[:, -1])

    model = Net()
    opt = lib.optim.Adam(model.parameters(), lr=1e-2)
    watch(model, opt)
    return fit(lib, model, opt, Batches(lib, x, y, 32), nn.CrossEntropyLoss(), 100, clip=1.0)


@healthy("gru_regression_rmsprop", note="GRU on running sums, RMSprop, MSE (N,) vs (N,)")
def gru_regression_rmsprop(lib, bug, watch):
    lib.manual_seed(105)
    nn = lib.nn
    x, y = seq_sum()

    class Net(nn.Module):
        def __init__(self):
            super().__init__()
            self.gru = nn.GRU(1, 16, batch_first=True)
            self.head = nn.Linear(16, 1)

        def forward(self, x):
            h, _ = self.gru(x)
            return self.head(h[:, -1]).squeeze(1)

    model = Net()
    opt = lib.optim.RMSprop(model.parameters(), lr=3e-3)
    watch(model, opt)
    return fit(lib, model, opt, Batches(lib, x, y, 32), nn.MSELoss(), 100)


@healthy("rnn_tanh_adagrad", note="2-layer tanh nn.RNN classifier, Adagrad")
def rnn_tanh_adagrad(lib, bug, watch):
    lib.manual_seed(106)
    nn = lib.nn
    x, y = sequences(length=8)

    class Net(nn.Module):
        def __init__(self):
            super().__init__()
            self.rnn = nn.RNN(1, 24, num_layers=2, batch_first=True)
            self.head = nn.Linear(24, 3)

        def forward(self, x):
            h, _ = self.rnn(x)
            return self.head(h[:, -1])

    model = Net()
    opt = lib.optim.Adagrad(model.parameters(), lr=5e-2)
    watch(model, opt)
    return fit(lib, model, opt, Batches(lib, x, y, 32), nn.CrossEntropyLoss(), 100)


@healthy("transformer_adamw_warmup", note="1-layer TransformerEncoder on tokens, AdamW + LambdaLR warmup")
def transformer_adamw_warmup(lib, bug, watch):
    lib.manual_seed(107)
    nn = lib.nn
    x, y = tokens()

    class Net(nn.Module):
        def __init__(self):
            super().__init__()
            self.emb = nn.Embedding(20, 32)
            self.pos = nn.Parameter(lib.zeros(1, 10, 32))
            self.encoder = nn.TransformerEncoderLayer(32, 4, dim_feedforward=64, dropout=0.0,
                                                      batch_first=True)
            self.head = nn.Linear(32, 2)

        def forward(self, ids):
            h = self.encoder(self.emb(ids) + self.pos)
            return self.head(h.mean(1))

    model = Net()
    opt = lib.optim.AdamW(model.parameters(), lr=3e-3, weight_decay=0.01)
    sched = lib.optim.lr_scheduler.LambdaLR(opt, lambda s: min(1.0, (s + 1) / 10))
    watch(model, opt)
    return fit(lib, model, opt, Batches(lib, x, y, 32), nn.CrossEntropyLoss(), 150, sched=sched)


@healthy("embedding_padding_idx_masked", note="Embedding(padding_idx=0), masked mean, Adam")
def embedding_padding_idx_masked(lib, bug, watch):
    lib.manual_seed(108)
    nn = lib.nn
    x, y = tokens(length=16, pad=True, seed=3)

    class Net(nn.Module):
        def __init__(self):
            super().__init__()
            self.emb = nn.Embedding(20, 16, padding_idx=0)
            self.fc1, self.fc2 = nn.Linear(16, 16), nn.Linear(16, 2)

        def forward(self, ids):
            mask = (ids != 0).float().unsqueeze(-1)
            pooled = (self.emb(ids) * mask).sum(1) / mask.sum(1)
            return self.fc2(lib.relu(self.fc1(pooled)))

    model = Net()
    opt = lib.optim.Adam(model.parameters(), lr=1e-2)
    watch(model, opt)
    return fit(lib, model, opt, Batches(lib, x, y, 64), nn.CrossEntropyLoss(), 150)


@healthy("autoencoder_adam", note="digits autoencoder 64-32-8-32-64, Adam, MSE")
def autoencoder_adam(lib, bug, watch):
    lib.manual_seed(109)
    nn = lib.nn
    x, _ = digits()
    model = nn.Sequential(nn.Linear(64, 32), nn.ReLU(), nn.Linear(32, 8), nn.ReLU(),
                          nn.Linear(8, 32), nn.ReLU(), nn.Linear(32, 64))
    opt = lib.optim.Adam(model.parameters(), lr=3e-3)
    watch(model, opt)
    return fit(lib, model, opt, Batches(lib, x, x, 64), nn.MSELoss(), 150)


@healthy("layernorm_mlp_adamw", note="LayerNorm + GELU MLP, AdamW")
def layernorm_mlp_adamw(lib, bug, watch):
    lib.manual_seed(110)
    x, y = digits()
    model = mlp(lib, [64, 64, 64, 10], act="gelu", norm="ln")
    opt = lib.optim.AdamW(model.parameters(), lr=2e-3)
    watch(model, opt)
    return fit(lib, model, opt, Batches(lib, x, y, 64), lib.nn.CrossEntropyLoss(), 100)


@healthy("resnet_blocks_bn_adam", note="3 residual BN blocks on digits, Adam")
def resnet_blocks_bn_adam(lib, bug, watch):
    lib.manual_seed(111)
    nn = lib.nn

    class Block(nn.Module):
        def __init__(self, c):
            super().__init__()
            self.conv1, self.bn1 = nn.Conv2d(c, c, 3, padding=1, bias=False), nn.BatchNorm2d(c)
            self.conv2, self.bn2 = nn.Conv2d(c, c, 3, padding=1, bias=False), nn.BatchNorm2d(c)

        def forward(self, x):
            h = lib.relu(self.bn1(self.conv1(x)))
            return lib.relu(x + self.bn2(self.conv2(h)))

    class Net(nn.Module):
        def __init__(self):
            super().__init__()
            self.stem = nn.Conv2d(1, 12, 3, padding=1)
            self.blocks = nn.Sequential(Block(12), Block(12), Block(12))
            self.head = nn.Linear(12, 10)

        def forward(self, x):
            return self.head(self.blocks(lib.relu(self.stem(x))).mean((2, 3)))

    x, y = digits(flat=False)
    model = Net()
    opt = lib.optim.Adam(model.parameters(), lr=3e-3)
    watch(model, opt)
    return fit(lib, model, opt, Batches(lib, x, y, 32), nn.CrossEntropyLoss(), 80)


@healthy("log_softmax_into_cross_entropy", note="forward returns log_softmax, loss CrossEntropyLoss "
         "(log_softmax is idempotent, so this is fine)")
def log_softmax_into_cross_entropy(lib, bug, watch):
    lib.manual_seed(112)
    nn, F = lib.nn, lib.nn.functional
    x, y = digits()
    net = mlp(lib, [64, 64, 10])
    opt = lib.optim.SGD(net.parameters(), lr=0.1, momentum=0.9)
    watch(net, opt)
    return fit(lib, net, opt, Batches(lib, x, y, 64), nn.CrossEntropyLoss(), 100,
               forward=lambda m, xb: F.log_softmax(m(xb), dim=1))


@healthy("log_softmax_nll_sgd", note="LogSoftmax module + NLLLoss, plain SGD")
def log_softmax_nll_sgd(lib, bug, watch):
    lib.manual_seed(113)
    nn = lib.nn
    x, y = blobs()
    model = nn.Sequential(nn.Linear(10, 32), nn.ReLU(), nn.Linear(32, 4), nn.LogSoftmax(dim=1))
    opt = lib.optim.SGD(model.parameters(), lr=0.1)
    watch(model, opt)
    return fit(lib, model, opt, Batches(lib, x, y, 32), nn.NLLLoss(), 100)


@healthy("bce_with_logits_binary", note="binary digits (>=5) with BCEWithLogitsLoss, Adam")
def bce_with_logits_binary(lib, bug, watch):
    lib.manual_seed(114)
    x, y = digits()
    model = mlp(lib, [64, 32, 1])
    opt = lib.optim.Adam(model.parameters(), lr=3e-3)
    watch(model, opt)
    return fit(lib, model, opt, Batches(lib, x, (y >= 5).astype(np.float32), 64),
               lib.nn.BCEWithLogitsLoss(), 100, forward=lambda m, xb: m(xb).squeeze(1))


@healthy("huber_regression_sgd", note="MLP regression, HuberLoss, (N,) vs (N,), SGD momentum", )
def huber_regression_sgd(lib, bug, watch):
    lib.manual_seed(115)
    x, y = regression(seed=5)
    model = mlp(lib, [8, 64, 64, 1])
    opt = lib.optim.SGD(model.parameters(), lr=0.05, momentum=0.9)
    watch(model, opt)
    return fit(lib, model, opt, Batches(lib, x, y, 64), lib.nn.HuberLoss(), 120,
               forward=lambda m, xb: m(xb).squeeze(1))


@healthy("grad_accumulation_correct", note="accumulate 4 batches of 16, loss/4, zero_grad after step")
def grad_accumulation_correct(lib, bug, watch):
    lib.manual_seed(116)
    x, y = digits()
    model = mlp(lib, [64, 64, 10])
    opt = lib.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
    watch(model, opt)
    batches, loss_fn = Batches(lib, x, y, 16), lib.nn.CrossEntropyLoss()
    losses = []
    opt.zero_grad()
    for i in range(4 * 50):
        xb, yb = batches()
        loss = loss_fn(model(xb), yb) / 4
        loss.backward()
        if (i + 1) % 4 == 0:
            opt.step()
            opt.zero_grad()
        losses.append(float(loss.item()) * 4)
    return losses


@healthy("tied_embedding_lm", note="next-token model with the output layer tied to the embedding, Adam")
def tied_embedding_lm(lib, bug, watch):
    lib.manual_seed(117)
    nn = lib.nn
    rng = np.random.default_rng(7)
    # a noisy cyclic language: token t is followed by (t + 1) % 16 most of the time
    seq = np.zeros(4000, dtype=np.int64)
    for i in range(1, len(seq)):
        seq[i] = (seq[i - 1] + 1) % 16 if rng.random() < 0.85 else rng.integers(16)
    xs, ys = seq[:-1], seq[1:]

    class LM(nn.Module):
        def __init__(self):
            super().__init__()
            self.emb = nn.Embedding(16, 24)
            self.hidden = nn.Linear(24, 24)
            self.out = nn.Linear(24, 16, bias=False)
            self.out.weight = self.emb.weight          # weight tying (Press & Wolf)

        def forward(self, t):
            return self.out(lib.tanh(self.hidden(self.emb(t))))

    model = LM()
    opt = lib.optim.Adam(model.parameters(), lr=1e-2)
    watch(model, opt)
    return fit(lib, model, opt, Batches(lib, xs, ys, 64), nn.CrossEntropyLoss(), 120)


@healthy("frozen_pretrained_features", note="features pre-trained, then frozen; new head trained alone")
def frozen_pretrained_features(lib, bug, watch):
    lib.manual_seed(118)
    nn = lib.nn
    x, y = digits()
    features = nn.Sequential(nn.Linear(64, 48), nn.ReLU())
    pre_head = nn.Linear(48, 10)
    pre = nn.Sequential(features, pre_head)
    pre_opt = lib.optim.Adam(pre.parameters(), lr=3e-3)
    fit(lib, pre, pre_opt, Batches(lib, x, y, 64, seed=9), nn.CrossEntropyLoss(), 60)
    # transfer: keep the features, learn a fresh head for the (same) task
    for p in features.parameters():
        p.requires_grad_(False)
    model = nn.Sequential(features, nn.Linear(48, 10))
    opt = lib.optim.SGD(model[1].parameters(), lr=0.1, momentum=0.9)
    watch(model, opt)
    return fit(lib, model, opt, Batches(lib, x, y, 64), nn.CrossEntropyLoss(), 80)


@healthy("dropout_mlp_with_validation", note="dropout MLP, eval() for validation every 25 steps then train()")
def dropout_mlp_with_validation(lib, bug, watch):
    lib.manual_seed(119)
    x, y = digits()
    model = mlp(lib, [64, 128, 10], dropout=0.2)
    opt = lib.optim.Adam(model.parameters(), lr=2e-3)
    watch(model, opt)
    xv = lib.from_numpy(x[:300].copy())

    def validate(step):
        if step and step % 25 == 0:
            model.eval()
            with lib.no_grad():
                model(xv)
            model.train()

    return fit(lib, model, opt, Batches(lib, x, y, 64), lib.nn.CrossEntropyLoss(), 100,
               before_step=validate)


@healthy("deep_residual_relu_he", note="8 residual ReLU layers with He init, SGD momentum")
def deep_residual_relu_he(lib, bug, watch):
    lib.manual_seed(120)
    nn = lib.nn

    class Net(nn.Module):
        def __init__(self):
            super().__init__()
            self.inp = nn.Linear(10, 32)
            self.layers = nn.ModuleList([nn.Linear(32, 32) for _ in range(8)])
            for m in self.layers:
                nn.init.kaiming_normal_(m.weight, nonlinearity="relu")
                m.weight.data.mul_(0.5)
            self.out = nn.Linear(32, 4)

        def forward(self, x):
            h = lib.relu(self.inp(x))
            for layer in self.layers:
                h = h + lib.relu(layer(h))
            return self.out(h)

    x, y = blobs(seed=4)
    model = Net()
    opt = lib.optim.SGD(model.parameters(), lr=0.01, momentum=0.9)
    watch(model, opt)
    return fit(lib, model, opt, Batches(lib, x, y, 32), nn.CrossEntropyLoss(), 100)


@healthy("sgd_weight_decay_5e4", note="digits MLP, SGD lr 0.1 weight_decay 5e-4, MultiStepLR")
def sgd_weight_decay_5e4(lib, bug, watch):
    lib.manual_seed(121)
    x, y = digits()
    model = mlp(lib, [64, 64, 10])
    opt = lib.optim.SGD(model.parameters(), lr=0.1, weight_decay=5e-4)
    sched = lib.optim.lr_scheduler.MultiStepLR(opt, milestones=[60, 90], gamma=0.3)
    watch(model, opt)
    return fit(lib, model, opt, Batches(lib, x, y, 128), lib.nn.CrossEntropyLoss(), 120,
               sched=sched)


@healthy("label_smoothing_cnn", note="CNN, CrossEntropyLoss(label_smoothing=0.1), RMSprop", learn=0.6)
def label_smoothing_cnn(lib, bug, watch):
    lib.manual_seed(122)
    x, y = digits(flat=False)
    model = cnn(lib)
    opt = lib.optim.RMSprop(model.parameters(), lr=1e-3)
    watch(model, opt)
    return fit(lib, model, opt, Batches(lib, x, y, 64), lib.nn.CrossEntropyLoss(label_smoothing=0.1), 100)


@healthy("conv1d_sequences_adam", note="Conv1d over sequences, AdaptiveAvgPool1d, Adam")
def conv1d_sequences_adam(lib, bug, watch):
    lib.manual_seed(123)
    nn = lib.nn
    x, y = sequences(length=16)
    x = np.ascontiguousarray(x.transpose(0, 2, 1))     # (N, 1, T)
    model = nn.Sequential(nn.Conv1d(1, 16, 5, padding=2), nn.ReLU(), nn.Conv1d(16, 16, 3, padding=1),
                          nn.ReLU(), nn.AdaptiveAvgPool1d(1), nn.Flatten(), nn.Linear(16, 3))
    opt = lib.optim.Adam(model.parameters(), lr=5e-3)
    watch(model, opt)
    return fit(lib, model, opt, Batches(lib, x, y, 32), nn.CrossEntropyLoss(), 100)


@healthy("large_batch_mean_sgd", note="batch 512 with mean reduction, SGD lr 0.5")
def large_batch_mean_sgd(lib, bug, watch):
    lib.manual_seed(124)
    x, y = digits()
    model = mlp(lib, [64, 64, 10])
    opt = lib.optim.SGD(model.parameters(), lr=0.5, momentum=0.5)
    watch(model, opt)
    return fit(lib, model, opt, Batches(lib, x, y, 512), lib.nn.CrossEntropyLoss(), 60)


@healthy("adam_lr_reduce_on_plateau", note="MLP regression with MSE, Adam + ReduceLROnPlateau")
def adam_lr_reduce_on_plateau(lib, bug, watch):
    lib.manual_seed(125)
    x, y = regression(seed=2)
    model = mlp(lib, [8, 32, 32, 1], act="tanh")
    opt = lib.optim.Adam(model.parameters(), lr=5e-3)
    sched = lib.optim.lr_scheduler.ReduceLROnPlateau(opt, patience=5, factor=0.5)
    watch(model, opt)
    batches, loss_fn = Batches(lib, x, y, 64), lib.nn.MSELoss()
    losses = []
    for step in range(120):
        xb, yb = batches()
        opt.zero_grad()
        loss = loss_fn(model(xb).squeeze(1), yb)
        loss.backward()
        opt.step()
        losses.append(float(loss.item()))
        if step % 10 == 9:
            sched.step(float(np.mean(losses[-10:])))
    return losses
