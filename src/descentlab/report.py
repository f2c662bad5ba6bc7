"""The self-contained HTML report of a comparison, and the numbers' reading in plain sentences.

``report.html`` is one file with no external references: the plots are embedded as
``data:image/png;base64`` URIs and the style is inline, so it can be mailed, archived or
opened offline. Every piece of text that comes from the run (labels, dataset names, paths,
the configuration) is escaped with :func:`html.escape`.

The inputs are the run folder's own files (``results.json`` as a dict, ``config.toml`` as
text, the PNG bytes), so ``descentlab report RUN_DIR`` rebuilds the page from saved results.
"""

from __future__ import annotations

import base64
import html
import math
import os
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from descentlab._validation import Options, check_param
from descentlab.io import atomic_write

__all__ = [
    "describe_results",
    "format_number",
    "is_regression",
    "render_report",
    "table_rows",
    "write_report",
]

_KINDS = Options(("accuracy", "cost", "seconds"))


def format_number(value: Any, kind: str) -> str:
    """How numbers appear in tables: accuracy ``0.9400``, cost ``0.1357``, seconds ``3.2``.

    ``kind`` is ``accuracy``, ``cost`` or ``seconds``; ``None`` and non-finite values appear
    as ``-``.

    >>> format_number(0.94, "accuracy"), format_number(0.000123456, "cost"), format_number(3.21, "seconds")
    ('0.9400', '0.0001235', '3.2')
    """
    check_param("format_number", "kind", kind, _KINDS)
    if value is None or (isinstance(value, float) and not math.isfinite(value)):
        return "-"
    if kind == "accuracy":
        return f"{value:.4f}"
    if kind == "cost":
        return f"{value:.4f}" if abs(value) >= 1e-3 else f"{value:.4g}"
    return f"{value:.1f}"


def is_regression(results: Mapping[str, Any]) -> bool:
    """Whether ``results`` are of a regression dataset (``dataset.task``), whose runs have
    no accuracy: tables and sentences then speak of costs."""
    dataset = results.get("dataset")
    return isinstance(dataset, Mapping) and dataset.get("task") == "regression"


def _ranking(results: Mapping[str, Any]) -> tuple[str, str, bool]:
    """What ranks the runs: ``(key in a run, words, higher is better)``. The test accuracy;
    for regression the test cost (lower is better), or without one the final training cost."""
    if not is_regression(results):
        return "test_accuracy", "test accuracy", True
    if any(_finite(r.get("test_cost")) for r in results.get("runs", [])):
        return "test_cost", "test cost", False
    return "final_cost", "final training cost", False


def _finite(value: Any) -> bool:
    """A number that is not NaN or inf (``None``, text and bools are not)."""
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


def table_rows(results: Mapping[str, Any]) -> tuple[list[str], list[list[str]]]:
    """The results table as text: ``(header, rows)``, one row per run in run order.

    Columns: optimizer, train accuracy, test accuracy, final cost, seconds, and a status
    column when some run did not complete normally. For regression (:func:`is_regression`)
    the accuracy columns give way to the costs: final cost, test cost (when the runs have
    one), seconds.
    """
    runs = results.get("runs", [])
    with_status = any(r.get("status") != "completed" for r in runs)
    columns = [("train_accuracy", "accuracy"), ("test_accuracy", "accuracy")]
    columns.append(("final_cost", "cost"))
    if is_regression(results):
        columns = [("final_cost", "cost")]
        if any("test_cost" in r for r in runs):
            columns.append(("test_cost", "cost"))
    columns.append(("seconds", "seconds"))
    header = ["optimizer", *(key.replace("_", " ") for key, _ in columns)]
    if with_status:
        header.append("status")
    rows = []
    for r in runs:
        row = [str(r.get("label", r.get("optimizer", "?")))]
        row += [format_number(r.get(key), kind) for key, kind in columns]
        if with_status:
            row.append(str(r.get("status", "")))
        rows.append(row)
    return header, rows


def _names(labels: Sequence[str]) -> str:
    if len(labels) <= 1:
        return "".join(labels)
    return ", ".join(labels[:-1]) + " and " + labels[-1]


def describe_results(
    results: Mapping[str, Any], costs: Mapping[str, np.ndarray] | None = None
) -> list[str]:
    """A short reading of the result, generated from the numbers: a few sentences.

    Which optimizer reached the best test accuracy and by how much; how the others
    compare on the training data and in cost (and, with ``costs`` — label → cost per epoch —
    when the winner reached the loser's final cost); train/test gaps that suggest
    overfitting; runs that diverged, stopped or did not run; a partial (interrupted) run.
    For regression (:func:`is_regression`: no accuracy) the lowest test cost ranks the runs
    (the final training cost when the runs have no test cost).

    >>> describe_results({"runs": [
    ...     {"label": "gd", "status": "completed", "train_accuracy": 0.8, "test_accuracy": 0.79,
    ...      "final_cost": 0.6, "seconds": 1.0},
    ...     {"label": "adam", "status": "completed", "train_accuracy": 0.94, "test_accuracy": 0.93,
    ...      "final_cost": 0.14, "seconds": 1.5}]})[0]
    'adam reached the best test accuracy, 0.9300: 0.1400 more than gd (0.7900).'
    """
    runs = [r for r in results.get("runs", [])]
    key, words, higher = _ranking(results)
    done = [
        r
        for r in runs
        if _finite(r.get(key)) and r.get("status") in ("completed", "early_stopped", "interrupted")
    ]
    lines: list[str] = []
    if results.get("partial"):
        finished = sum(r.get("status") in ("completed", "early_stopped") for r in runs)
        cut = [
            r["epochs_run"] for r in runs if r.get("status") == "interrupted" and "epochs_run" in r
        ]
        where = f" after {cut[0]} epochs" if cut else ""
        lines.append(
            f"This run was interrupted{where}: {finished} of {len(runs)} optimizer runs "
            "finished, so the numbers below are partial."
        )
    if done:
        lines.append(_best_sentence(done, key, words, higher))
        if len(done) > 1 and higher:
            train = sorted(done, key=lambda r: -(r.get("train_accuracy") or 0.0))
            lines.append(
                "On the training data: "
                + ", ".join(f"{r['label']} {r['train_accuracy']:.4f}" for r in train)
                + "."
            )
        if len(done) > 1 and key != "final_cost":
            finite = [r for r in done if r.get("final_cost") is not None]
            if len(finite) > 1:
                low = min(finite, key=lambda r: r["final_cost"])
                high = max(finite, key=lambda r: r["final_cost"])
                if high["final_cost"] > low["final_cost"]:
                    sentence = (
                        f"{low['label']} ended with the lowest cost, {low['final_cost']:.4g} "
                        f"({high['final_cost'] / low['final_cost']:.3g} times lower than "
                        f"{high['label']}'s {high['final_cost']:.4g})"
                    )
                    curve = None if costs is None else costs.get(low["label"])
                    if curve is not None:
                        curve = np.asarray(curve, dtype=float)
                        reached = np.flatnonzero(curve <= high["final_cost"])
                        if reached.size:
                            sentence += (
                                f"; it got down to {high['label']}'s final cost by epoch "
                                f"{int(reached[0])} of {curve.size}"
                            )
                    lines.append(sentence + ".")
        for r in done if higher else ():
            gap = (r.get("train_accuracy") or 0.0) - r["test_accuracy"]
            if gap > 0.05:
                lines.append(
                    f"{r['label']} scores {gap:.4f} higher on the training data than on the test "
                    "data: a sign of overfitting."
                )
        if results.get("trained_together") and runs and runs[0].get("seconds") is not None:
            lines.append(
                f"All {len(runs)} optimizers were trained together as one population "
                f"(one forward and backward pass per mini-batch for all): "
                f"{runs[0]['seconds']:.1f} s in all."
            )
        elif len(done) > 1 and all(r.get("seconds") is not None for r in done):
            fast = min(done, key=lambda r: r["seconds"])
            slow = max(done, key=lambda r: r["seconds"])
            if slow["seconds"] > fast["seconds"]:
                lines.append(
                    f"Wall time ranged from {fast['seconds']:.1f} s ({fast['label']}) to "
                    f"{slow['seconds']:.1f} s ({slow['label']})."
                )
    for r in runs:
        status = r.get("status")
        if status in ("diverged", "early_stopped", "interrupted", "failed") and r.get("message"):
            lines.append(f"{r['label']}: {r['message']}")
        elif status == "not_run":
            lines.append(f"{r['label']} did not run (the comparison was interrupted before it).")
    if not lines:
        lines.append("No optimizer finished, so there is nothing to compare.")
    return lines


def _best_sentence(done: Sequence[Mapping[str, Any]], key: str, words: str, higher: bool) -> str:
    """Which runs reached the best ``key`` (``words``; highest or lowest) and by how much
    they beat the others, level by level."""
    kind = "accuracy" if higher else "cost"
    best_value = (max if higher else min)(r[key] for r in done)
    best = [r for r in done if r[key] == best_value]
    others = [r for r in done if r[key] != best_value]
    best_names = _names([r["label"] for r in best])
    shown = format_number(best_value, kind)
    if len(done) == 1:
        return f"{best_names} reached a {words} of {shown}."
    if not others:
        return f"{best_names} tied on {words} at {shown}."
    verb = "reached" if len(best) == 1 else "tied for"
    diffs = "; ".join(
        f"{format_number(abs(best_value - value), kind)} {'more' if higher else 'less'} than "
        f"{_names([r['label'] for r in others if r[key] == value])} ({format_number(value, kind)})"
        for value in sorted({r[key] for r in others}, reverse=higher)
    )
    superlative = "best" if higher else "lowest"
    return f"{best_names} {verb} the {superlative} {words}, {shown}: {diffs}."


_STYLE = """
body { font-family: system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; margin: 2rem auto;
       max-width: 1250px; padding: 0 1rem; color: #222; line-height: 1.45; }
h1 { font-size: 1.6rem; margin-bottom: 0.2rem; }
h2 { font-size: 1.2rem; margin-top: 2rem; border-bottom: 1px solid #ddd; padding-bottom: 0.2rem; }
.meta { color: #666; font-size: 0.9rem; }
.partial { background: #fff3cd; border: 1px solid #e0c36c; padding: 0.6rem 0.9rem; }
table { border-collapse: collapse; margin: 0.6rem 0; }
th, td { padding: 0.35rem 0.8rem; border-bottom: 1px solid #e3e3e3; text-align: right; }
th:first-child, td:first-child { text-align: left; }
th { background: #f4f6f8; }
table.settings td, table.settings th { text-align: left; }
tr.best td { font-weight: 600; }
pre { background: #f6f8fa; padding: 0.8rem; overflow-x: auto; font-size: 0.85rem; }
img { max-width: 100%; height: auto; border: 1px solid #eee; }
figure { margin: 1rem 0; }
figcaption { color: #555; font-size: 0.9rem; }
"""


def html_figure(png: bytes, caption: str) -> str:
    """A ``<figure>`` with the PNG embedded as a base64 data URI (no external file)."""
    data = base64.b64encode(png).decode("ascii")
    esc = html.escape(caption)
    return (
        f'<figure><img src="data:image/png;base64,{data}" alt="{esc}">'
        f"<figcaption>{esc}</figcaption></figure>"
    )


def html_table(
    header: Sequence[str], rows: Sequence[Sequence[str]], best: Sequence[bool] | None = None
) -> str:
    """A ``<table>`` of text cells (escaped); rows flagged in ``best`` are shown in bold."""
    esc = html.escape
    best = best if best is not None else [False] * len(rows)
    head = "".join(f"<th>{esc(h)}</th>" for h in header)
    body = "".join(
        ('<tr class="best">' if flag else "<tr>")
        + "".join(f"<td>{esc(str(c))}</td>" for c in row)
        + "</tr>"
        for row, flag in zip(rows, best, strict=True)
    )
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def html_page(title: str, body: Sequence[str]) -> str:
    """A complete, self-contained HTML document: descentlab's report style, then ``body``."""
    head = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        f"<title>{html.escape(title)}</title>",
        f"<style>{_STYLE}</style></head><body>",
    ]
    return "\n".join([*head, *body, "</body></html>"]) + "\n"


def render_report(
    results: Mapping[str, Any],
    images: Mapping[str, bytes],
    config_toml: str,
    costs: Mapping[str, np.ndarray] | None = None,
    landscapes: Mapping[str, bytes] | None = None,
    diagnostics: Mapping[str, bytes] | None = None,
) -> str:
    """The report page as HTML text.

    Args:
      results: the content of ``results.json``.
      images: caption → PNG bytes, in display order (e.g. ``{"Cost curves": ...}``).
      config_toml: the content of ``config.toml``, shown verbatim.
      costs: label → cost per epoch, to say when the winner passed the others
        (:func:`describe_results`).
      landscapes: caption → PNG bytes of ``descentlab landscape``'s figures, shown in a
        section of their own (none: no section).
      diagnostics: caption → PNG bytes of the training diagnostics (``compare
        --diagnostics``), in a section of their own (none: no section).

    Returns:
      a complete HTML document with no external references.
    """
    esc = html.escape
    name = str(results.get("name", "comparison"))
    ds = results.get("dataset", {})
    dims = results.get("layer_dims")
    parts = [f"<h1>Optimizer comparison: {esc(name)}</h1>"]
    meta = []
    if ds:
        n_targets = ds.get("n_targets", "?")
        outputs = (
            f"regression, {n_targets} target{'' if n_targets == 1 else 's'}"
            if is_regression(results)
            else f"{ds.get('n_classes', '?')} classes"
        )
        meta.append(
            f"data: {esc(str(ds.get('name', '?')))} — {ds.get('n_train', '?')} training and "
            f"{ds.get('n_test', '?')} test examples ({esc(str(ds.get('holdout', '')))} hold-out), "
            f"{ds.get('n_features', '?')} features, {esc(outputs)}"
        )
    if dims:
        meta.append(f"network: layer_dims {esc(str(list(dims)))}")
    if results.get("created"):
        meta.append(f"created {esc(str(results['created']))}")
    if results.get("descentlab_version"):
        meta.append(f"descentlab {esc(str(results['descentlab_version']))}")
    parts.append(f'<p class="meta">{"<br>".join(meta)}</p>')
    if results.get("partial"):
        parts.append(
            '<p class="partial"><strong>Partial results:</strong> the run was interrupted; '
            "the table shows what finished.</p>"
        )

    parts.append("<h2>Results</h2>")
    header, rows = table_rows(results)
    runs = results.get("runs", [])
    key, _, higher = _ranking(results)
    scores = [r.get(key) for r in runs if _finite(r.get(key))]
    best = (max if higher else min)(scores) if scores else None
    parts.append(
        html_table(header, rows, [best is not None and run.get(key) == best for run in runs])
    )

    parts.append("<h2>Reading</h2><ul>")
    parts.extend(f"<li>{esc(s)}</li>" for s in describe_results(results, costs))
    parts.append("</ul>")

    if images:
        parts.append("<h2>Plots</h2>")
        parts.extend(html_figure(png, caption) for caption, png in images.items())

    if diagnostics:
        parts.append("<h2>Training diagnostics</h2>")
        parts.append(
            "<p>Measured after every evaluation epoch at the weights being trained. "
            "<b>Sharpness</b>: the top eigenvalue of the loss's Hessian (power iteration on "
            "exact Hessian-vector products); gradient descent is stable on a quadratic only "
            "below 2/lr, and full-batch training tends to rise to that edge and hover there "
            "(Cohen et al. 2021). For Adam the preconditioned sharpness λ1(P⁻¹H), "
            "P = (1 − β1ᵗ) diag(√ŝ + ε), has the threshold (2 + 2β1)/((1 − β1) lr) (Cohen et al. "
            "2022). <b>Gradient norm</b> of the full-batch gradient. <b>Update ratio</b> "
            "|Δθ_l| / |θ_l| of each layer over the epoch. <b>Gradient noise scale</b> "
            "B_simple = tr(Σ)/|G|² (McCandlish et al. 2018), from the squared norms of "
            "mini-batch and full-batch gradients: batches much smaller than it waste steps on "
            "noise, much larger ones waste examples.</p>"
        )
        parts.extend(html_figure(png, caption) for caption, png in diagnostics.items())

    if landscapes:
        parts.append("<h2>Loss landscapes</h2>")
        parts.append(
            "<p>Made by <code>descentlab landscape</code> from the saved weights: the training "
            "loss around each optimizer's final weights on a plane of two random directions, "
            "each row of every weight matrix rescaled to the norm of that row of the final "
            "weights (filter normalisation, Li et al. 2018), and the training path projected "
            "on the top two principal directions of its weight snapshots.</p>"
        )
        parts.extend(html_figure(png, caption) for caption, png in landscapes.items())

    parts.append(
        '<h2>Hyperparameters</h2><table class="settings"><thead><tr><th>optimizer</th><th>settings</th></tr></thead><tbody>'
    )
    for r in runs:
        hp = r.get("hyperparameters", {})
        text = ", ".join(f"{k}={v}" for k, v in hp.items())
        parts.append(f"<tr><td>{esc(str(r.get('label', '?')))}</td><td>{esc(text)}</td></tr>")
    parts.append("</tbody></table>")
    parts.append("<h2>Configuration</h2>")
    parts.append(
        "<p>Rerun exactly with <code>descentlab compare --config config.toml</code> "
        "(the file next to this report):</p>"
    )
    parts.append(f"<pre>{esc(config_toml)}</pre>")
    return html_page(f"descentlab: {name}", parts)


def write_report(
    path: str | os.PathLike[str],
    results: Mapping[str, Any],
    images: Mapping[str, bytes],
    config_toml: str,
    costs: Mapping[str, np.ndarray] | None = None,
    landscapes: Mapping[str, bytes] | None = None,
    diagnostics: Mapping[str, bytes] | None = None,
) -> None:
    """Write :func:`render_report`'s page to ``path`` atomically."""
    page = render_report(results, images, config_toml, costs, landscapes, diagnostics)
    atomic_write(path, page)
