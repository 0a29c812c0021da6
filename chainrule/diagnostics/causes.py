"""Causes of training failures, judged over the whole run, and what they explain.

:mod:`findings` names *symptoms* (vanishing, exploding, dead units, saturation) from
the last few steps. The rules here name *causes* from events over the whole run:
the learning rate, the optimizer's parameters, what was fed to the loss, modes and
structure. When a cause is found, the symptoms it produces are not reported as
findings of their own (advice such as "use ReLU" would point the wrong way); they
are listed in the cause's evidence as ``consequences``.

Each rule is one function returning a list of :class:`Finding`; ``evidence`` holds
the numbers and the step where the problem began (``first_step``). The optimizer's
rules (learning rate, gradients not cleared, weight decay …) are in ``causes_optim.py``,
imported from there.
"""
from __future__ import annotations

import math
import statistics

from .causes_optim import (_accumulating, _bad_input, _cleared, _duplicates, _exploding_at_start,
                           _learning_rate, _not_updated, _too_high, _update_p90, _weight_decay)
from .findings import (Finding, Thresholds, _layers_with, _losses, _sci, depth_ratios,  # noqa: F401
                       detailed_steps, find, show)

# kinds in the order they are reported (a cause first, its symptoms after)
CAUSE_KINDS = ("learning_rate", "loss_reduction", "accumulating_gradients", "not_updated",
               "duplicate_parameters", "weight_decay", "loss_input", "broadcast", "mode",
               "batch_statistics", "symmetry", "padding", "label_noise")
SYMPTOMS = ("vanishing", "exploding", "dead_units", "saturation")


# ------------------------------------------------------------------------ loss --
def _calls(report) -> list[tuple[int, dict]]:
    return [(s["step"], s["loss_call"]) for s in report.steps if s.get("loss_call")]


def _mostly(calls, key) -> bool:
    hits = [c for _, c in calls if key in c]
    return len(hits) >= 3 and sum(bool(c[key]) for c in hits) >= 0.8 * len(hits)


def _loss_input(report, th: Thresholds) -> list[Finding]:
    calls = _calls(report)
    out = []
    for fn in ("cross_entropy", "nll_loss", "binary_cross_entropy_with_logits"):
        mine = [(st, c) for st, c in calls if c["fn"] == fn]
        if not mine:
            continue
        layer = mine[-1][1].get("input_layer")
        layers = [layer] if layer else []
        where = f" (the output of layer {show(layer)})" if layer else ""
        first = mine[0][0]
        if fn == "cross_entropy" and _mostly(mine, "input_probabilities"):
            out.append(Finding("loss_input", layers, {"loss": fn, "first_step": first},
                               f"cross_entropy receives probabilities{where}: every row is in "
                               f"[0, 1] and sums to 1, but cross_entropy applies log-softmax "
                               f"itself. Softmax twice squashes the gradient; feed it the raw "
                               f"logits (remove the final Softmax)."))
        elif fn == "nll_loss" and _mostly(mine, "input_probabilities"):
            out.append(Finding("loss_input", layers, {"loss": fn, "first_step": first},
                               f"nll_loss receives probabilities{where}, but it expects "
                               f"log-probabilities: use log_softmax instead of softmax (or "
                               f"cross_entropy on the logits)."))
        elif fn == "nll_loss" and len(mine) >= 3 and \
                not any(c.get("input_log_probabilities") for _, c in mine):
            out.append(Finding("loss_input", layers, {"loss": fn, "first_step": first},
                               f"nll_loss receives raw scores{where}, not log-probabilities "
                               f"(their log-sum-exp is not 0): the loss can fall without bound. "
                               f"Apply log_softmax first, or use cross_entropy."))
        elif fn == "binary_cross_entropy_with_logits" and _mostly(mine, "input_unit") and \
                (report.kinds.get(layer) == "sigmoid" or len(mine) >= 10):
            out.append(Finding("loss_input", layers, {"loss": fn, "first_step": first},
                               f"binary_cross_entropy_with_logits receives values in [0, 1]"
                               f"{where}: a sigmoid output, but the loss applies the sigmoid "
                               f"itself. Remove the final Sigmoid (or use BCELoss)."))
    regression = [(st, c) for st, c in calls if c.get("integer_targets")]
    if len(regression) >= 3 and len(regression) >= 0.8 * len(calls):
        c = regression[-1][1]
        out.append(Finding("loss_input", [], {"loss": c["fn"], "distinct_targets":
                                              c.get("distinct_targets"),
                                              "first_step": regression[0][0]},
                           f"{c['fn']} regresses onto {c.get('distinct_targets')} integer "
                           f"values, one per example: class labels treated as numbers (class 3 "
                           f"is not 'between' 2 and 4). For classes, output one logit per class "
                           f"and use cross_entropy."))
    return out


def _broadcast(report) -> list[Finding]:
    for step, c in _calls(report):
        a, b = c.get("input_shape"), c.get("target_shape")
        if a is None or b is None or tuple(a) == tuple(b) or c["fn"] in ("cross_entropy",
                                                                          "nll_loss"):
            continue
        layer = c.get("input_layer")
        return [Finding("broadcast", [layer] if layer else [],
                        {"input_shape": list(a), "target_shape": list(b), "first_step": step,
                         "loss": c["fn"]},
                        f"{c['fn']} compares a prediction of shape {tuple(a)} with a target of "
                        f"shape {tuple(b)}: they broadcast to a larger shape, so every "
                        f"prediction is compared with every target. Make the shapes equal "
                        f"(e.g. output.squeeze(-1) or target.unsqueeze(-1)).")]
    return []


def _label_noise(report, th: Thresholds) -> list[Finding]:
    calls = _calls(report)
    if not calls:
        return []
    c = calls[-1][1]
    if c["fn"] in ("cross_entropy", "nll_loss") and c.get("classes", 0) >= 2:
        chance, what = math.log(c["classes"]), f"ln({c['classes']}) classes"
    elif c["fn"] in ("binary_cross_entropy", "binary_cross_entropy_with_logits"):
        chance, what = math.log(2.0), "ln 2"
    else:
        return []
    if c.get("reduction") == "sum":
        chance *= c.get("rows", c.get("batch", 1))
    elif c.get("reduction") not in ("mean", None):
        return []
    losses = [v for _, v in _losses(report.steps) if math.isfinite(v)]
    if len(losses) < 20:
        return []
    quarter = max(len(losses) // 4, 5)
    head, tail = losses[:quarter], losses[-quarter:]
    level = sum(tail) / len(tail)
    if level < th.chance_fraction * chance or level < 0.9 * sum(head) / len(head):
        return []  # below chance, or still falling
    slow = _update_p90(report)
    if slow is not None and slow < 10 * th.lr_low_update:
        # stuck at chance with tiny updates: the step size, not the labels
        return [Finding("learning_rate", [], {"update_to_weight_p90": slow, "loss_tail": level,
                                              "chance": chance,
                                              "first_step": report.steps[0]["step"]},
                        f"the learning rate is too low: the loss stays at chance level "
                        f"({level:.3g} vs {chance:.3g}) while each step changes the weights "
                        f"by at most {_sci(slow)} of their size (healthy is about 1e-3). Raise "
                        f"the learning rate (try 10-100x).")]
    return [Finding("label_noise", [], {"loss_tail": level, "chance": chance,
                                        "first_step": report.steps[0]["step"]},
                    f"the training loss stays at chance level ({level:.3g} vs {what} = "
                    f"{chance:.3g}) over {len(losses)} steps while the gradients are healthy: "
                    f"the model finds no relation between inputs and labels. Check that labels "
                    f"stay aligned with their inputs (shuffled separately? wrong column?) and "
                    f"that the model can overfit one fixed batch.")]


# ----------------------------------------------------------- modes, structure --
def _mode(report) -> list[Finding]:
    hits = [(s["step"], s["eval_mode"]) for s in report.steps if s.get("eval_mode")]
    if not hits:
        return []
    layers = list(dict.fromkeys(n for _, names in hits for n in names))
    return [Finding("mode", layers, {"first_step": hits[0][0], "steps": len(hits)},
                    f"the model was trained in evaluation mode (model.training is False from "
                    f"step {hits[0][0]}, {len(hits)} steps): "
                    f"{', '.join(show(n) for n in layers[:4])} behave as at inference (no "
                    f"dropout, frozen batch statistics). Call model.train() before training "
                    f"(and model.eval() only for evaluation).")]


def _batch_statistics(report, th: Thresholds) -> list[Finding]:
    small = {}
    for name, values in _layers_with(report.steps, "values_per_channel").items():
        few = [v for _, v in values if v < th.min_channel_values]
        if len(few) >= max(1, len(values) // 2):
            small[name] = min(few)
    if not small:
        return []
    worst = min(small, key=small.get)
    return [Finding("batch_statistics", list(small), {"values_per_channel": small,
                                                      "first_step": report.steps[0]["step"]},
                    f"BatchNorm layer {show(worst)} estimates each channel's mean and variance "
                    f"from {small[worst]} value(s) per step: the statistics are noise (at 1 "
                    f"value the output is 0). Use a larger batch, or GroupNorm/LayerNorm, which "
                    f"do not depend on the batch.")]


def _symmetry(report, th: Thresholds) -> list[Finding]:
    steps = detailed_steps(report)
    if len(steps) < 3:
        return []
    last = steps[-1]["layers"]
    first = steps[0]["layers"]
    layers = [n for n in report.order if last.get(n, {}).get("identical_rows")
              and first.get(n, {}).get("identical_rows")]
    if not layers:
        return []
    return [Finding("symmetry", layers, {"first_step": report.steps[0]["step"],
                                         "steps": len(report.steps)},
                    f"every unit of layer {show(layers[0])} has the same weights, from the first "
                    f"step to the last ({len(report.steps)} steps): a zero or constant start "
                    f"makes all units compute the same thing and get the same gradient, so "
                    f"they never differ. Initialise weights randomly (the layer's default, or "
                    f"nn.init.kaiming_normal_/xavier_uniform_).")]


def _padding(report, th: Thresholds) -> list[Finding]:
    out = []
    for name, values in _layers_with(report.steps, "padding_row_change").items():
        moved = [(st, v) for st, v in values if v > 0]
        if moved:
            out.append(Finding("padding", [name], {"first_step": moved[0][0],
                                                   "row_change": moved[-1][1]},
                               f"the padding row of Embedding {show(name)} changed from step "
                               f"{moved[0][0]} on, although padding_idx excludes it from the "
                               f"gradient: weight decay or a manual update moves it. Exclude the "
                               f"embedding from weight decay, or re-zero the row after each "
                               f"step."))
    seen = _layers_with(report.steps, "pad_token")
    for name, values in seen.items():
        if len(values) < max(3, len(detailed_steps(report)) // 2):
            continue
        token = values[-1][1]
        frac = [l["pad_fraction"] for s in report.steps
                for n, l in s["layers"].items() if n == name and "pad_fraction" in l]
        out.append(Finding("padding", [name], {"pad_token": token, "first_step": values[0][0],
                                               "pad_fraction": statistics.median(frac)},
                           f"token {token} fills the end of the sequences fed to Embedding "
                           f"{show(name)} ({statistics.median(frac):.0%} of the tokens): padding, "
                           f"but the layer has no padding_idx, so the padding vector is trained "
                           f"and every padded position feeds the model. Set "
                           f"padding_idx={token} and mask padded positions in the loss and "
                           f"pooling."))
    return out


def _through_time(report, th: Thresholds) -> list[Finding]:
    out = []
    window = report.steps  # the whole run: an explosion ends in inf/nan, which has no ratio
    high = _too_high(report, th)
    blown = high[0] if high is not None else None  # saturation after a blow-up is its effect
    for name, values in _layers_with(window, "time_ratio").items():
        values = [(st, v) for st, v in values if math.isfinite(v)]
        if not values:
            continue
        def geo(vals):
            logs = [math.log10(v) if v > 0 else -30.0 for _, v in vals]
            return 10 ** (sum(logs) / len(logs))
        ratio = geo(values)
        # vanishing is structural: there at the start and still at the end (not a later
        # blow-up's saturation); gated cells (LSTM/GRU) start near a 1/2^T ratio and
        # learn to keep their memory, so they are judged 10x more leniently
        start, end = geo(values[:th.window]), geo(values[-th.window:])
        gated = report.types.get(name) in ("LSTM", "GRU")
        vanish = th.time_vanish / (10 if gated else 1)
        length = [l["time_steps"] for s in window for n, l in s["layers"].items()
                  if n == name and "time_steps" in l][-1]
        evidence = {"first_to_last_time_step": ratio, "time_steps": length, "over": "time",
                    "first_step": values[0][0]}
        if blown is not None:  # vanishing only as measured before the blow-up
            before = [(st, v) for st, v in values if st < blown]
            start = end = geo(before) if before else 1.0
        if start < vanish and end < vanish:
            out.append(Finding("vanishing", [name], evidence,
                               f"inside recurrent layer {show(name)} the gradient reaching the "
                               f"first of {length} time steps is {_sci(ratio)} times the one "
                               f"reaching the last: vanishing through time, so early inputs "
                               f"cannot be learned from. Use LSTM/GRU (or a better-scaled "
                               f"recurrent init), shorter sequences, or feed the loss from "
                               f"more time steps."))
        elif ratio > th.time_explode:
            out.append(Finding("exploding", [name], evidence,
                               f"inside recurrent layer {show(name)} the gradient reaching the "
                               f"first of {length} time steps is {_sci(ratio)} times the one "
                               f"reaching the last: exploding through time. Clip gradients "
                               f"(nn.utils.clip_grad_norm_), scale the recurrent weights down "
                               f"(orthogonal init), or use LSTM/GRU."))
    return out


# ----------------------------------------------------------------- together --
def diagnose(report, th: Thresholds, alive: dict, no_gradient: list) -> list[Finding]:
    """All findings for ``report``: the causes, then the symptoms they do not explain."""
    symptoms = find(report, th, alive, no_gradient)
    for f in symptoms:
        if "first_step" not in f.evidence:
            f.evidence["first_step"] = _onset(report, f, th)
    causes = find_causes(report, th)
    if not causes and not any(f.kind in SYMPTOMS for f in symptoms):
        causes = _label_noise(report, th)  # stuck at chance with nothing else to explain it
    return arbitrate(report, causes, symptoms)


def find_causes(report, th: Thresholds) -> list[Finding]:
    """Every cause found in ``report``, in the order of :data:`CAUSE_KINDS`."""
    out = _exploding_at_start(report, th) + _through_time(report, th) + \
        _learning_rate(report, th) + _accumulating(report, th) + _cleared(report) + \
        _not_updated(report) + \
        _duplicates(report) + _weight_decay(report, th) + _loss_input(report, th) + \
        _broadcast(report) + _mode(report) + _batch_statistics(report, th) + \
        _symmetry(report, th) + _padding(report, th)
    # a too-high learning rate is often itself a consequence (of gradients that were
    # never zeroed, a summed loss, a bad start, ...): name it only when nothing else is
    if len(out) > 1:
        lr = [f for f in out if f.kind == "learning_rate"]
        out = [f for f in out if f.kind != "learning_rate"]
        if lr:
            out[0].evidence.setdefault("consequences", []).append(
                f"learning_rate: {lr[0].suggestion.split(':')[0]}")
    return out


def _onset(report, f: Finding, th: Thresholds) -> int | None:
    """The first recorded step at which a symptom's condition held (one step at a time)."""
    steps = detailed_steps(report)
    if f.kind == "non_finite":
        return f.evidence.get("first_step")
    if f.kind == "dead_units":
        for s in steps:
            if any(s["layers"].get(n, {}).get("dead_fraction", 0) > th.dead_fraction
                   for n in f.layers):
                return s["step"]
    if f.kind == "saturation":
        for s in steps:
            if any(s["layers"].get(n, {}).get("saturated_fraction", 0) > th.saturated_fraction
                   for n in f.layers):
                return s["step"]
    if f.kind in ("vanishing", "exploding") and "source" in f.evidence:
        for s in steps:
            ratios, ref = depth_ratios(report, [s], f.evidence["source"])
            if ref is None:
                continue
            values = [ratios[n] for n in f.layers if n in ratios]
            if f.kind == "vanishing" and any(v < th.vanish_ratio for v in values):
                return s["step"]
            if f.kind == "exploding" and any(v > th.explode_ratio for v in values):
                return s["step"]
    return steps[0]["step"] if steps else None


def arbitrate(report, causes: list[Finding], symptoms: list[Finding]) -> list[Finding]:
    """Causes first; the symptoms a cause explains become its ``consequences``."""
    final = _final_layers(report)
    symptoms = [f for f in symptoms
                if not (f.kind == "saturation" and set(f.layers) <= final)]
    if not causes:
        return symptoms
    explained = [f for f in symptoms if f.kind in SYMPTOMS]
    kept = [f for f in symptoms if f.kind not in SYMPTOMS]
    for f in list(explained):  # the same problem seen later: its numbers join the cause's
        same = next((c for c in causes if c.kind == f.kind), None)
        if same is not None:
            explained.remove(f)
            for key, value in f.evidence.items():
                same.evidence.setdefault(key, value)
    if explained:
        causes[0].evidence.setdefault("consequences", []).extend(
            f"{f.kind} at {', '.join(f.layers)}" for f in explained)
    blame = causes[0].kind in ("learning_rate", "loss_reduction", "exploding", "vanishing",
                               "accumulating_gradients")
    if blame and not _bad_input(report):
        kept = [f for f in kept if f.kind != "non_finite"
                or f.evidence.get("first_step", 0) < causes[0].evidence.get("first_step", 0)]
    return causes + kept


def _final_layers(report) -> set[str]:
    """Layers whose output is fed to the loss (or the last leaf layer): a confident final
    sigmoid/tanh is healthy, not saturated."""
    final = {s["loss_call"]["input_layer"] for s in report.steps
             if s.get("loss_call", {}).get("input_layer")}
    leaves = [n for n in report.order if n in report.leaves]
    if leaves:
        final.add(leaves[-1])
    return final
