"""What the ``chainrule`` subcommands do: build data, model and optimizer from the
arguments, train with the gradient-flow monitor on, and write the run folder."""
from __future__ import annotations

import json
import os
import sys
import time
import warnings
from types import SimpleNamespace

from .distributed import start_if_launched
from .errors import UserError

DEFAULT_EPOCHS = {"digits": 30, "mnist": 3, "fashion-mnist": 3, "moons": 60, "spirals": 150}


# ------------------------------------------------------------------- data --
def load_data(name: str, data_dir: str | None, seed: int):
    """(train set, test set, facts about the inputs) for a data-set name."""
    from .. import datasets
    if name == "digits":
        train, test = datasets.digits("train", seed=seed), datasets.digits("test", seed=seed)
    elif name in ("mnist", "fashion-mnist"):
        if not data_dir:
            raise UserError(f"--data {name} needs --data-dir FOLDER holding the IDX files "
                            "(train-images-idx3-ubyte[.gz] …)")
        cls = datasets.MNIST if name == "mnist" else datasets.FashionMNIST
        try:
            train, test = cls(data_dir, train=True), cls(data_dir, train=False)
        except (FileNotFoundError, OSError, ValueError) as e:
            raise UserError(f"cannot read {name} from {data_dir}: {e}") from None
    elif name == "moons":
        full = datasets.moons(1000, noise=0.15, seed=seed)
        train, test = _split(full, 0.2, seed)
    elif name == "spirals":
        full = datasets.spirals(900, classes=3, noise=0.15, seed=seed)
        train, test = _split(full, 0.2, seed)
    else:
        raise UserError(f"unknown data set {name!r}")
    x, y = train[0]
    shape = tuple(x.shape)
    classes = int(max(int(_labels(train).max()), int(_labels(test).max())) + 1)
    facts = SimpleNamespace(shape=shape, classes=classes,
                            in_features=int(_prod(shape)),
                            in_channels=shape[0] if len(shape) == 3 else 1,
                            image_size=shape[-1] if len(shape) == 3 else 0)
    return train, test, facts


def _labels(ds):
    import numpy as np
    tensors = getattr(ds, "tensors", None)
    if tensors is not None:
        return tensors[1].numpy()
    return np.array([int(ds[i][1]) for i in range(len(ds))])


def _prod(shape) -> int:
    n = 1
    for s in shape:
        n *= s
    return n


def _split(dataset, test_fraction: float, seed: int):
    from ..random import Generator
    from ..utils.data import random_split
    n_test = int(round(len(dataset) * test_fraction))
    return random_split(dataset, [len(dataset) - n_test, n_test],
                        generator=Generator().manual_seed(seed))


# --------------------------------------------------------- model & optim --
def build_optimizer(name: str, params, lr: float | None):
    from .. import optim
    if name == "sgd":
        return optim.SGD(params, lr=lr or 0.1)
    if name == "momentum":
        return optim.SGD(params, lr=lr or 0.05, momentum=0.9, nesterov=True)
    if name == "adam":
        return optim.Adam(params, lr=lr or 3e-3)
    if name == "adamw":
        return optim.AdamW(params, lr=lr or 2e-3, weight_decay=1e-2)
    if name == "rmsprop":
        return optim.RMSprop(params, lr=lr or 1e-3)
    raise UserError(f"unknown optimizer {name!r}")


def build_scheduler(name: str, optimizer, epochs: int, steps_per_epoch: int):
    from ..optim import lr_scheduler
    if name == "none":
        return None
    if name == "step":
        return lr_scheduler.StepLR(optimizer, step_size=max(1, epochs // 3), gamma=0.3)
    if name == "cosine":
        return lr_scheduler.CosineAnnealingLR(optimizer, T_max=epochs)
    if name == "onecycle":
        return lr_scheduler.OneCycleLR(optimizer, max_lr=optimizer.param_groups[0]["lr"],
                                       total_steps=epochs * steps_per_epoch)
    raise UserError(f"unknown schedule {name!r}")


# ------------------------------------------------------------------ train --
# what a resumed run takes from its config.json (the model and data must match the checkpoint)
RUN_SETTINGS = ("data", "data_dir", "model", "depth", "width", "activation", "no_residual", "init",
                "optimizer", "lr", "schedule", "batch_size", "seed")


def _resolve_resume(path: str | None) -> tuple[str | None, str | None]:
    """(checkpoint file, its run folder or None) for ``--resume``."""
    if path is None:
        return None, None
    if os.path.isdir(path):
        candidate = os.path.join(path, "checkpoints", "last.safetensors")
        if not os.path.exists(candidate):
            raise UserError(f"--resume {path}: no checkpoints/last.safetensors in that folder")
        return candidate, path
    if not os.path.exists(path):
        raise UserError(f"--resume {path}: no such file or folder")
    folder = os.path.dirname(os.path.abspath(path))
    if os.path.basename(folder) == "checkpoints":
        return path, os.path.dirname(folder)
    return path, None  # a checkpoint outside a run folder: the new run gets its own folder


def _load_checkpoint(path: str) -> dict:
    from ..errors import ChainruleError
    from ..serialization import load
    try:
        ckpt = load(path)
    except (ChainruleError, OSError) as e:
        raise UserError(f"--resume {path}: cannot read the checkpoint: {e}") from None
    if not isinstance(ckpt, dict) or "model" not in ckpt:
        raise UserError(f"--resume {path}: not a training checkpoint (no model state); it "
                        "should come from a run's checkpoints/ folder")
    return ckpt


def _option(key: str) -> str:
    return "--" + key.replace("_", "-")


def _check_config_value(action, key: str, value, path: str) -> None:
    """A config.json value must be one the command line (``action``) itself would accept."""
    import argparse
    if isinstance(action, argparse._StoreTrueAction):
        ok = isinstance(value, bool)
    elif value is None:
        ok = action.default is None
    elif action.choices is not None:
        ok = value in action.choices
    elif action.type is None:
        ok = isinstance(value, str)
    else:
        ok = isinstance(value, (int, float)) and not isinstance(value, bool)
        try:  # the option's own parser: an int option refuses "7.5", a positive one "-1"
            ok = ok and action.type(str(value)) == value
        except (argparse.ArgumentTypeError, ValueError, TypeError):
            ok = False
    if not ok:
        raise UserError(f"{path} is damaged: {key} is {value!r:.60}, which {_option(key)} "
                        "does not accept")


def _apply_run_config(args, run_dir: str, epochs_given: int | None) -> None:
    """On resume, the run's own settings win; only --epochs (and --schedule none) may change.
    An option that contradicts the run's setting is refused, not silently replaced."""
    path = os.path.join(run_dir, "config.json")
    try:
        with open(path) as f:
            config = json.load(f)
    except OSError as e:
        raise UserError(f"--resume {run_dir}: cannot read the run's config.json ({e.strerror})"
                        ) from None
    except ValueError as e:
        raise UserError(f"{path} is damaged ({e}); it is not JSON") from None
    if not isinstance(config, dict):
        raise UserError(f"{path} is damaged: expected a JSON object, got "
                        f"{type(config).__name__}")
    missing = [k for k in RUN_SETTINGS + ("epochs",) if k not in config]
    if missing:
        raise UserError(f"{path} is damaged: it lacks {', '.join(missing)}")
    options = args.option_specs  # the train options' types and choices (set by the cli)
    for key in RUN_SETTINGS + ("epochs",):
        _check_config_value(options[key], key, config[key], path)
    given = getattr(args, "given", set())
    for key in RUN_SETTINGS:
        value = getattr(args, key, None)
        if key in given and key != "data_dir" and value != config[key] and \
                not (key == "schedule" and value == "none"):
            shown = "" if isinstance(value, bool) else f" {value}"
            run_value = "the default" if config[key] is None else repr(config[key])
            raise UserError(f"--resume {run_dir}: {_option(key)}{shown} contradicts the run's "
                            f"{key} ({run_value}); leave it out to resume with the run's settings")
    schedule_given = getattr(args, "schedule", None)
    for key in RUN_SETTINGS:
        if key == "data_dir" and "data_dir" in given:
            continue  # the data may have moved; its shapes are checked against the checkpoint
        setattr(args, key, config[key])
    if schedule_given == "none":
        args.schedule = "none"
    old_epochs = config["epochs"]
    if epochs_given is not None and epochs_given != old_epochs and args.schedule != "none":
        raise UserError(f"this run's learning-rate schedule ({args.schedule!r}) was planned for "
                        f"{old_epochs} epochs; resume with --epochs {old_epochs}, or add "
                        f"--schedule none to continue at the current learning rate")
    args.epochs = epochs_given or old_epochs


def _new_run_dir(runs_dir: str, name: str) -> str:
    """A folder that does not exist yet: ``name``, else ``name-2``, ``name-3`` …"""
    path = os.path.join(runs_dir, name)
    n = 2
    while os.path.exists(path):
        path = os.path.join(runs_dir, f"{name}-{n}")
        n += 1
    return path


def run_training(args, out=None) -> dict:
    """Train as ``args`` say; returns a dict with the run folder, history, accuracy, report."""
    out = out or sys.stdout
    import chainrule as cr
    from .. import diagnostics, models
    from ..utils.data import DataLoader
    from .callbacks import CSVLogger, ModelCheckpoint, SampledWatch
    from ..compiler.api import CompileWarning
    from .loop import evaluate, fit

    resume, resume_dir = _resolve_resume(getattr(args, "resume", None))
    checkpoint = None
    if resume:
        checkpoint = _load_checkpoint(resume)
        if resume_dir:
            _apply_run_config(args, resume_dir, args.epochs)
    if getattr(args, "schedule", None) is None:
        args.schedule = "cosine"
    seed = args.seed % 2 ** 64  # torch.manual_seed(-1) seeds with 2**64 - 1, and so do we
    cr.manual_seed(seed)
    train, test, facts = load_data(args.data, getattr(args, "data_dir", None), seed)
    is_image = len(facts.shape) == 3
    model_name = args.model if (is_image or args.model != "cnn") else "mlp"
    depth = args.depth or (50 if model_name == "resnet" else 3)
    width = args.width or (64 if model_name == "resnet" else 128)
    try:
        model = models.build(model_name, in_features=facts.in_features,
                             in_channels=facts.in_channels, image_size=facts.image_size,
                             classes=facts.classes, depth=depth, width=width,
                             activation=args.activation, init=args.init,
                             residual=not args.no_residual)
    except ValueError as e:
        raise UserError(str(e)) from None
    if args.device != "cpu":
        try:
            model.to(args.device)
        except Exception as e:  # noqa: BLE001 - any failure to reach the device is the user's to fix
            raise UserError(f"cannot use device {args.device!r}: {e}") from None
    epochs = args.epochs or DEFAULT_EPOCHS[args.data]
    # under mpiexec -n N: rank r trains on shard r (batch_size rows a rank), rank 0 reports
    rank, ranks = start_if_launched()
    if ranks > 1:
        from ..nn.parallel import DistributedDataParallel
        from ..utils.data import DistributedSampler
        loader = DataLoader(train, batch_size=args.batch_size,
                            sampler=DistributedSampler(train, ranks, rank, shuffle=True,
                                                       seed=seed),
                            generator=cr.Generator().manual_seed(seed))
        inner, model = model, DistributedDataParallel(model)
        if rank != 0:
            import io
            out = io.StringIO()  # the other ranks print nothing
    else:
        loader = DataLoader(train, batch_size=args.batch_size, shuffle=True,
                            generator=cr.Generator().manual_seed(seed))
        inner = model
    test_loader = DataLoader(test, batch_size=256)
    optimizer = build_optimizer(args.optimizer, model.parameters(), args.lr)
    scheduler = build_scheduler(args.schedule, optimizer, epochs, len(loader))
    if checkpoint is not None:
        from .validate import CheckpointError, check_checkpoint
        if scheduler is None:
            checkpoint.pop("scheduler", None)
        try:  # the whole training state, before anything is written or stepped
            check_checkpoint(checkpoint, model, optimizer, scheduler, len(loader))
        except CheckpointError as e:
            raise UserError(f"--resume {resume}: the checkpoint does not fit this run: {e}"
                            ) from None

    if ranks > 1:  # one run folder: rank 0 names it, the others only read that name
        run_dir = _rank0_run_dir(args, resume_dir, model_name) if rank == 0 else None
        from .. import distributed as dist
        box = [run_dir]
        dist.broadcast_object_list(box, src=0)
        run_dir = box[0]
    elif resume_dir and not args.name:
        run_dir = resume_dir
    elif args.name:
        run_dir = os.path.join(args.runs_dir, args.name)  # the user's choice, reused as asked
    else:  # a fresh folder: runs started in the same second must not share one
        run_dir = _new_run_dir(args.runs_dir, f"{args.data}-{model_name}-{time.strftime('%Y%m%d-%H%M%S')}")
    try:
        if rank != 0:
            raise _NotRank0
        os.makedirs(run_dir, exist_ok=True)
        config = {k: v for k, v in vars(args).items() if k not in ("func", "given")}
        config.update(model=model_name, depth=depth, width=width, epochs=epochs, ranks=ranks)
        tmp = os.path.join(run_dir, "config.json.tmp")
        with open(tmp, "w") as f:
            json.dump(config, f, indent=2, default=str)
        os.replace(tmp, os.path.join(run_dir, "config.json"))
    except _NotRank0:
        pass
    except OSError as e:
        raise UserError(f"cannot write the run folder {run_dir}: {e}") from None

    monitor = diagnostics.watch(inner, optimizer)
    quiet = getattr(args, "quiet", False)
    print(f"training {model_name} ({sum(p.numel() for p in model.parameters()):,} parameters) on "
          f"{args.data} ({len(train)} train / {len(test)} test), {epochs} epochs → {run_dir}",
          file=out)
    callbacks = [ModelCheckpoint(os.path.join(run_dir, "checkpoints"), monitor="val_accuracy",
                                 mode="max"),
                 CSVLogger(os.path.join(run_dir, "metrics.csv"))] if rank == 0 else []
    compiled = bool(getattr(args, "compile", False))
    if compiled:  # the monitor watches some steps (eagerly); the others are replayed
        callbacks.append(SampledWatch(monitor))
    with warnings.catch_warnings():
        if compiled:  # (the watched steps run eagerly by design: not worth a warning)
            warnings.filterwarnings("ignore", message=r".*(hook|observer).* ran: user Python",
                                    category=CompileWarning)
        history = fit(model, cr.nn.CrossEntropyLoss(), optimizer, loader, val_data=test_loader,
                      epochs=epochs, scheduler=scheduler, callbacks=callbacks,
                      progress=False if (quiet or rank != 0) else None, resume_from=checkpoint,
                      log_stream=None if (quiet or rank != 0) else out,
                      precision=getattr(args, "precision", "fp32"),
                      device=None if args.device == "cpu" else args.device, compile=compiled)
    monitor.remove()
    report = monitor.report()
    if ranks > 1:  # each rank's own-shard gradient statistics, into rank 0's report
        cr.distributed.gather_grad_stats(report)
    test_metrics = evaluate(model, cr.nn.CrossEntropyLoss(), test_loader,
                            None if args.device == "cpu" else args.device,
                            precision=getattr(args, "precision", "fp32"))
    if rank == 0:
        save_diagnostics(run_dir, report, history)
    return {"run_dir": run_dir, "history": history, "test": test_metrics, "report": report,
            "model": model, "rank": rank}


class _NotRank0(Exception):
    """Ranks other than 0 write nothing (raised to skip the run folder's set-up)."""


def _rank0_run_dir(args, resume_dir: str | None, model_name: str) -> str:
    if resume_dir and not args.name:
        return resume_dir
    if args.name:
        return os.path.join(args.runs_dir, args.name)
    return _new_run_dir(args.runs_dir, f"{args.data}-{model_name}-{time.strftime('%Y%m%d-%H%M%S')}")


def save_diagnostics(run_dir: str, report, history) -> str:
    """Write the monitor's numbers and the history as JSON (what ``chainrule report`` reads)."""
    return write_diagnostics(run_dir, report, [dict(e) for e in history.epochs])


def write_diagnostics(run_dir: str, report, history: list[dict], **extra) -> str:
    """``diagnostics.json`` from a report and per-epoch (or per-step) rows, atomically;
    ``extra`` keys join it (``x_label="step"`` for rows by step)."""
    path = os.path.join(run_dir, "diagnostics.json")
    data = report.to_dict()
    data.update(param_count=report.param_count, leaves=report.leaves, kinds=report.kinds,
                history=history, **extra)
    tmp = path + ".tmp"
    with open(tmp, "w") as f:
        json.dump(data, f, default=_json_default)
    os.replace(tmp, path)
    return path


def _json_default(value):
    import numpy as np
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, np.ndarray):
        return value.tolist()
    return str(value)


def train_command(args) -> int:
    result = run_training(args)
    if result["rank"] != 0:  # rank 0 alone prints and writes the report
        return 0
    acc = result["test"].get("accuracy")
    print(f"test accuracy: {acc:.2%}" if acc is not None else
          f"test loss: {result['test']['loss']:.4f}")
    print(result["report"].summary())
    if not args.no_report:
        from .report import build_report
        path = build_report(result["run_dir"])
        print(f"report: {path}")
    return 0


def demo_vanishing_command(args) -> int:
    """Train a deep sigmoid MLP and a ReLU + residual + He-init MLP of the same depth."""
    from .report import build_comparison
    runs = {}
    common = dict(data="digits", data_dir=None, optimizer="adam", lr=1e-3, schedule="none",
                  batch_size=32, epochs=args.epochs, seed=args.seed, device="cpu",
                  runs_dir=args.runs_dir, resume=None, no_report=True, quiet=args.quiet,
                  depth=args.depth, width=64)
    variants = {
        "sigmoid": dict(model="mlp", activation="sigmoid", init="default", no_residual=True),
        "relu-residual-he": dict(model="resnet", activation="relu", init="he", no_residual=False),
    }
    for label, extra in variants.items():
        ns = SimpleNamespace(**common, **extra, name=f"vanishing-{label}")
        print(f"== {label}: depth {args.depth}")
        result = run_training(ns)
        runs[label] = result
        acc = result["test"].get("accuracy", float("nan"))
        print(f"   test accuracy {acc:.2%}")
        print("   " + result["report"].summary().replace("\n", "\n   "))
    path = build_comparison({k: v["run_dir"] for k, v in runs.items()},
                            os.path.join(args.runs_dir, "vanishing-report.html"))
    print(f"comparison report: {path}")
    return 0


def report_command(args) -> int:
    from .report import build_report
    if not os.path.exists(os.path.join(args.run_dir, "diagnostics.json")):
        raise UserError(f"{args.run_dir} is not a run folder (no diagnostics.json)")
    try:
        print(build_report(args.run_dir))
    except (ValueError, KeyError, TypeError, AttributeError) as e:
        raise UserError(f"{args.run_dir}/diagnostics.json is damaged ({type(e).__name__}: {e}); "
                        "run the training again to rebuild it") from None
    return 0


def explain_command(args) -> int:
    """The chain-rule trace of micrograd's example expression."""
    import chainrule as cr
    from ..diagnostics import explain
    a = cr.tensor(-4.0, dtype=cr.float64, requires_grad=True)
    b = cr.tensor(2.0, dtype=cr.float64, requires_grad=True)
    c = a + b
    d = a * b + b ** 3
    e = (c - d).relu() + d.tanh()
    print("e = relu((a + b) - (a*b + b**3)) + tanh(a*b + b**3),  a = -4, b = 2\n")
    explain(e, {"a": a, "b": b, "c": c, "d": d, "e": e})
    return 0
