"""Two runs' evals side by side (two recipes, two datasets, DoRA against LoRA, an SFT run and the DPO/KTO run started
from it), to choose between them: for each measure, whose tuned model is nearer its own data, how far each run's
training moved the held-out loss, and (with a preference run) how strongly each prefers the held-out chosen replies.
"""

from __future__ import annotations

from pathlib import Path

from tuner.evaluate.measures import MEASURES_BY_NAME
from tuner.evaluate.report import BASE, TUNED, EvalReport


def _loss(report: EvalReport, side: str) -> float | None:
    return report.loss.get(side, {}).get("loss")


def compare_reports(a: EvalReport, b: EvalReport) -> dict:
    """Rows `{name, label, percent, a: {data, tuned}, b: {data, tuned}, better}`; better is 'a', 'b', 'tie' or None."""
    rows = []
    for row_a in a.measures:
        row_b = b.measure(row_a["name"])
        measure = MEASURES_BY_NAME.get(row_a["name"])
        if row_b is None or measure is None:
            continue
        sides = {"a": (row_a["data"], row_a["values"].get(TUNED)), "b": (row_b["data"], row_b["values"].get(TUNED))}
        better = None
        if all(data is not None and tuned is not None for data, tuned in sides.values()):
            da, db = (measure.distance(tuned, data) for data, tuned in sides.values())
            better = "tie" if abs(da - db) <= 1e-9 else ("a" if da < db else "b")
        rows.append({"name": row_a["name"], "label": row_a["label"], "percent": row_a["percent"],
                     **{key: {"data": data, "tuned": tuned} for key, (data, tuned) in sides.items()},
                     "better": better})
    drops = {key: (None if _loss(r, BASE) is None or _loss(r, TUNED) is None else _loss(r, BASE) - _loss(r, TUNED))
             for key, r in (("a", a), ("b", b))}
    wins = {key: sum(1 for row in rows if row["better"] == key) for key in ("a", "b")}
    judged = sum(1 for row in rows if row["better"] is not None)
    line = (f"{a.run} nearer its data on {wins['a']} of {judged} measures, {b.run} on {wins['b']}")
    if None not in drops.values():
        line += f"; training lowered the held-out loss by {drops['a']:.3f} ({a.run}) and {drops['b']:.3f} ({b.run})"
    margins = {"a": _tuned_margin(a, b), "b": _tuned_margin(b, a)}
    if margins["a"] and margins["b"]:
        line += (f"; chosen-over-rejected margin {margins['a']['margin']:+.2f} ({a.run}) → "
                 f"{margins['b']['margin']:+.2f} ({b.run})")
    return {"a": a.run, "b": b.run, "rows": rows, "loss": {"a": a.loss, "b": b.loss}, "loss_drop": drops,
            "margin": margins, "wins": wins, "of": judged, "line": line}


def _tuned_margin(report: EvalReport, other: EvalReport) -> dict | None:
    """The tuned model's preference margin: its own eval's, or — for the run a preference run started from, whose
    eval has no preference rows — the other eval's base side, which is that very model."""
    if TUNED in report.preference:
        return report.preference[TUNED]
    if other.started_from and Path(other.started_from).name == report.run:
        return other.preference.get(BASE)
    return None
