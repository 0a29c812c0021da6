"""Bugs in the model, the loss and the data (each with its fixed twin behind bug=False)."""
from __future__ import annotations

import math

import numpy as np

from .common import (Batches, blobs, bug, cnn, digits, digits_raw, fit, mlp, regression,
                     seq_sum, sequences, tokens)


# ----------------------------------------------------------------------------- loss inputs

@bug("softmax_in_forward_ce", "loss_input",
     note="forward() returns F.softmax(logits) and the loss is nn.CrossEntropyLoss (SGD)")
def softmax_in_forward_ce(lib, bug, watch):
    lib.manual_seed(20)
    nn, F = lib.nn, lib.nn.functional
    x, y = digits()

    class Net(nn.Module):
        def __init__(self):
            super().__init__()
            self.fc1, self.fc2 = nn.Linear(64, 64), nn.Linear(64, 10)

        def forward(self, x):
            logits = self.fc2(F.relu(self.fc1(x)))
            return F.softmax(logits, dim=1) if bug else logits

    model = Net()
    opt = lib.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
    watch(model, opt)
    return fit(lib, model, opt, Batches(lib, x, y, 64), nn.CrossEntropyLoss(), 100)


@bug("sigmoid_in_forward_bcewithlogits", "loss_input",
     note="binary blobs; forward() ends in torch.sigmoid, loss is BCEWithLogitsLoss (Adam)")
def sigmoid_in_forward_bcewithlogits(lib, bug, watch):
    lib.manual_seed(21)
    nn = lib.nn
    x, y = blobs(classes=2, spread=1.5)

    class Net(nn.Module):
        def __init__(self):
            super().__init__()
            self.hidden, self.out = nn.Linear(10, 32), nn.Linear(32, 1)

        def forward(self, x):
            z = self.out(lib.relu(self.hidden(x))).squeeze(1)
            return lib.sigmoid(z) if bug else z

    model = Net()
    opt = lib.optim.Adam(model.parameters(), lr=1e-2)
    watch(model, opt)
    return fit(lib, model, opt, Batches(lib, x, y.astype(np.float32), 64),
               nn.BCEWithLogitsLoss(), 80)


@bug("logits_into_nll_lstm", "loss_input",
     note="LSTM sequence classifier returns raw logits into nn.NLLLoss (no log_softmax)")
def logits_into_nll_lstm(lib, bug, watch):
    lib.manual_seed(22)
    nn, F = lib.nn, lib.nn.functional
    x, y = sequences()

    class Net(nn.Module):
        def __init__(self):
            super().__init__()
            self.lstm = nn.LSTM(1, 24, batch_first=True)
            self.head = nn.Linear(24, 3)

        def forward(self, x):
            h, _ = self.lstm(x)
            logits = self.head(h[:, -1])
            return logits if bug else F.log_softmax(logits, dim=1)

    model = Net()
    opt = lib.optim.Adam(model.parameters(), lr=1e-2)
    watch(model, opt)
    return fit(lib, model, opt, Batches(lib, x, y, 32), nn.NLLLoss(), 100)


@bug("mse_on_class_ids", "loss_input", learn=0.6,
     note="digits as regression: one output, MSELoss against the class id 0..9 (fix: 10 logits + CE)")
def mse_on_class_ids(lib, bug, watch):
    lib.manual_seed(23)
    nn = lib.nn
    x, y = digits()
    model = mlp(lib, [64, 64, 1 if bug else 10])
    opt = lib.optim.Adam(model.parameters(), lr=3e-3)
    watch(model, opt)
    if bug:
        loss_fn = lambda out, t: nn.functional.mse_loss(out.squeeze(1), t.float())  # noqa: E731
    else:
        loss_fn = nn.CrossEntropyLoss()
    return fit(lib, model, opt, Batches(lib, x, y, 64), loss_fn, 100)


@bug("hand_bce_log0_nan", "non_finite",
     note="hand-written BCE -(y log p + (1-y) log(1-p)); p rounds to 1.0 -> 0 * log(0) = NaN")
def hand_bce_log0_nan(lib, bug, watch):
    lib.manual_seed(24)
    x, y = digits()
    yb = (y >= 5).astype(np.float32)
    model = mlp(lib, [64, 64, 1])
    opt = lib.optim.Adam(model.parameters(), lr=3e-2)
    watch(model, opt)

    def loss_fn(out, t):
        p = lib.sigmoid(out.squeeze(1))
        if not bug:
            p = p.clamp(1e-6, 1 - 1e-6)
        return -(t * lib.log(p) + (1 - t) * lib.log(1 - p)).mean()

    return fit(lib, model, opt, Batches(lib, x, yb, 64), loss_fn, 150)


# ----------------------------------------------------------------------------- shapes

@bug("broadcast_l1_mlp", "broadcast",
     note="regression MLP output (N,1) against target (N,) in nn.L1Loss (SGD)", learn=0.7)
def broadcast_l1_mlp(lib, bug, watch):
    lib.manual_seed(25)
    x, y = regression()
    model = mlp(lib, [8, 64, 1])
    opt = lib.optim.SGD(model.parameters(), lr=0.05, momentum=0.9)
    watch(model, opt)
    fwd = (lambda m, xb: m(xb)) if bug else (lambda m, xb: m(xb).squeeze(1))
    return fit(lib, model, opt, Batches(lib, x, y, 64), lib.nn.L1Loss(), 120, forward=fwd)


@bug("broadcast_smoothl1_gru", "broadcast",
     note="GRU head Linear(16,1) output (N,1) against (N,) target in SmoothL1Loss (RMSprop)")
def broadcast_smoothl1_gru(lib, bug, watch):
    lib.manual_seed(26)
    nn = lib.nn
    x, y = seq_sum()

    class Net(nn.Module):
        def __init__(self):
            super().__init__()
            self.gru = nn.GRU(1, 16, batch_first=True)
            self.head = nn.Linear(16, 1)

        def forward(self, x):
            h, _ = self.gru(x)
            out = self.head(h[:, -1])
            return out if bug else out.squeeze(1)

    model = Net()
    opt = lib.optim.RMSprop(model.parameters(), lr=3e-3)
    watch(model, opt)
    return fit(lib, model, opt, Batches(lib, x, y, 32), nn.SmoothL1Loss(), 100)


# ----------------------------------------------------------------------------- modes, norms

@bug("eval_for_validation_never_train", "mode", begins=30,
     note="BN+dropout CNN: model.eval() for a validation pass at step 30, model.train() forgotten")
def eval_for_validation_never_train(lib, bug, watch):
    lib.manual_seed(27)
    x, y = digits(flat=False)
    model = cnn(lib, norm="bn")
    opt = lib.optim.SGD(model.parameters(), lr=0.05, momentum=0.9)
    watch(model, opt)
    xv = lib.from_numpy(x[:200].copy())

    def validate(step):
        if step == 30:
            model.eval()
            with lib.no_grad():
                model(xv)
            if not bug:
                model.train()

    return fit(lib, model, opt, Batches(lib, x, y, 32), lib.nn.CrossEntropyLoss(), 100,
               before_step=validate)


@bug("eval_from_start_bn_mlp", "mode",
     note="model.eval() left in from an inference snippet, BN+dropout MLP trained in eval (Adam)")
def eval_from_start_bn_mlp(lib, bug, watch):
    lib.manual_seed(28)
    x, y = digits()
    model = mlp(lib, [64, 64, 64, 10], norm="bn", dropout=0.3)
    if bug:
        model.eval()
    opt = lib.optim.Adam(model.parameters(), lr=2e-3)
    watch(model, opt)
    return fit(lib, model, opt, Batches(lib, x, y, 64), lib.nn.CrossEntropyLoss(), 100)


@bug("batchnorm1d_batch2", "batch_statistics", layers=("bn1",),
     note="MLP with BatchNorm1d trained at batch size 2 (SGD)")
def batchnorm1d_batch2(lib, bug, watch):
    lib.manual_seed(29)
    x, y = blobs()
    model = mlp(lib, [10, 32, 4], norm="bn")
    opt = lib.optim.SGD(model.parameters(), lr=0.02, momentum=0.9)
    watch(model, opt)
    return fit(lib, model, opt, Batches(lib, x, y, 2 if bug else 32), lib.nn.CrossEntropyLoss(),
               150)


@bug("batchnorm1d_head_batch3", "batch_statistics", layers=("norm",), learn=0.6,
     note="CNN whose fc head has BatchNorm1d, trained at batch size 3 (fix: LayerNorm) (Adam)")
def batchnorm1d_head_batch3(lib, bug, watch):
    lib.manual_seed(30)
    nn = lib.nn
    x, y = digits(flat=False)

    class Net(nn.Module):
        def __init__(self):
            super().__init__()
            self.conv1 = nn.Conv2d(1, 8, 3, padding=1)
            self.pool = nn.MaxPool2d(2)
            self.conv2 = nn.Conv2d(8, 16, 3, padding=1)
            self.fc1 = nn.Linear(64, 32)
            self.norm = nn.BatchNorm1d(32) if bug else nn.LayerNorm(32)
            self.fc2 = nn.Linear(32, 10)

        def forward(self, x):
            h = self.pool(lib.relu(self.conv1(x)))
            h = self.pool(lib.relu(self.conv2(h)))
            return self.fc2(lib.relu(self.norm(self.fc1(h.flatten(1)))))

    model = Net()
    opt = lib.optim.Adam(model.parameters(), lr=3e-3)
    watch(model, opt)
    return fit(lib, model, opt, Batches(lib, x, y, 3), nn.CrossEntropyLoss(), 150)


# ----------------------------------------------------------------------------- init

@bug("constant_init_mlp", "symmetry", layers=("fc1", "fc2"),
     note="nn.init.constant_(w, 0.05) on every Linear of a tanh MLP (SGD)")
def constant_init_mlp(lib, bug, watch):
    lib.manual_seed(31)
    x, y = digits()
    model = mlp(lib, [64, 64, 64, 10], act="tanh")
    if bug:
        for m in model.modules():
            if isinstance(m, lib.nn.Linear):
                lib.nn.init.constant_(m.weight, 0.05)
                lib.nn.init.zeros_(m.bias)
    opt = lib.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
    watch(model, opt)
    return fit(lib, model, opt, Batches(lib, x, y, 64), lib.nn.CrossEntropyLoss(), 100)


@bug("constant_init_cnn", "symmetry", layers=("conv1", "conv2"),
     note="every Conv2d filled with 0.1 (bias 0): all channels identical (Adam)")
def constant_init_cnn(lib, bug, watch):
    lib.manual_seed(32)
    x, y = digits(flat=False)
    model = cnn(lib)
    if bug:
        for m in model.modules():
            if isinstance(m, lib.nn.Conv2d):
                lib.nn.init.constant_(m.weight, 0.1)
                lib.nn.init.zeros_(m.bias)
    opt = lib.optim.Adam(model.parameters(), lr=3e-3)
    watch(model, opt)
    return fit(lib, model, opt, Batches(lib, x, y, 32), lib.nn.CrossEntropyLoss(), 100)


@bug("zero_init_lstm", "symmetry", layers=("lstm", "head"),
     note="for p in model.parameters(): nn.init.zeros_(p) on an LSTM classifier")
def zero_init_lstm(lib, bug, watch):
    lib.manual_seed(33)
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
    if bug:
        for p in model.parameters():      # zero LSTM *and* head: h = 0 and no gradient reaches it
            nn.init.zeros_(p)
    opt = lib.optim.Adam(model.parameters(), lr=1e-2)
    watch(model, opt)
    return fit(lib, model, opt, Batches(lib, x, y, 32), nn.CrossEntropyLoss(), 100)


@bug("deep_tanh_small_init", "vanishing", layers=("fc1", "fc2", "fc3"),
     note="10-layer tanh MLP with nn.init.normal_(std=0.05) (fix: xavier with tanh gain)")
def deep_tanh_small_init(lib, bug, watch):
    lib.manual_seed(34)
    x, y = digits()
    model = mlp(lib, [64] + [64] * 9 + [10], act="tanh")
    for m in model.modules():
        if isinstance(m, lib.nn.Linear):
            if bug:
                lib.nn.init.normal_(m.weight, std=0.05)
            else:
                lib.nn.init.xavier_uniform_(m.weight, gain=5 / 3)
            lib.nn.init.zeros_(m.bias)
    opt = lib.optim.SGD(model.parameters(), lr=0.05, momentum=0.9)
    watch(model, opt)
    return fit(lib, model, opt, Batches(lib, x, y, 64), lib.nn.CrossEntropyLoss(), 120)


@bug("deep_sigmoid_net", "vanishing", layers=("fc1", "fc2", "fc3"),
     note="9 sigmoid layers, default init, SGD (fix: ReLU with He init)")
def deep_sigmoid_net(lib, bug, watch):
    lib.manual_seed(35)
    x, y = blobs()
    model = mlp(lib, [10] + [32] * 8 + [4], act="sigmoid" if bug else "relu")
    if not bug:
        for m in model.modules():
            if isinstance(m, lib.nn.Linear):
                lib.nn.init.kaiming_normal_(m.weight, nonlinearity="relu")
                lib.nn.init.zeros_(m.bias)
    opt = lib.optim.SGD(model.parameters(), lr=0.02, momentum=0.9)
    watch(model, opt)
    return fit(lib, model, opt, Batches(lib, x, y, 32), lib.nn.CrossEntropyLoss(), 120)


@bug("relu_rnn_large_recurrent", "exploding", layers=("rnn",),
     note="nn.RNN(nonlinearity='relu'), weight_hh orthogonal*2 'against vanishing', 25 steps, clipped")
def relu_rnn_large_recurrent(lib, bug, watch):
    lib.manual_seed(36)
    nn = lib.nn
    x, y = seq_sum(length=25)

    class Net(nn.Module):
        def __init__(self):
            super().__init__()
            self.rnn = nn.RNN(1, 32, nonlinearity="relu", batch_first=True)
            self.head = nn.Linear(32, 1)

        def forward(self, x):
            h, _ = self.rnn(x)
            return self.head(h[:, -1]).squeeze(1)

    model = Net()
    if bug:
        with lib.no_grad():
            nn.init.orthogonal_(model.rnn.weight_hh_l0)
            model.rnn.weight_hh_l0.mul_(2.0)
    else:
        with lib.no_grad():
            nn.init.eye_(model.rnn.weight_hh_l0)  # IRNN (Le et al.): identity recurrence
            model.rnn.weight_hh_l0.mul_(0.9)
    opt = lib.optim.SGD(model.parameters(), lr=1e-3, momentum=0.9)
    watch(model, opt)
    return fit(lib, model, opt, Batches(lib, x, y, 32), nn.MSELoss(), 80, clip=1.0)


@bug("deep_relu_unscaled_init", "exploding",
     note="8-layer ReLU MLP, nn.init.normal_(w, std=1.0) (fix: kaiming_normal_), Adagrad")
def deep_relu_unscaled_init(lib, bug, watch):
    lib.manual_seed(37)
    x, y = blobs()
    model = mlp(lib, [10] + [64] * 7 + [4])
    for m in model.modules():
        if isinstance(m, lib.nn.Linear):
            if bug:
                lib.nn.init.normal_(m.weight, std=1.0)
            else:
                lib.nn.init.kaiming_normal_(m.weight, nonlinearity="relu")
            lib.nn.init.zeros_(m.bias)
    opt = lib.optim.Adagrad(model.parameters(), lr=1e-2)
    watch(model, opt)
    return fit(lib, model, opt, Batches(lib, x, y, 32), lib.nn.CrossEntropyLoss(), 100)


# ----------------------------------------------------------------------------- data, graph

@bug("pixels_0_255_tanh", "saturation",
     note="digits scaled to 0..255 and never normalised into a tanh MLP (SGD lr 0.01)")
def pixels_0_255_tanh(lib, bug, watch):
    lib.manual_seed(38)
    xr, y = digits_raw()
    x = xr * (255.0 / 16.0) if bug else digits()[0]
    model = mlp(lib, [64, 64, 10], act="tanh")
    opt = lib.optim.SGD(model.parameters(), lr=0.01, momentum=0.9)
    watch(model, opt)
    return fit(lib, model, opt, Batches(lib, x.astype(np.float32), y, 64),
               lib.nn.CrossEntropyLoss(), 100)


@bug("labels_shuffled_cnn", "label_noise", learn=0.6,
     note="labels permuted independently of the images (np.random.permutation(y)); CNN, Adam")
def labels_shuffled_cnn(lib, bug, watch):
    lib.manual_seed(39)
    x, y = digits(flat=False)
    if bug:
        y = np.random.default_rng(0).permutation(y)
    model = cnn(lib)
    opt = lib.optim.Adam(model.parameters(), lr=3e-3)
    watch(model, opt)
    return fit(lib, model, opt, Batches(lib, x, y, 64), lib.nn.CrossEntropyLoss(), 100)


@bug("labels_shuffled_lstm", "label_noise", learn=0.6,
     note="sequence labels shuffled separately from the inputs; LSTM, RMSprop")
def labels_shuffled_lstm(lib, bug, watch):
    lib.manual_seed(40)
    nn = lib.nn
    x, y = sequences()
    if bug:
        y = np.random.default_rng(1).permutation(y)

    class Net(nn.Module):
        def __init__(self):
            super().__init__()
            self.lstm = nn.LSTM(1, 24, batch_first=True)
            self.head = nn.Linear(24, 3)

        def forward(self, x):
            h, _ = self.lstm(x)
            return self.head(h[:, -1])

    model = Net()
    opt = lib.optim.RMSprop(model.parameters(), lr=3e-3)
    watch(model, opt)
    return fit(lib, model, opt, Batches(lib, x, y, 32), nn.CrossEntropyLoss(), 120)


@bug("detach_in_forward", "no_gradient", layers=("encoder", "encoder.0", "encoder.2"),
     also=("not_updated",),
     note="autoencoder forward does z = self.encoder(x).detach() (kept from a logging line)")
def detach_in_forward(lib, bug, watch):
    lib.manual_seed(41)
    nn = lib.nn
    x, _ = digits()

    class AE(nn.Module):
        def __init__(self):
            super().__init__()
            self.encoder = nn.Sequential(nn.Linear(64, 32), nn.ReLU(), nn.Linear(32, 12))
            self.decoder = nn.Sequential(nn.Linear(12, 32), nn.ReLU(), nn.Linear(32, 64))

        def forward(self, x):
            z = self.encoder(x)
            return self.decoder(z.detach() if bug else z)

    model = AE()
    opt = lib.optim.Adam(model.parameters(), lr=3e-3)
    watch(model, opt)
    return fit(lib, model, opt, Batches(lib, x, x, 64), nn.MSELoss(), 120)


@bug("padding_token_trained", "padding", layers=("emb",),
     note="nn.Embedding without padding_idx, mean over all positions incl. the 0 pads (Adam)")
def padding_token_trained(lib, bug, watch):
    lib.manual_seed(42)
    nn = lib.nn
    x, y = tokens(length=16, pad=True)

    class Net(nn.Module):
        def __init__(self):
            super().__init__()
            self.emb = nn.Embedding(20, 16) if bug else nn.Embedding(20, 16, padding_idx=0)
            self.fc = nn.Linear(16, 2)

        def forward(self, ids):
            e = self.emb(ids)
            if bug:
                pooled = e.mean(1)
            else:
                mask = (ids != 0).float().unsqueeze(-1)
                pooled = (e * mask).sum(1) / mask.sum(1)
            return self.fc(pooled)

    model = Net()
    opt = lib.optim.Adam(model.parameters(), lr=1e-2)
    watch(model, opt)
    return fit(lib, model, opt, Batches(lib, x, y, 64), nn.CrossEntropyLoss(), 150, )
