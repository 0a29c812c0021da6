"""Causes of training failures, judged over the whole run, and what they explain.

:mod:`findings` names *symptoms* (vanishing, exploding, dead units, saturation) from
the last few steps. The rules here name *causes* from events over the whole run:
the learning rate, the optimizer's parameters, what was fed to the loss, modes and
structure. When a cause is found, the symptoms it produces are not reported as
findings of their own (advice such as "use ReLU" would point the wrong way); they
are listed in the cause's evidence as ``consequences``.

Each rule is one function returning a list of :class:`Finding`; ``evidence`` holds
the numbers and the step where the problem began (``first_step``).
"""
from __future__ import annotations

import math
import statistics

from .findings import Finding, Thresholds, depth_ratios, detailed_steps, find, show

# kinds in the order they are reported (a cause first, its symptoms after)
CAUSE_KINDS = ("learning_rate", "loss_reduction", "accumulating_gradients", "not_updated",
               "duplicate_parameters", "weight_decay", "loss_input", "broadcast", "mode",
               "batch_statistics", "symmetry", "padding", "label_noise")
SYMPTOMS = ("vanishing", "exploding", "dead_units", "saturation")


def _sci(x: float) -> str:
    return f"{x:.1e}" if x != 0 and (abs(x) < 1e-2 or abs(x) >= 1e3) else f"{x:.3g}"


def _layers_with(steps, key) -> dict[str, list]:
    """{layer: [(step, value), ...]} for every recorded value of ``key``."""
    out: dict[str, list] = {}
    for s in steps:
        for name, layer in s["layers"].items():
            if key in layer:
                out.setdefault(name, []).append((s["step"], layer[key]))
    return out


def _losses(steps) -> list[tuple[int, float]]:
    return [(s["step"], sum(s["loss"]) / len(s["loss"])) for s in steps if s.get("loss")]


# ------------------------------------------------------------- learning rate --
def _exploding_at_start(report, th: Thresholds) -> list[Finding]:
    """Gradients exploding by depth in the first steps: the initialisation is the cause
    (whatever the step size, and whatever inf/nan follows)."""
    for source in ("param", "output"):
        ratios, ref = depth_ratios(report, report.first_steps[:3], source)
        if ref is None or not ratios or max(ratios.values()) <= th.explode_ratio:
            continue
        # the whole stack made it: name every layer where it has grown past sqrt(threshold)
        flagged = [n for n, r in ratios.items() if r > math.sqrt(th.explode_ratio)]
        worst = max(flagged, key=ratios.get)
        what = "parameter gradients" if source == "param" else "gradients of the layer outputs"
        return [Finding("exploding", flagged,
                        {"source": source, "reference_layer": ref, "ratio_to_reference": ratios,
                         "threshold": th.explode_ratio, "first_step": report.first_steps[0]["step"],
                         "at": "start"},
                        f"from the first step the {what} at layer {show(worst)} are "
                        f"{_sci(ratios[worst])} times those at layer {show(ref)}: the gradient "
                        f"grows layer by layer toward the input because the initial weights are "
                        f"too large. Scale them down (Xavier/He init, or orthogonal), add "
                        f"normalization layers, and clip gradients (nn.utils.clip_grad_norm_).")]
    return []


def _bad_input(report) -> bool:
    first = report.non_finite[0] if report.non_finite else None
    return bool(first and first["where"] == "activation" and report.order
                and first["layer"] == report.order[0])


def _too_high(report, th: Thresholds) -> tuple[int, dict] | None:
    """The first step where the learning rate shows itself too high, with the evidence."""
    if not any("lr" in s for s in report.steps):
        return None  # no optimizer watched: nothing says who changed the weights
    start_norm: dict[str, float] = {}
    previous = None
    losses = dict(_losses(report.steps))
    first_loss = next((v for v in losses.values() if math.isfinite(v)), None)
    for s in report.steps:
        for name, layer in s["layers"].items():
            w = layer.get("matrix_norm")
            if w is not None and math.isfinite(w):
                start = start_norm.setdefault(name, w)  # a zero start has no scale to grow from
                if start > 0 and w > th.weight_growth * start:
                    return s["step"], {"layer": name, "weight_growth": w / start_norm[name]}
            u = layer.get("update_ratio")
            if u is not None and math.isfinite(u) and u > th.lr_high_update and \
                    start_norm.get(name, 1.0) > 0:
                return s["step"], {"layer": name, "update_to_weight": u}
        loss = losses.get(s["step"])
        if loss is not None and first_loss is not None and not _bad_input(report):
            if first_loss > 0 and loss > th.loss_growth * first_loss:
                return s["step"], {"loss": loss, "first_loss": first_loss}
            # a loss that turns inf/nan out of nowhere is a bad op (log(0)), not the step
            # size; only after it was already climbing is it a divergence
            if not math.isfinite(loss) and previous is not None and previous > 2 * first_loss:
                return s["step"], {"loss": loss, "first_loss": first_loss}
        if loss is not None and math.isfinite(loss):
            previous = loss
    return None


def _learning_rate(report, th: Thresholds) -> list[Finding]:
    high = _too_high(report, th)
    if high is not None:
        step, evidence = high
        evidence = {"first_step": step, **evidence}
        calls = [s.get("loss_call") for s in report.steps if s.get("loss_call")]
        layers = [evidence["layer"]] if "layer" in evidence else []
        summed = [s for s in report.steps if s.get("loss_sums_batch")]
        if calls and calls[-1].get("reduction") == "sum" and calls[-1].get("batch", 0) >= 8:
            batch, how = calls[-1]["batch"], f"{calls[-1]['fn']}, reduction='sum'"
        elif len(summed) >= 0.5 * len(report.steps):
            batch, how = summed[-1]["batch"], "a hand-written .sum() over the examples"
        else:
            batch = None
        if batch is not None:
            evidence.update(reduction="sum", batch=batch)
            return [Finding("loss_reduction", [], evidence,
                            f"training blew up at step {step} and the loss is summed over the "
                            f"batch ({how}, batch {batch}): the "
                            f"gradient is {batch} times what a mean would give, so the "
                            f"learning rate is effectively {batch} times too high. Use "
                            f"reduction='mean', or divide the learning rate by the batch size.")]
        what = ", ".join(f"{k.replace('_', ' ')} {_sci(v)}" for k, v in evidence.items()
                         if isinstance(v, float))
        return [Finding("learning_rate", layers, evidence,
                        f"the learning rate is too high: at step {step} ({what}"
                        f"{' at layer ' + show(evidence['layer']) if layers else ''}) the "
                        f"updates outgrew the weights; everything that goes wrong after "
                        f"(exploding values, dead units, inf/nan) follows from it. Lower the "
                        f"learning rate (by 10x), add gradient clipping or a warm-up.")]
    return _too_low(report, th)


def _too_low(report, th: Thresholds) -> list[Finding]:
    steps = [s for s in report.steps if "lr" in s]
    if len(steps) < 10:
        return []
    top = max(s["lr"] for s in steps)
    if top <= 0:
        return []
    gone = [s for s in steps if s["lr"] < 1e-3 * top]
    if len(gone) >= 0.5 * len(steps):  # a schedule that has decayed away for most of the run
        return [Finding("learning_rate", [], {"lr_start": top, "lr_end": steps[-1]["lr"],
                                              "first_step": gone[0]["step"],
                                              "steps_below_1e-3_of_max": len(gone)},
                        f"the learning rate fell below a thousandth of its peak ({top:g}) at "
                        f"step {gone[0]['step']} and stayed there for {len(gone)} of "
                        f"{len(steps)} steps: the schedule decays far too fast, so training "
                        f"stops early. A scheduler stepped once per batch instead of once "
                        f"per epoch does this; check step_size/T_max against the number of "
                        f"scheduler.step() calls.")]
    full = [s for s in steps if s["lr"] >= 0.5 * top]  # not the tail of a decaying schedule
    per_step = _largest_updates(full)
    if len(per_step) < 10:
        return []
    typical = _p90(per_step)  # "for the whole run": even the larger updates are tiny
    if typical >= th.lr_low_update:
        return []
    return [Finding("learning_rate", [], {"update_to_weight_p90": typical,
                                          "threshold": th.lr_low_update, "lr": top,
                                          "first_step": full[0]["step"]},
                    f"the learning rate is too low: each optimizer step changes the weights by "
                    f"at most {_sci(typical)} of their size (90th percentile over "
                    f"{len(per_step)} steps at lr={top:g}; healthy is about 1e-3), so the model "
                    f"barely moves. Raise the "
                    f"learning rate (try 10-100x), or check the optimizer gets the right lr.")]


def _largest_updates(steps) -> list[float]:
    """Per step, the largest update/weight of a layer. A layer that did not move at all got
    no gradient on its matrices (dead units, frozen): not the learning rate's doing."""
    per_step = []
    for s in steps:
        ratios = [l["update_ratio"] for l in s["layers"].values()
                  if "update_ratio" in l and 0 < l["update_ratio"] < math.inf]
        if ratios:
            per_step.append(max(ratios))
    return per_step


def _p90(values: list[float]) -> float:
    return sorted(values)[int(0.9 * (len(values) - 1))]


def _update_p90(report) -> float | None:
    """The 90th percentile over measured steps of the largest update/weight of a layer."""
    per_step = _largest_updates(detailed_steps(report))
    return _p90(per_step) if len(per_step) >= 5 else None


# ------------------------------------------------------------------- optimizer --
def _accumulating(report, th: Thresholds) -> list[Finding]:
    stale = _layers_with(report.steps, "stale_grad")
    stepped = [s for s in detailed_steps(report) if "lr" in s]
    steps = sorted({st for pairs in stale.values() for st, _ in pairs})
    if len(steps) < 2 or len(steps) < 0.2 * max(len(stepped), 1):
        return []
    layers = [n for n in report.order if n in stale]
    return [Finding("accumulating_gradients", layers,
                    {"first_step": steps[0], "steps": len(steps), "optimizer_steps": len(stepped)},
                    f"from step {steps[0]} on, the gradient optimizer.step() used was larger than "
                    f"all the backward passes since the previous step produced together (in "
                    f"{len(steps)} of {len(stepped)} steps): .grad still held old gradients. "
                    f"Call optimizer.zero_grad() (or model.zero_grad()) before each backward "
                    f"pass you do not mean to accumulate.")]


def _cleared(report) -> list[Finding]:
    cleared = _layers_with(report.steps, "cleared_grad")
    stepped = [s for s in detailed_steps(report) if "lr" in s]
    steps = sorted({st for pairs in cleared.values() for st, _ in pairs})
    if len(steps) < 2 or len(steps) < 0.5 * len(stepped):
        return []
    layers = [n for n in report.order if n in cleared]
    return [Finding("not_updated", layers, {"first_step": steps[0], "steps": len(steps),
                                            "gradients_cleared_before_step": True},
                    f"backward() produced gradients but optimizer.step() found none (.grad "
                    f"None or zero) in {len(steps)} of {len(stepped)} measured steps, from step "
                    f"{steps[0]}: the weights never move. zero_grad() runs between backward() "
                    f"and step(); call it before backward() (or before the forward pass).")]


def _not_updated(report) -> list[Finding]:
    missing = report.facts.get("not_updated") or []
    if not missing:
        return []
    names = [f"{m}.{p}" if m else p for m, p in missing]
    layers = list(dict.fromkeys(m for m, _ in missing))
    return [Finding("not_updated", layers, {"parameters": names,
                                            "first_step": report.steps[0]["step"]},
                    f"{', '.join(names)} received gradients but never changed: "
                    f"{'they are' if len(names) > 1 else 'it is'} not in the optimizer. Pass "
                    f"model.parameters() (all of them) to the optimizer, or add a param group.")]


def _duplicates(report) -> list[Finding]:
    names = report.facts.get("duplicates") or []
    if not names:
        return []
    return [Finding("duplicate_parameters", list(report.facts.get("duplicate_layers", [])),
                    {"parameters": names, "first_step": report.steps[0]["step"]},
                    f"the optimizer holds {', '.join(names)} more than once, so "
                    f"{'they are' if len(names) > 1 else 'it is'} updated twice per step "
                    f"(and the optimizer state is shared oddly). Pass each parameter once, e.g. "
                    f"list(model.parameters()) instead of concatenating overlapping lists.")]


def _weight_decay(report, th: Thresholds) -> list[Finding]:
    pulls = _layers_with(report.steps, "decay_pull")
    norms = _layers_with(report.steps, "weight_norm")
    flagged, evidence = [], {}
    for name, values in pulls.items():
        if len(values) < 5:
            continue
        typical = statistics.median(v for _, v in values)
        w = [v for _, v in norms.get(name, []) if math.isfinite(v)]
        shrink = w[-1] / max(w) if w and max(w) > 0 else 1.0
        if typical > th.decay_pull or (typical > 1.0 and shrink < 0.3):
            flagged.append(name)
            evidence[name] = {"decay_to_gradient": typical, "weight_norm_end_to_max": shrink}
    for name, values in _layers_with(report.steps, "decay_rate").items():
        rate = statistics.median(v for _, v in values)
        w = [v for _, v in norms.get(name, []) if math.isfinite(v)]
        shrink = w[-1] / max(w) if w and max(w) > 0 else 1.0
        if rate >= th.decay_rate and shrink < 0.5:  # decoupled: lr·wd of the weights a step
            flagged.append(name)
            evidence[name] = {"decay_to_gradient": rate / th.decay_rate * th.decay_pull,
                              "decay_per_step": rate, "weight_norm_end_to_max": shrink}
    if not flagged:
        return []
    worst = max(flagged, key=lambda n: evidence[n]["decay_to_gradient"])
    e = evidence[worst]
    if "decay_per_step" in e:
        how = (f"removes {e['decay_per_step']:.1%} of the weights of layer {show(worst)} at "
               f"every step (lr x weight_decay)")
    else:
        how = (f"pulls the weights of layer {show(worst)} {_sci(e['decay_to_gradient'])} times "
               f"harder than the gradient does (median over the run)")
    return [Finding("weight_decay", flagged, {"layers": evidence, "first_step": 0},
                    f"weight decay {how}; the weights end at {e['weight_norm_end_to_max']:.0%} "
                    f"of their largest norm: the decay, not the data, decides the weights. "
                    f"Lower weight_decay (1e-4 to 1e-2 is usual with SGD/Adam, ~0.01-0.1 with "
                    f"AdamW; with Adam prefer AdamW).")]


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
