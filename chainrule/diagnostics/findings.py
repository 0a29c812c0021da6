"""Turning recorded numbers into findings: what is wrong, where, and what helps.

Every rule looks at the last ``window`` recorded steps (non-finite values: at all
of them) and is one short function below. Layers are ordered by when their
forward ran, so "early" means near the input. The rules:

vanishing
    Per step, each layer's gradient RMS (norm / sqrt(size)) is divided by that of
    the last layer; the ratios are averaged geometrically over the window. A layer
    whose ratio is below ``vanish_ratio`` (1e-3) is flagged. This is done for the
    parameter gradients and for the gradients of the layers' outputs (the latter
    catches deep linear stacks, where parameter gradients stay level). An exact
    zero counts as ratio 0 (underflow is where vanishing ends), except in layers
    before a ReLU layer whose units are all dead: that gradient is *blocked*, and
    the dead-units finding reports it. Unused parameters (no gradient at all) are
    left to the no_gradient rule.
exploding
    The same depth ratios above ``explode_ratio`` (1e3); or a layer whose gradient
    norm is more than ``explode_relative`` (1e2) times its weight norm (one SGD
    step of learning rate 0.01 would then move the weights by more than their own
    size); or, with an optimizer, an update/weight ratio above ``explode_update`` (1).
dead_units
    ReLU layers: a unit (one feature position) is dead when its output was zero for
    every example of every batch in the window. Flagged when more than
    ``dead_fraction`` (0.5) of the layer's units are dead.
saturation
    Sigmoid layers (output < 0.01 or > 0.99) and Tanh layers (|output| > 0.99):
    flagged when the saturated share of outputs, averaged over the window, is above
    ``saturated_fraction`` (0.5).
non_finite
    Any inf/nan in a layer's weights, output, parameter gradient or output gradient,
    at any recorded step; the first sighting in time names the likely cause.
no_gradient
    A parameter that requires grad but received no gradient in any backward pass
    seen by the monitor (and whose ``.grad`` is None), once some backward has run.

>>> t = Thresholds()
>>> t.vanish_ratio, t.replace(vanish_ratio=1e-4).vanish_ratio
(0.001, 0.0001)
"""
from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass, field
from typing import Any

KINDS = ("vanishing", "exploding", "dead_units", "saturation", "non_finite", "no_gradient",
         "learning_rate", "loss_reduction", "accumulating_gradients", "not_updated",
         "duplicate_parameters", "weight_decay", "loss_input", "broadcast", "mode",
         "batch_statistics", "symmetry", "padding", "label_noise")


@dataclass(frozen=True)
class Thresholds:
    """The numbers the rules compare against (see the module docstring)."""

    window: int = 5
    vanish_ratio: float = 1e-3
    explode_ratio: float = 1e3
    explode_relative: float = 1e2
    explode_update: float = 1.0
    dead_fraction: float = 0.5
    saturated_fraction: float = 0.5
    # causes over the whole run (see causes.py)
    lr_high_update: float = 1.0       # an update larger than the weights it changes
    weight_growth: float = 100.0      # weights this many times their first norm
    loss_growth: float = 10.0         # loss this many times its first value
    lr_low_update: float = 1e-5       # updates/weight below this all run long: learning rate too low
    decay_pull: float = 10.0          # weight decay this many times the gradient
    decay_rate: float = 0.01          # decoupled decay taking this fraction of the weights a step
    min_channel_values: int = 8       # BatchNorm: fewer values per channel are noise
    time_vanish: float = 1e-3         # RNN: first/last time-step gradient below this
    time_explode: float = 1e3
    chance_fraction: float = 0.95     # loss at this fraction of chance level or above

    def replace(self, **changes) -> "Thresholds":
        return dataclasses.replace(self, **changes)


@dataclass
class Finding:
    """One problem: its ``kind``, the ``layers`` (names as in ``named_modules()``),
    the numbers behind it (``evidence``) and what to do (``suggestion``, plain words)."""

    kind: str
    layers: list[str]
    evidence: dict[str, Any] = field(default_factory=dict)
    suggestion: str = ""

    def __str__(self) -> str:
        return f"[{self.kind}] {self.suggestion}"


def show(name: str) -> str:
    """A layer name for people: the root module (named "") is 'the model itself'."""
    return f"'{name}'" if name else "the model itself"


def _sci(x: float) -> str:
    return f"{x:.1e}" if x != 0 and (abs(x) < 1e-2 or abs(x) >= 1e3) else f"{x:.3g}"


def detailed_steps(report) -> list[dict]:
    """The steps the monitor measured in full: it samples gradients, weights and
    activations after its first steps (see ``watch(detail_every=)``)."""
    return [s for s in report.steps if s.get("detail", True)]


def find(report, th: Thresholds, alive: dict, no_gradient: list) -> list[Finding]:
    """All findings for ``report`` (a :class:`Report`), in a fixed order of kinds."""
    detailed = detailed_steps(report)
    window = detailed[-th.window:] if th.window > 0 else detailed
    dead = _dead(report, alive, th)
    out: list[Finding] = []
    out += _depth(report, window, th, _blocked(report, dead))
    out += _relative(report, window, th)
    out += dead
    out += _saturation(report, window, th)
    out += _non_finite(report)
    out += _no_gradient(no_gradient)
    return _merge(out)


def _merge(findings: list[Finding]) -> list[Finding]:
    """One finding per kind and layer set: exploding by depth and by size become one."""
    merged: dict[str, Finding] = {}
    out = []
    for f in findings:
        if f.kind != "exploding" or f.kind not in merged:
            out.append(f)
            merged.setdefault(f.kind, f)
            continue
        first = merged[f.kind]
        first.layers = list(dict.fromkeys(first.layers + f.layers))
        first.evidence = {**first.evidence, **{k: v for k, v in f.evidence.items()
                                               if k not in first.evidence}}
        first.suggestion += " Also: " + f.suggestion
    return out


# -------------------------------------------------------------- gradient depth --
def _usable(x) -> bool:
    return x is not None and math.isfinite(x) and x > 0


def _blocked(report, dead: list[Finding]) -> set[str]:
    """Layers before a ReLU layer whose units are all dead: their zero gradient is blocked,
    not vanishing (the dead-units finding explains it)."""
    walls = [f.layers[0] for f in dead if f.evidence["dead_fraction"] >= 1.0]
    if not walls:
        return set()
    last = max(report.order.index(w) for w in walls)
    return set(report.order[:last])


def depth_ratios(report, window, source: str, blocked=frozenset()) -> tuple[dict, str | None]:
    """Each layer's gradient RMS over the last layer's, geometric mean over ``window``.

    ``source``: "param" (parameter gradients) or "output" (gradients of layer outputs).
    An exact zero counts as ratio 0 (underflow is the end point of vanishing) unless the
    layer is in ``blocked``. Returns (ratios by layer in forward order, the reference layer).
    """
    def keep(g, name):
        if g is None or not math.isfinite(g) or g < 0 or (g == 0 and name in blocked):
            return False
        return True

    if source == "param":
        names = [n for n in report.order if n in report.param_count]

        def rms(layer: dict, name: str):
            g = layer.get("grad_norm")
            return g / math.sqrt(report.param_count[name]) if keep(g, name) else None
    else:
        names = [n for n in report.order if n in report.leaves]
        # a final activation (a sigmoid or softmax feeding the loss) is measured against
        # the loss, not through depth: the reference is the last layer with weights
        owners = [i for i, n in enumerate(names) if n in report.param_count]
        if owners:
            names = names[:owners[-1] + 1]

        def rms(layer: dict, name: str):
            g, size = layer.get("output_grad_norm"), layer.get("output_grad_size")
            return g / math.sqrt(size) if keep(g, name) and size else None
    logs: dict[str, list[float]] = {}
    ref_name = None
    for step in window:
        values = {n: rms(step["layers"][n], n) for n in names if n in step["layers"]}
        values = {n: v for n, v in values.items() if v is not None}
        nonzero = [n for n in names if values.get(n)]
        if len(values) < 2 or not nonzero:
            continue
        ref = nonzero[-1]
        ref_name = ref if ref_name is None else ref_name
        if ref != ref_name:
            continue
        for n, v in values.items():
            logs.setdefault(n, []).append(math.log10(v / values[ref]) if v > 0 else -math.inf)
    ratios = {n: 10 ** (sum(ls) / len(ls)) for n, ls in logs.items()}
    return {n: ratios[n] for n in names if n in ratios}, ref_name


def _depth(report, window, th: Thresholds, blocked: set) -> list[Finding]:
    found = {}
    for source in ("param", "output"):
        ratios, ref = depth_ratios(report, window, source, blocked)
        if ref is None:
            continue
        what = "parameter gradients" if source == "param" else "gradients of the layer outputs"
        low = [n for n, r in ratios.items() if r < th.vanish_ratio]
        high = [n for n, r in ratios.items() if r > th.explode_ratio]
        for kind, flagged in (("vanishing", low), ("exploding", high)):
            if not flagged or kind in found:
                continue
            worst = min(flagged, key=ratios.get) if kind == "vanishing" else \
                max(flagged, key=ratios.get)
            evidence = {"source": source, "reference_layer": ref, "ratio_to_reference": ratios,
                        "threshold": th.vanish_ratio if kind == "vanishing" else th.explode_ratio,
                        "steps": [s["step"] for s in window]}
            size = "exactly zero (underflowed) while" if ratios[worst] == 0 else \
                f"{_sci(ratios[worst])} times"
            head = (f"the {what} at layer {show(worst)} are {size} those at layer {show(ref)} "
                    f"(RMS, geometric mean over the last {len(window)} steps): {kind}")
            if kind == "vanishing":
                advice = ("early layers barely learn. Sigmoid/tanh stacks shrink the gradient "
                          "at every layer; ReLU-family activations, He/Xavier init, "
                          "normalization layers or residual connections help.")
            else:
                advice = ("the gradient grows layer by layer toward the input. Scale the "
                          "initial weights down (Xavier/He init), clip gradients "
                          "(nn.utils.clip_grad_norm_), or add normalization layers.")
            found[kind] = Finding(kind, flagged, evidence, f"{head}; {advice}")
    return list(found.values())


def _geo_mean(values: list[float]) -> float | None:
    values = [v for v in values if _usable(v)]
    if not values:
        return None
    return 10 ** (sum(math.log10(v) for v in values) / len(values))


def _relative(report, window, th: Thresholds) -> list[Finding]:
    """Exploding by size rather than by depth: gradient/weight and update/weight ratios."""
    rel, upd = {}, {}
    for name in report.param_count:
        layers = [s["layers"].get(name, {}) for s in window]
        r = _geo_mean([l["grad_norm"] / l["weight_norm"] for l in layers
                       if _usable(l.get("grad_norm")) and _usable(l.get("weight_norm"))])
        if r is not None and r > th.explode_relative:
            rel[name] = r
        u = _geo_mean([l.get("update_ratio") for l in layers])
        if u is not None and u > th.explode_update:
            upd[name] = u
    out = []
    if rel:
        worst = max(rel, key=rel.get)
        evidence = {"grad_to_weight": rel, "grad_to_weight_threshold": th.explode_relative}
        out.append(Finding("exploding", list(rel), evidence,
                           f"the gradient norm at layer {show(worst)} is {_sci(rel[worst])} "
                           f"times its weight norm: exploding gradients; one step would wipe "
                           f"out the weights. Scale the initial weights down (Xavier/He init), "
                           f"clip gradients (nn.utils.clip_grad_norm_) or lower the learning "
                           f"rate."))
    if upd:
        worst = max(upd, key=upd.get)
        evidence = {"update_to_weight": upd, "update_to_weight_threshold": th.explode_update}
        out.append(Finding("exploding", list(upd), evidence,
                           f"each optimizer step changes the weights of layer {show(worst)} by "
                           f"{_sci(upd[worst])} times their size (healthy is about 1e-3): "
                           f"exploding updates. Lower the learning rate or clip gradients."))
    return out


# ---------------------------------------------------------------- activations --
def _dead(report, alive: dict, th: Thresholds) -> list[Finding]:
    out = []
    for name in report.order:
        history = alive.get(name)
        if not history:
            continue
        masks = [m for _, m in history[-th.window:] if m.shape == history[-1][1].shape]
        ever = masks[0]
        for m in masks[1:]:
            ever = ever | m
        units = int(ever.size)
        fraction = 1.0 - ever.sum().item() / units if units else 0.0
        if fraction > th.dead_fraction:
            out.append(Finding("dead_units", [name],
                               {"dead_fraction": fraction, "units": units,
                                "steps": [s for s, _ in history[-th.window:]],
                                "threshold": th.dead_fraction},
                               f"{fraction:.0%} of the {units} units of ReLU layer {show(name)} "
                               f"output zero for every example in the last {len(masks)} steps: "
                               f"dead units. They pass no gradient back, so they cannot recover; "
                               f"look for large negative biases or too high a learning rate. "
                               f"He init, a lower learning rate, or LeakyReLU/ELU help."))
    return out


def _saturation(report, window, th: Thresholds) -> list[Finding]:
    out = []
    for name in report.order:
        kind = report.kinds.get(name)
        if kind not in ("sigmoid", "tanh"):
            continue
        values = [s["layers"][name]["saturated_fraction"] for s in window
                  if "saturated_fraction" in s["layers"].get(name, {})]
        if not values:
            continue
        mean = sum(values) / len(values)
        if mean > th.saturated_fraction:
            zone = "|output| > 0.99" if kind == "tanh" else "output < 0.01 or > 0.99"
            out.append(Finding("saturation", [name],
                               {"saturated_fraction": mean, "threshold": th.saturated_fraction,
                                "steps": [s["step"] for s in window]},
                               f"{mean:.0%} of the outputs of {report.types[name]} layer "
                               f"{show(name)} are saturated ({zone}) over the last "
                               f"{len(values)} steps: their local derivative is almost 0, so "
                               f"they block the gradient. Scale the weights down (Xavier init), "
                               f"normalize the inputs, or add normalization layers."))
    return out


# ------------------------------------------------------------- missing values --
def _non_finite(report) -> list[Finding]:
    events = report.non_finite  # sightings in the order they happened
    if not events:
        return []
    where: dict[str, list] = {}
    for e in events:
        where.setdefault(e["layer"], []).append((e["step"], e["where"]))
    step, name = events[0]["step"], events[0]["layer"]
    flags = [e["where"] for e in events if (e["step"], e["layer"]) == (step, name)]
    if "weight" in flags:
        cause = "its weights are non-finite: an update blew up (lower the learning rate, clip " \
                "gradients)"
    elif "activation" in flags and name == report.order[0]:
        cause = "it is the first layer, so the input data probably contains inf/nan: check " \
                "and clean the data"
    elif "activation" in flags:
        cause = "its forward produced inf/nan: guard log/div/sqrt/exp against bad arguments"
    else:
        cause = "only the backward pass is non-finite: a derivative overflowed or divided by " \
                "zero (e.g. sqrt or log at 0); run backward in anomaly mode to find the op"
    return [Finding("non_finite", list(where),
                    {"first_step": step, "first_layer": name, "first_in": flags,
                     "occurrences": where},
                    f"a non-finite value (inf/nan) first appeared at step {step} in the "
                    f"{' and '.join(flags)} of layer {show(name)}; {cause}. Training on "
                    f"non-finite values silently corrupts every weight it reaches.")]


def _no_gradient(missing: list) -> list[Finding]:
    if not missing:
        return []
    names = [f"{m}.{p}" if m else p for m, p in missing]
    layers = list(dict.fromkeys(m for m, _ in missing))
    return [Finding("no_gradient", layers, {"parameters": names},
                    f"parameter{'s' if len(names) > 1 else ''} {', '.join(names)} received no "
                    f"gradient in any backward pass: not used to compute the loss (or used "
                    f"only under no_grad or after detach()). Check forward(), or remove "
                    f"{'them' if len(names) > 1 else 'it'} / set requires_grad=False.")]


# ---------------------------------------- step series, shared by the causes --
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
