"""Figures and texts of the diagnostics guide: every finding kind, shown on a setup that has it.

The setups are the training-bug zoo of the test suite (``tests/diagnostics/zoo``): each bug
is trained under ``chainrule.diagnostics.watch`` next to its bug-free twin, and the page
shows both runs and quotes what the monitor said about the buggy one. Only ``saturation``
has no zoo case (the zoo names causes; saturation is a symptom), so it is built here.
"""
from __future__ import annotations

import math
import sys
import warnings
from pathlib import Path

import numpy as np

import chainrule as cr
from chainrule.diagnostics import KINDS
from chainrule.diagnostics.findings import detailed_steps

from common import BUG, FIXED, figure, png

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "tests" / "diagnostics"))
from zoo import BUGS, Case, Setup  # noqa: E402
from zoo import data as zoo_data  # noqa: E402
from zoo.loop import Batches, standard_train  # noqa: E402
from zoo.models import mlp  # noqa: E402


def saturated_tanh(lib, fixed: bool) -> Setup:
    """A tanh regressor whose first layer starts with weights of std 10 (Xavier in the twin)."""
    lib.manual_seed(0)
    x, y = zoo_data.regression(seed=3, n=512)
    model = mlp(lib, [8, 32, 32, 1], act="Tanh")
    if fixed:
        lib.nn.init.xavier_normal_(model.fc1.weight)
    else:
        lib.nn.init.normal_(model.fc1.weight, std=10.0)
    opt = lib.optim.SGD(model.parameters(), lr=0.05)
    loss = lib.nn.MSELoss()
    return Setup(model, opt, standard_train(model, opt, loss, Batches(lib, (x, y), 64)))


SATURATION = Case("saturated_tanh", False, "saturation", ("act1",), saturated_tanh,
                  note="first Linear initialised with std 10: most tanh outputs sit at ±1, "
                       "the hidden layer becomes a coarse binary code and the fit stays worse",
                  steps=100, bug_effect="worse")

# the case shown for each kind (the zoo may have several)
SHOWN = {"vanishing": "deep_sigmoid", "exploding": "deep_linear_exploding",
         "dead_units": "dead_relu", "saturation": "saturated_tanh",
         "non_finite": "nan_in_inputs", "no_gradient": "detached_branch",
         "learning_rate": "lr_too_high", "loss_reduction": "sum_reduction",
         "accumulating_gradients": "missing_zero_grad", "not_updated": "layer_not_in_optimizer",
         "duplicate_parameters": "duplicate_parameters", "weight_decay": "weight_decay_sgd",
         "loss_input": "double_softmax", "broadcast": "broadcast_target",
         "mode": "eval_mode_left_on", "batch_statistics": "batchnorm_batch_of_two",
         "symmetry": "zero_init", "padding": "padding_trained", "label_noise": "shuffled_labels"}


def _train(case: Case, fixed: bool):
    with warnings.catch_warnings(), np.errstate(all="ignore"):
        warnings.simplefilter("ignore")  # some bugs warn, as PyTorch does: not the point here
        setup = case.build(cr, fixed)
        monitor = cr.diagnostics.watch(setup.model, setup.optimizer)
        losses = setup.train(case.steps)
    monitor.remove()
    return losses, monitor.report()


# ------------------------------------------------------------------ panels --
def _log(ax) -> None:
    """A log y axis, where the plotted lines have something positive to show."""
    values = np.concatenate([np.asarray(line.get_ydata(), dtype=float) for line in ax.lines]
                            or [np.zeros(1)])
    if np.any(np.isfinite(values) & (values > 0)):
        ax.set_yscale("log")


def _per_step(report, metric: str, layers=None, how=max):
    """(steps, values): ``metric`` combined over ``layers`` (all that have it by default), at
    the steps where the monitor measured it (all of the first steps, then one in 8)."""
    steps, out = [], []
    for s in report.steps:
        values = [v.get(metric) for n, v in s["layers"].items() if layers is None or n in layers]
        values = [v for v in values if v is not None and math.isfinite(v)]
        if values:
            steps.append(s["step"])
            out.append(how(values))
    return steps, np.array(out, dtype=float)


def _depth(ax, bug, fixed, step: int = -1, source: str = "param") -> None:
    """Gradient RMS per layer, input to output: of the parameters, or of the layer outputs."""
    for report, colour, label in ((bug, BUG, "bug"), (fixed, FIXED, "fixed")):
        layer = detailed_steps(report)[step]["layers"]
        if source == "param":
            names = [n for n in report.order if n in report.param_count]
            rms = [layer.get(n, {}).get("grad_norm", math.nan)
                   / math.sqrt(report.param_count[n]) for n in names]
        else:
            names = [n for n in report.order if n in report.leaves
                     and "output_grad_norm" in layer.get(n, {})]
            rms = [layer[n]["output_grad_norm"] / math.sqrt(layer[n]["output_grad_size"])
                   for n in names]
        ax.plot(range(len(names)), rms, marker="o", ms=3, color=colour, label=label)
        ax.set_xticks(range(len(names)), [n or "(model)" for n in names], rotation=90,
                      fontsize=7)
    _log(ax)
    when = "first" if step == 0 else "last measured"
    what = "gradient RMS" if source == "param" else "output-gradient RMS"
    ax.set(title=f"{what} by layer ({when} step)", xlabel="layer (input → output)")


def _over_steps(ax, bug, fixed, metric, title, layers=None, how=max, log=False) -> None:
    for report, colour, label in ((bug, BUG, "bug"), (fixed, FIXED, "fixed")):
        steps, values = _per_step(report, metric, layers, how)
        if len(steps):
            ax.plot(steps, values, marker="o", ms=2.5, color=colour, label=label)
    if log:
        _log(ax)
    ax.set(title=title, xlabel="step")


def _by_layer(ax, bug, fixed, metric, title) -> None:
    names = [n for n in bug.order if n in bug.param_count]
    width = 0.4
    for k, (report, colour, label) in enumerate(((bug, BUG, "bug"), (fixed, FIXED, "fixed"))):
        values = []
        for n in names:
            series = [s["layers"].get(n, {}).get(metric) for s in report.steps]
            series = [v for v in series if v is not None and math.isfinite(v)]
            values.append(float(np.median(series)) if series else 0.0)
        ax.bar(np.arange(len(names)) + (k - 0.5) * width, values, width, color=colour,
               label=label)
    ax.set_xticks(range(len(names)), [n or "(model)" for n in names], rotation=90, fontsize=7)
    ax.set_yscale("symlog", linthresh=1e-4)
    ax.set(title=title)


def _non_finite(ax, bug, fixed) -> None:
    for report, colour, label in ((bug, BUG, "bug"), (fixed, FIXED, "fixed")):
        count = {s["step"]: 0 for s in detailed_steps(report)}
        for e in report.non_finite:
            if e["step"] in count:
                count[e["step"]] += 1
        ax.plot(list(count), list(count.values()), marker="o", ms=2.5, color=colour,
                label=label)
    ax.set(title="inf/nan sightings (layer × place) per step", xlabel="step")


def _panel(kind: str, ax, bug, fixed, case: Case) -> None:
    layers = set(case.expect_layers or ())
    update = "|Δw| / |w| per optimizer step"
    if kind == "vanishing":
        _depth(ax, bug, fixed)
    elif kind == "exploding":
        _depth(ax, bug, fixed, step=0, source="output")
    elif kind == "dead_units":
        _over_steps(ax, bug, fixed, "dead_fraction", f"dead fraction of {', '.join(layers)}",
                    layers)
    elif kind == "saturation":
        _over_steps(ax, bug, fixed, "saturated_fraction",
                    f"saturated fraction of {', '.join(layers)}", layers)
    elif kind == "non_finite":
        _non_finite(ax, bug, fixed)
    elif kind == "no_gradient":
        _by_layer(ax, bug, fixed, "grad_norm", "gradient norm by layer (0: none)")
    elif kind in ("not_updated", "duplicate_parameters"):
        _by_layer(ax, bug, fixed, "update_ratio", f"{update}, by layer")
    elif kind in ("learning_rate", "loss_reduction", "accumulating_gradients"):
        _over_steps(ax, bug, fixed, "update_ratio", f"largest {update}", log=True)
        ax.axhline(1e-3, color="grey", ls=":", lw=0.8)
    elif kind == "weight_decay":
        _over_steps(ax, bug, fixed, "weight_norm", "weight norm (sum over layers)", how=sum)
    elif kind == "mode":
        _over_steps(ax, bug, fixed, "act_std", f"std of the output of {', '.join(layers)}",
                    layers, log=True)
    elif kind == "symmetry":
        _over_steps(ax, bug, fixed, "grad_norm", "gradient norm of fc1", {"fc1"})
    else:
        _depth(ax, bug, fixed)
    ax.legend(fontsize=7)


def _loss_panel(ax, bug_losses, fixed_losses) -> None:
    for losses, colour, label in ((bug_losses, BUG, "bug"), (fixed_losses, FIXED, "fixed")):
        values = np.array(losses, dtype=float)
        ax.plot(np.where(np.isfinite(values), values, np.nan), color=colour, label=label)
        bad = np.flatnonzero(~np.isfinite(values))
        if bad.size:
            ax.axvline(bad[0], color=colour, ls="--", lw=0.8)
            ax.annotate(f"loss non-finite from step {bad[0]}", (bad[0], 0.5),
                        xycoords=("data", "axes fraction"), rotation=90, fontsize=7,
                        color=colour, ha="right")
    finite = np.array([v for v in bug_losses + fixed_losses if math.isfinite(v)])
    if finite.size and finite.min() > 0 and finite.max() / finite.min() > 50:
        ax.set_yscale("log")
    ax.set(title="training loss", xlabel="step")
    ax.legend(fontsize=7)


# ----------------------------------------------------------------- texts --
def _quote(finding) -> str:
    start = finding.evidence.get("first_step")
    layers = ", ".join(f"`{n}`" if n else "the model itself" for n in finding.layers) or "—"
    lines = [f"> **{finding.kind}** (layers: {layers}; from step {start})  ",
             f"> {finding.suggestion}"]
    consequences = finding.evidence.get("consequences")
    if consequences:
        lines.append(f">  \n> *Explains:* {'; '.join(consequences)}")
    return "\n".join(lines)


def make() -> tuple[dict[str, bytes], dict[str, str]]:
    """PNG bytes by file name, and Markdown texts by placeholder key."""
    cases = {c.name: c for c in [*BUGS, SATURATION]}
    pngs, texts = {}, {}
    shown_reports = {}
    others: dict[str, list[str]] = {k: [] for k in KINDS}
    for case in cases.values():
        if case.name in SHOWN.values():
            continue
        losses, report = _train(case, False)
        first = report.findings[0] if report.findings else None
        said = f"the monitor's first finding: **{first.kind}**" if first else "no finding"
        others.setdefault(case.expect_kind, []).append(f"- `{case.name}`: {case.note} ({said}).")
    for kind in KINDS:
        case = cases[SHOWN[kind]]
        bug_losses, bug = _train(case, False)
        fixed_losses, fixed = _train(case, True)
        shown_reports[kind] = bug
        fig, (ax_loss, ax_kind) = figure(9.5, 3.3, 2)
        _loss_panel(ax_loss, bug_losses, fixed_losses)
        _panel(kind, ax_kind, bug, fixed, case)
        fig.suptitle(f"{kind}: {case.name} (red) and its bug-free twin (blue)", fontsize=10)
        pngs[f"diagnostics/{kind}.png"] = png(fig)
        found = [f for f in bug.findings if f.kind == kind]
        said = _quote(found[0]) if found else \
            "> (the monitor did not report this kind on this run: " + bug.summary() + ")"
        text = [f"*Setup* (`{case.name}`, {case.steps} steps): {case.note}.", "",
                "*What the monitor says:*", "", said]
        if others.get(kind):
            text += ["", "*Other setups in the zoo with this bug:*", "", *others[kind]]
        texts[f"finding:{kind}"] = "\n".join(text)
    return pngs, texts
