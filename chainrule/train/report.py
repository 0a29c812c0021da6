"""The run report: PNG plots and one self-contained HTML file (images embedded).

Built from a run folder's ``diagnostics.json`` (the gradient-flow monitor's numbers
and the per-epoch history), so ``chainrule report RUN_DIR`` can rebuild it at any time.
"""
from __future__ import annotations

import base64
import html
import json
import os

import numpy as np


def _figure(figsize, ncols: int = 1):
    """A Figure on the Agg canvas and its axes: no pyplot, so a user's own matplotlib
    backend (a notebook's, say) is left alone (as chainrule.diagnostics.plot does)."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure
    fig = Figure(figsize=figsize)
    FigureCanvasAgg(fig)
    return fig, fig.subplots(1, ncols)


def _load(run_dir: str) -> dict:
    with open(os.path.join(run_dir, "diagnostics.json")) as f:
        return json.load(f)


def _series(data: dict, metric: str) -> dict[str, np.ndarray]:
    """metric → {layer: values over recorded steps (nan where absent)}, for layers with any
    finite value; read through the monitor's own Report."""
    from ..diagnostics.report import Report
    report = Report(steps=data["steps"], layers=data["layers"], types=data.get("types", {}),
                    order=data.get("order", []), param_count=data.get("param_count", {}),
                    leaves=data.get("leaves", []), kinds=data.get("kinds", {}))
    return {n: v for n, v in report.series(metric).items() if np.isfinite(v).any()}


def _depth_order(data: dict, series: dict) -> list[str]:
    """Layers that have the series, in the order their forward ran (input → output)."""
    order = [n for n in data.get("order", []) if n in series]
    return order + [n for n in series if n not in order]


def _label(name: str, types: dict | None = None) -> str:
    kind = (types or {}).get(name)
    base = name or "(model)"
    return f"{base} {kind}" if kind else base


def plot_curves(history: list[dict], path: str, x_label: str = "epoch") -> str:
    fig, axes = _figure((10, 3.6), ncols=2)
    epochs = [e["epoch"] for e in history]
    for key, style in (("loss", "-"), ("val_loss", "--")):
        if any(key in e for e in history):
            axes[0].plot(epochs, [e.get(key, np.nan) for e in history], style, label=key)
    for key, style in (("accuracy", "-"), ("val_accuracy", "--")):
        if any(key in e for e in history):
            axes[1].plot(epochs, [e.get(key, np.nan) for e in history], style, label=key)
    axes[0].set_title("loss")
    axes[1].set_title("accuracy")
    for ax in axes:
        ax.set_xlabel(x_label)
        ax.grid(alpha=0.3)
        if ax.get_legend_handles_labels()[0]:
            ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=90)
    return path


def plot_gradient_flow(data: dict, path: str, title: str = "gradient flow") -> str:
    """Per-layer gradient norm across depth, one line per moment of training."""
    series = _series(data, "grad_norm")
    layers = _depth_order(data, series)
    fig, ax = _figure((10, 3.8))
    if layers:
        n = len(next(iter(series.values())))
        picks = sorted({0, n // 4, n // 2, (3 * n) // 4, n - 1}) if n else []
        from matplotlib import colormaps
        cmap = colormaps["viridis"]
        for k, step in enumerate(picks):
            values = [series[l][step] for l in layers]
            ax.plot(range(len(layers)), values, marker="o", ms=3,
                    color=cmap(k / max(1, len(picks) - 1)),
                    label=f"step {data['steps'][step].get('step', step)}")
        ax.set_yscale("log")
        ax.set_xticks(range(len(layers)))
        ax.set_xticklabels([_label(l, data.get("types")) for l in layers], rotation=90, fontsize=7)
        ax.legend(fontsize=8)
    else:
        ax.text(0.5, 0.5, "no gradients recorded", ha="center", va="center")
    ax.set_xlabel("layer (input → output)")
    ax.set_ylabel("parameter gradient norm")
    ax.set_title(title)
    ax.grid(alpha=0.3)
    fig.tight_layout()
    fig.savefig(path, dpi=90)
    return path


def plot_heatmap(data: dict, path: str) -> str:
    """log10 gradient norm, layer × step."""
    series = _series(data, "grad_norm")
    layers = _depth_order(data, series)
    fig, ax = _figure((10, max(2.5, 0.18 * len(layers) + 1.2)))
    if layers:
        grid = np.vstack([series[l] for l in layers])
        with np.errstate(divide="ignore", invalid="ignore"):
            logs = np.log10(np.where(grid > 0, grid, np.nan))
        im = ax.imshow(logs, aspect="auto", interpolation="nearest", cmap="magma")
        fig.colorbar(im, ax=ax, label="log10 gradient norm")
        ax.set_yticks(range(len(layers)))
        ax.set_yticklabels([_label(l, data.get("types")) for l in layers], fontsize=7)
    else:
        ax.text(0.5, 0.5, "no gradients recorded", ha="center", va="center")
    ax.set_xlabel("recorded step")
    ax.set_title("gradient norm per layer and step")
    fig.tight_layout()
    fig.savefig(path, dpi=90)
    return path


def plot_units(data: dict, path: str) -> str:
    """Dead ReLU and saturated sigmoid/tanh fractions per layer over training."""
    fig, ax = _figure((10, 3.4))
    drawn = False
    for metric, style in (("dead_fraction", "-"), ("saturated_fraction", "--")):
        series = _series(data, metric)
        for layer in _depth_order(data, series):
            ax.plot(series[layer], style, label=f"{metric.split('_')[0]} {_label(layer)}")
            drawn = True
    if drawn:
        ax.set_ylim(-0.02, 1.02)
        handles, labels = ax.get_legend_handles_labels()
        if len(labels) <= 12:
            ax.legend(fontsize=7, ncol=2)
    else:
        ax.text(0.5, 0.5, "no ReLU / sigmoid / tanh layers", ha="center", va="center")
    ax.set_xlabel("recorded step")
    ax.set_ylabel("fraction of units")
    ax.set_title("dead (ReLU) and saturated (sigmoid/tanh) units")
    ax.grid(alpha=0.3)
    fig.tight_layout()
    fig.savefig(path, dpi=90)
    return path


def _img(path: str, alt: str) -> str:
    with open(path, "rb") as f:
        encoded = base64.b64encode(f.read()).decode("ascii")
    return f'<img alt="{html.escape(alt)}" src="data:image/png;base64,{encoded}">'


def _findings_html(findings: list[dict]) -> str:
    if not findings:
        return '<p class="ok">No findings: gradients look healthy.</p>'
    items = []
    for f in findings:
        layers = ", ".join(_label(l) for l in f.get("layers", [])[:8])
        began = (f.get("evidence") or {}).get("first_step")
        when = f" — began at step {began}" if isinstance(began, int) else ""
        items.append(f"<li><b>{html.escape(f['kind'])}</b> — layers {html.escape(layers)}"
                     f"{html.escape(when)}<br>{html.escape(f.get('suggestion', ''))}</li>")
    return "<ul>" + "".join(items) + "</ul>"


_STYLE = ("body{font-family:sans-serif;max-width:1100px;margin:2em auto;color:#222}"
          "img{max-width:100%;border:1px solid #ddd;margin:.5em 0}"
          "table{border-collapse:collapse}td,th{border:1px solid #ccc;padding:2px 8px}"
          ".ok{color:#2a7}")


def build_report(run_dir: str) -> str:
    """Write the PNGs and ``report.html`` of a run folder; returns the HTML path."""
    data = _load(run_dir)
    history = data.get("history", [])
    x_label = data.get("x_label", "epoch")
    pngs = [("curves.png", "loss and accuracy", lambda p: plot_curves(history, p, x_label)),
            ("gradient_flow.png", "gradient flow across depth", lambda p: plot_gradient_flow(data, p)),
            ("gradient_heatmap.png", "gradient norm heat map", lambda p: plot_heatmap(data, p)),
            ("units.png", "dead and saturated units", lambda p: plot_units(data, p))]
    body = [f"<h1>chainrule run: {html.escape(os.path.basename(os.path.abspath(run_dir)))}</h1>",
            "<h2>Findings</h2>", _findings_html(data.get("findings", []))]
    if history:
        last = history[-1]
        rows = "".join(f"<tr><th>{html.escape(k)}</th><td>{v:.4g}</td></tr>" if isinstance(v, float)
                       else f"<tr><th>{html.escape(k)}</th><td>{html.escape(str(v))}</td></tr>"
                       for k, v in last.items())
        body += ["<h2>Last epoch</h2>", f"<table>{rows}</table>"]
    for filename, title, draw in pngs:
        path = draw(os.path.join(run_dir, filename))
        body += [f"<h2>{html.escape(title.capitalize())}</h2>", _img(path, title)]
    out = os.path.join(run_dir, "report.html")
    _write_html(out, "chainrule report", body)
    return out


def build_comparison(run_dirs: dict[str, str], out: str) -> str:
    """One HTML page comparing the gradient flow and findings of several runs."""
    body = ["<h1>Vanishing gradients: the same depth, two designs</h1>"]
    for label, run_dir in run_dirs.items():
        data = _load(run_dir)
        png = plot_gradient_flow(data, os.path.join(run_dir, "gradient_flow.png"), title=label)
        acc = (data.get("history") or [{}])[-1].get("val_accuracy")
        body += [f"<h2>{html.escape(label)}</h2>",
                 f"<p>test accuracy: {acc:.2%}</p>" if acc is not None else "",
                 _findings_html(data.get("findings", [])), _img(png, f"gradient flow {label}")]
        build_report(run_dir)
    os.makedirs(os.path.dirname(os.path.abspath(out)), exist_ok=True)
    _write_html(out, "chainrule: vanishing gradients", body)
    return out


def _write_html(path: str, title: str, body: list[str]) -> None:
    text = (f"<!doctype html><html><head><meta charset='utf-8'><title>{html.escape(title)}</title>"
            f"<style>{_STYLE}</style></head><body>" + "\n".join(body) + "</body></html>")
    tmp = path + ".tmp"
    with open(tmp, "w", encoding="utf-8") as f:
        f.write(text)
    os.replace(tmp, path)
