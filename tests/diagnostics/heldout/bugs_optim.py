"""Bugs in the optimizer, the schedule and the loop (each with its fixed twin behind bug=False)."""
from __future__ import annotations

import numpy as np

from .common import Batches, blobs, bug, cnn, digits, fit, mlp, seq_sum, sequences, tokens


@bug("lr_high_adam_mlp", "learning_rate", note="Adam lr=1.0 on a digits MLP")
def lr_high_adam_mlp(lib, bug, watch):
    lib.manual_seed(0)
    x, y = digits()
    model = mlp(lib, [64, 64, 10])
    opt = lib.optim.Adam(model.parameters(), lr=1.0 if bug else 1e-3)
    watch(model, opt)
    return fit(lib, model, opt, Batches(lib, x, y, 64), lib.nn.CrossEntropyLoss(), 100)


@bug("lr_high_rmsprop_cnn", "learning_rate", note="RMSprop lr=0.3 on a digits CNN")
def lr_high_rmsprop_cnn(lib, bug, watch):
    lib.manual_seed(1)
    x, y = digits(flat=False)
    model = cnn(lib)
    opt = lib.optim.RMSprop(model.parameters(), lr=0.3 if bug else 1e-3)
    watch(model, opt)
    return fit(lib, model, opt, Batches(lib, x, y, 32), lib.nn.CrossEntropyLoss(), 80)


@bug("lr_low_adam_blobs", "learning_rate", note="Adam lr=1e-6 on an easy blobs task")
def lr_low_adam_blobs(lib, bug, watch):
    lib.manual_seed(2)
    x, y = blobs()
    model = mlp(lib, [10, 32, 4], act="tanh")
    opt = lib.optim.Adam(model.parameters(), lr=1e-6 if bug else 1e-2)
    watch(model, opt)
    return fit(lib, model, opt, Batches(lib, x, y, 32), lib.nn.CrossEntropyLoss(), 120)


@bug("lr_high_sgd_gru", "learning_rate", note="SGD+momentum lr=30 on a GRU regression")
def lr_high_sgd_gru(lib, bug, watch):
    lib.manual_seed(3)
    nn = lib.nn
    x, y = seq_sum()

    class Net(nn.Module):
        def __init__(self):
            super().__init__()
            self.gru = nn.GRU(1, 16, batch_first=True)
            self.head = nn.Linear(16, 1)

        def forward(self, x):
            out, _ = self.gru(x)
            return self.head(out[:, -1]).squeeze(1)

    model = Net()
    opt = lib.optim.SGD(model.parameters(), lr=30.0 if bug else 0.05, momentum=0.9)
    watch(model, opt)
    return fit(lib, model, opt, Batches(lib, x, y, 32), nn.MSELoss(), 100)


@bug("lr_spike_dead_relu", "learning_rate", begins=40,
     note="SGD momentum lr 0.05, one step at lr=20 (a bad resume) kills 75% of fc2's ReLUs")
def lr_spike_dead_relu(lib, bug, watch):
    lib.manual_seed(4)
    x, y = digits()
    model = mlp(lib, [64, 128, 64, 10])
    opt = lib.optim.SGD(model.parameters(), lr=0.05, momentum=0.9)
    watch(model, opt)

    def spike(step):
        for g in opt.param_groups:
            g["lr"] = 20.0 if (bug and step == 40) else 0.05

    return fit(lib, model, opt, Batches(lib, x, y, 64), lib.nn.CrossEntropyLoss(), 100,
               before_step=spike)


@bug("onecycle_max_lr_typo", "learning_rate", begins=20,
     note="OneCycleLR(max_lr=8) meant 0.08; SGD momentum on digits MLP")
def onecycle_max_lr_typo(lib, bug, watch):
    lib.manual_seed(5)
    x, y = digits()
    model = mlp(lib, [64, 64, 10])
    opt = lib.optim.SGD(model.parameters(), lr=0.01, momentum=0.9)
    sched = lib.optim.lr_scheduler.OneCycleLR(opt, max_lr=8.0 if bug else 0.08, total_steps=120)
    watch(model, opt)
    return fit(lib, model, opt, Batches(lib, x, y, 64), lib.nn.CrossEntropyLoss(), 120,
               sched=sched)


@bug("steplr_per_batch", "learning_rate", begins=20,
     note="StepLR(step_size=10, gamma=0.1) stepped per batch instead of per epoch")
def steplr_per_batch(lib, bug, watch):
    lib.manual_seed(6)
    x, y = blobs(spread=1.5)
    model = mlp(lib, [10, 32, 4])
    opt = lib.optim.SGD(model.parameters(), lr=0.1)
    sched = lib.optim.lr_scheduler.StepLR(opt, step_size=10, gamma=0.1)
    watch(model, opt)
    batches, loss_fn = Batches(lib, x, y, 32), lib.nn.CrossEntropyLoss()
    losses = []
    for step in range(150):
        xb, yb = batches()
        opt.zero_grad()
        loss = loss_fn(model(xb), yb)
        loss.backward()
        opt.step()
        if bug or (step + 1) % 32 == 0:     # an epoch is 32 batches
            sched.step()
        losses.append(float(loss.item()))
    return losses


@bug("no_zero_grad_adam", "accumulating_gradients", note="Adam on a digits MLP, zero_grad() missing")
def no_zero_grad_adam(lib, bug, watch):
    lib.manual_seed(7)
    x, y = digits()
    model = mlp(lib, [64, 48, 10])
    opt = lib.optim.Adam(model.parameters(), lr=3e-3)
    watch(model, opt)
    return fit(lib, model, opt, Batches(lib, x, y, 64), lib.nn.CrossEntropyLoss(), 100,
               zero_grad="never" if bug else "before")


@bug("no_zero_grad_clipped_gru", "accumulating_gradients",
     note="GRU regression, SGD momentum with clip_grad_norm_(1.0), zero_grad() missing")
def no_zero_grad_clipped_gru(lib, bug, watch):
    lib.manual_seed(8)
    nn = lib.nn
    x, y = seq_sum()

    class Net(nn.Module):
        def __init__(self):
            super().__init__()
            self.gru = nn.GRU(1, 16, batch_first=True)
            self.out = nn.Linear(16, 1)

        def forward(self, x):
            h, _ = self.gru(x)
            return self.out(h[:, -1]).squeeze(-1)

    model = Net()
    opt = lib.optim.SGD(model.parameters(), lr=0.05, momentum=0.9)
    watch(model, opt)
    return fit(lib, model, opt, Batches(lib, x, y, 32), nn.MSELoss(), 100, clip=1.0,
               zero_grad="never" if bug else "before")


@bug("accumulation_never_reset", "accumulating_gradients",
     note="gradient accumulation over 4 batches, but zero_grad() only once per epoch (CNN, SGD)")
def accumulation_never_reset(lib, bug, watch):
    lib.manual_seed(9)
    x, y = digits(flat=False)
    model = cnn(lib)
    opt = lib.optim.SGD(model.parameters(), lr=0.05, momentum=0.9)
    watch(model, opt)
    batches, loss_fn = Batches(lib, x, y, 16), lib.nn.CrossEntropyLoss()
    losses, accum = [], 4
    opt.zero_grad()
    for i in range(4 * 60):
        if bug and i % 100 == 0:           # the bug: reset per "epoch" only
            opt.zero_grad()
        xb, yb = batches()
        loss = loss_fn(model(xb), yb) / accum
        loss.backward()
        if (i + 1) % accum == 0:
            opt.step()
            if not bug:
                opt.zero_grad()
        losses.append(float(loss.item()) * accum)
    return losses


@bug("zero_grad_after_backward", "not_updated", also=("no_gradient",),
     note="opt.zero_grad() placed between backward() and step(): nothing is ever updated")
def zero_grad_after_backward(lib, bug, watch):
    lib.manual_seed(10)
    x, y = blobs()
    model = mlp(lib, [10, 32, 32, 4])
    opt = lib.optim.Adam(model.parameters(), lr=1e-2)
    watch(model, opt)
    return fit(lib, model, opt, Batches(lib, x, y, 64), lib.nn.CrossEntropyLoss(), 60,
               zero_grad="after_backward" if bug else "before")


@bug("optimizer_before_head_replaced", "not_updated", layers=("fc3",),
     note="optimizer built, then model.fc3 replaced by a new Linear (Adam, digits)")
def optimizer_before_head_replaced(lib, bug, watch):
    lib.manual_seed(11)
    x, y = digits()
    model = mlp(lib, [64, 64, 32, 10])
    if bug:
        opt = lib.optim.Adam(model.parameters(), lr=2e-3)
        model.fc3 = lib.nn.Linear(32, 10)
    else:
        model.fc3 = lib.nn.Linear(32, 10)
        opt = lib.optim.Adam(model.parameters(), lr=2e-3)
    watch(model, opt)
    return fit(lib, model, opt, Batches(lib, x, y, 64), lib.nn.CrossEntropyLoss(), 100)


@bug("optimizer_before_classifier_added", "not_updated", layers=("classifier", "classifier.0"),
     note="CNN trunk; optimizer built before model.classifier was attached (SGD)")
def optimizer_before_classifier_added(lib, bug, watch):
    lib.manual_seed(12)
    nn = lib.nn
    x, y = digits(flat=False)

    class Net(nn.Module):
        def __init__(self):
            super().__init__()
            self.features = nn.Sequential(nn.Conv2d(1, 8, 3, padding=1), nn.ReLU(),
                                          nn.MaxPool2d(2), nn.Conv2d(8, 16, 3, padding=1),
                                          nn.ReLU(), nn.AdaptiveAvgPool2d(1), nn.Flatten())
            self.classifier = None

        def forward(self, x):
            return self.classifier(self.features(x))

    model = Net()
    if bug:
        opt = lib.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
        model.classifier = nn.Sequential(nn.Linear(16, 10))
    else:
        model.classifier = nn.Sequential(nn.Linear(16, 10))
        opt = lib.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
    watch(model, opt)
    return fit(lib, model, opt, Batches(lib, x, y, 32), nn.CrossEntropyLoss(), 120)


@bug("frozen_by_mistake", "not_updated", layers=("fc1",), also=("no_gradient",),
     note="a freezing loop copied from a fine-tuning script freezes the random first layer")
def frozen_by_mistake(lib, bug, watch):
    lib.manual_seed(13)
    x, y = digits()
    model = mlp(lib, [64, 16, 10])
    if bug:
        for name, p in model.named_parameters():
            if name.startswith("fc1"):
                p.requires_grad = False
    opt = lib.optim.RMSprop(model.parameters(), lr=3e-3)
    watch(model, opt)
    return fit(lib, model, opt, Batches(lib, x, y, 64), lib.nn.CrossEntropyLoss(), 100)


@bug("duplicate_head_params", "duplicate_parameters", layers=("head",),
     note="SGD(list(model.parameters()) + list(model.head.parameters())) to 'boost the head'")
def duplicate_head_params(lib, bug, watch):
    import warnings
    lib.manual_seed(14)
    nn = lib.nn
    x, y = sequences()

    class Net(nn.Module):
        def __init__(self):
            super().__init__()
            self.lstm = nn.LSTM(1, 16, batch_first=True)
            self.head = nn.Linear(16, 3)

        def forward(self, x):
            h, _ = self.lstm(x)
            return self.head(h[:, -1])

    model = Net()
    params = list(model.parameters())
    if bug:
        params += list(model.head.parameters())
    with warnings.catch_warnings():        # PyTorch warns about the duplicates; that's the bug
        warnings.simplefilter("ignore")
        opt = lib.optim.Adam(params, lr=1e-2)
    watch(model, opt)
    return fit(lib, model, opt, Batches(lib, x, y, 32), nn.CrossEntropyLoss(), 100)


@bug("weight_decay_sgd_1", "weight_decay", note="SGD(lr=0.1, weight_decay=1.0) on digits MLP")
def weight_decay_sgd_1(lib, bug, watch):
    lib.manual_seed(15)
    x, y = digits()
    model = mlp(lib, [64, 64, 10])
    opt = lib.optim.SGD(model.parameters(), lr=0.1, weight_decay=1.0 if bug else 1e-4)
    watch(model, opt)
    return fit(lib, model, opt, Batches(lib, x, y, 64), lib.nn.CrossEntropyLoss(), 100)


@bug("weight_decay_adamw_10", "weight_decay",
     note="AdamW(lr=1e-2, weight_decay=10) (meant 1e-2) on a GroupNorm CNN")
def weight_decay_adamw_10(lib, bug, watch):
    lib.manual_seed(16)
    x, y = digits(flat=False)
    model = cnn(lib, norm="gn")
    opt = lib.optim.AdamW(model.parameters(), lr=1e-2, weight_decay=10.0 if bug else 1e-2)
    watch(model, opt)
    return fit(lib, model, opt, Batches(lib, x, y, 32), lib.nn.CrossEntropyLoss(), 100)


@bug("sum_reduction_batch512", "loss_reduction",
     note="CrossEntropyLoss(reduction='sum') at batch 512 with SGD lr=0.05")
def sum_reduction_batch512(lib, bug, watch):
    lib.manual_seed(17)
    x, y = digits()
    model = mlp(lib, [64, 64, 10])
    opt = lib.optim.SGD(model.parameters(), lr=0.05, momentum=0.9)
    watch(model, opt)
    loss_fn = lib.nn.CrossEntropyLoss(reduction="sum" if bug else "mean")
    return [v / (512 if bug else 1) for v in
            fit(lib, model, opt, Batches(lib, x, y, 512), loss_fn, 60)]


@bug("sum_reduction_autoencoder", "loss_reduction", learn=0.6,
     note="autoencoder, F.mse_loss(..., reduction='sum') at batch 256, SGD lr=0.5")
def sum_reduction_autoencoder(lib, bug, watch):
    lib.manual_seed(18)
    nn, F = lib.nn, lib.nn.functional
    x, _ = digits()
    model = nn.Sequential(nn.Linear(64, 32), nn.ReLU(), nn.Linear(32, 8), nn.ReLU(),
                          nn.Linear(8, 32), nn.ReLU(), nn.Linear(32, 64))
    opt = lib.optim.SGD(model.parameters(), lr=0.5, momentum=0.9)
    watch(model, opt)
    scale = 256 * 64
    loss_fn = ((lambda o, t: F.mse_loss(o, t, reduction="sum")) if bug else
               (lambda o, t: F.mse_loss(o, t)))
    return [v / (scale if bug else 1) for v in
            fit(lib, model, opt, Batches(lib, x, x, 256), loss_fn, 100)]


def _token_transformer(lib):
    nn = lib.nn

    class Net(nn.Module):
        def __init__(self):
            super().__init__()
            self.emb = nn.Embedding(20, 32)
            self.pos = nn.Parameter(lib.zeros(1, 10, 32))
            self.encoder = nn.TransformerEncoderLayer(32, 4, dim_feedforward=64, dropout=0.0,
                                                      batch_first=True)
            self.head = nn.Linear(32, 2)

        def forward(self, ids):
            return self.head(self.encoder(self.emb(ids) + self.pos).mean(1))

    return Net()


@bug("transformer_adam_lr_high_no_warmup", "learning_rate",
     note="1-layer transformer, Adam lr=0.3 from step 0 without warmup (fix: 3e-3)")
def transformer_adam_lr_high_no_warmup(lib, bug, watch):
    lib.manual_seed(43)
    x, y = tokens()
    model = _token_transformer(lib)
    opt = lib.optim.Adam(model.parameters(), lr=0.3 if bug else 3e-3)
    watch(model, opt)
    return fit(lib, model, opt, Batches(lib, x, y, 32), lib.nn.CrossEntropyLoss(), 120)


@bug("optimizer_given_encoder_only", "not_updated", layers=("head",),
     note="AdamW(model.encoder.parameters()) -- the transformer's head is left out")
def optimizer_given_encoder_only(lib, bug, watch):
    lib.manual_seed(44)
    x, y = tokens(seed=2)
    model = _token_transformer(lib)
    params = (list(model.encoder.parameters()) + list(model.emb.parameters()) + [model.pos]
              if bug else model.parameters())
    opt = lib.optim.AdamW(params, lr=3e-3)
    watch(model, opt)
    return fit(lib, model, opt, Batches(lib, x, y, 32), lib.nn.CrossEntropyLoss(), 120)


@bug("adagrad_lr_too_low", "learning_rate",
     note="Conv1d sequence classifier, Adagrad lr=1e-5 (fix: 5e-2)")
def adagrad_lr_too_low(lib, bug, watch):
    lib.manual_seed(45)
    nn = lib.nn
    x, y = sequences(length=16, seed=4)
    x = np.ascontiguousarray(x.transpose(0, 2, 1))
    model = nn.Sequential(nn.Conv1d(1, 16, 5, padding=2), nn.ReLU(), nn.AdaptiveAvgPool1d(1),
                          nn.Flatten(), nn.Linear(16, 3))
    opt = lib.optim.Adagrad(model.parameters(), lr=1e-5 if bug else 5e-2)
    watch(model, opt)
    return fit(lib, model, opt, Batches(lib, x, y, 32), nn.CrossEntropyLoss(), 100)
