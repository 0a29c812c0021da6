"""Cause rules about the optimizer: the learning rate (too high, too low, exploding from
the first steps) and how the optimizer is used (gradients never cleared, parameters
not updated or listed twice, weight decay that outweighs the gradient).

Split from ``causes.py`` (which imports these rules back and runs them in
``find_causes``): each rule is one function of the run's report returning a list of
:class:`~chainrule.diagnostics.findings.Finding`. Imported at the end of ``causes.py``,
whose small helpers (``_sci``, ``_layers_with``, ``_losses``) these rules share.
"""
from __future__ import annotations

import math
import statistics

from .findings import (Finding, Thresholds, _layers_with, _losses, _sci, depth_ratios,
                       detailed_steps, show)


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
