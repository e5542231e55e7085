"""An eval's result: held-out loss per side, every measure per side next to the data's own value, the replies side
by side with the reference, and the verdict line. `EvalReport.to_json()` is eval.json; `markdown()` is eval.md.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from pathlib import Path

from hearth.atomic import write_json, write_text
from tuner.evaluate.measures import MEASURES, Context, Reply, closer_side, side_value

BASE, TUNED = "base", "tuned"
PREFERENCE_DEFINITION = ("on held-out pairs, the log-probability of the chosen reply minus the rejected one's "
                         "(KTO rows: per token, desirable minus undesirable); DPO raises it")
EVAL_DIR = "eval"


@dataclass
class EvalReport:
    run: str
    base: str
    source: str  # "held-out" or the prompts file
    language: str
    settings: dict
    sides: list[str]
    loss: dict[str, dict] = field(default_factory=dict)  # side -> Loss.to_json()
    measures: list[dict] = field(default_factory=list)  # {name, label, definition, data, values: {side: v}, closer}
    samples: list[dict] = field(default_factory=list)  # {messages, reference, replies: {side: Reply.to_json()}}
    verdict: dict = field(default_factory=dict)
    created: str = ""
    preference: dict[str, dict] = field(default_factory=dict)  # side -> Margin.to_json(), for a DPO/KTO run
    started_from: str = ""  # a preference run's starting run: its "base" side is that run's tuned model

    def to_json(self) -> dict:
        return asdict(self)

    @classmethod
    def from_json(cls, data: dict) -> "EvalReport":
        return cls(**{k: data[k] for k in cls.__dataclass_fields__ if k in data})

    def measure(self, name: str) -> dict | None:
        return next((row for row in self.measures if row["name"] == name), None)


def measure_rows(replies: dict[str, list[Reply]], contexts: list[Context]) -> list[dict]:
    """Every measure that applies, per side and on the data's own reference replies."""
    references = [Reply(c.reference, stopped=True) for c in contexts if c.reference.strip()]
    reference_contexts = [c for c in contexts if c.reference.strip()]
    rows = []
    for measure in MEASURES:
        values = {side: side_value(measure, side_replies, contexts) for side, side_replies in replies.items()}
        if all(v is None for v in values.values()):
            continue
        data = side_value(measure, references, reference_contexts) if references else None
        closer = closer_side(measure, data, (BASE, values.get(BASE)), (TUNED, values.get(TUNED)))
        rows.append({"name": measure.name, "label": measure.label, "definition": measure.definition,
                     "percent": measure.percent, "data": data, "values": values, "closer": closer})
    return rows


def verdict(loss: dict[str, dict], rows: list[dict], preference: dict[str, dict] | None = None) -> dict:
    """On how many measures the tuned model is nearer the data than the base, whether its held-out loss fell, and
    (a preference run) whether it prefers the held-out chosen replies more than the model it started from."""
    judged = [row for row in rows if row["closer"] is not None]
    closer = sum(1 for row in judged if row["closer"] == TUNED)
    further = sum(1 for row in judged if row["closer"] == BASE)
    base_loss, tuned_loss = (loss.get(side, {}).get("loss") for side in (BASE, TUNED))
    lower = None if base_loss is None or tuned_loss is None else tuned_loss < base_loss
    parts = []
    if lower is not None:
        parts.append(f"held-out loss {base_loss:.3f} → {tuned_loss:.3f} ({'lower' if lower else 'NOT lower'})")
    if judged:
        parts.append(f"tuned closer to the data on {closer} of {len(judged)} measures, the base on {further}")
    margins = [(preference or {}).get(side, {}).get("margin") for side in (BASE, TUNED)]
    margin_higher = None if None in margins else margins[1] > margins[0]
    if margin_higher is not None:
        parts.append(f"chosen-over-rejected margin {margins[0]:.2f} → {margins[1]:.2f} "
                     f"({'higher' if margin_higher else 'NOT higher'})")
    return {"closer": closer, "further": further, "of": len(judged), "loss_lower": lower, "margin_higher": margin_higher,
            "line": "; ".join(parts) or "nothing to compare: evaluate both the base and the tuned side"}


def format_value(value, percent: bool = True) -> str:
    """A measure's value as the tables show it: a share in percent, a ratio with two decimals."""
    if value is None:
        return "–"
    return f"{value:.0%}" if percent else f"{value:.2f}"


def format_loss(loss: dict | None) -> str:
    """`1.234 · ppl 3.43`, and for a GGUF side the perplexity it adds over the tuned model."""
    if not loss:
        return "–"
    extra = f" {loss['perplexity_vs_tuned']:+.1%}" if "perplexity_vs_tuned" in loss else ""
    return f"{loss['loss']:.3f} · ppl {loss['perplexity']:.2f}{extra}"


def format_margin(margin: dict | None) -> str:
    """`+3.21 · 80% chosen`: the preference margin, and for pairs how often the chosen reply wins."""
    if not margin:
        return "–"
    wins = f" · {margin['accuracy']:.0%} chosen" if margin.get("accuracy") is not None else ""
    return f"{margin['margin']:+.2f}{wins}"


def markdown(report: EvalReport) -> str:
    """eval.md: the numbers, then every prompt with the reference and each side's reply."""
    lines = [f"# Eval of run {report.run}", "", f"Base `{report.base}`; prompts from {report.source} "
             f"({len(report.samples)}); data language {report.language}; settings "
             + ", ".join(f"{k}={v}" for k, v in report.settings.items()) + ".", "", f"**{report.verdict.get('line', '')}**",
             "", "| | data | " + " | ".join(report.sides) + " | closer |", "|---|---|" + "---|" * len(report.sides) + "---|",
             "| held-out loss | – | " + " | ".join(format_loss(report.loss.get(s)) for s in report.sides) + " | |"]
    if report.preference:
        lines.append("| preference margin | – | " + " | ".join(format_margin(report.preference.get(s)) for s in report.sides)
                     + " | |")
    for row in report.measures:
        cells = " | ".join(format_value(row["values"].get(s), row["percent"]) for s in report.sides)
        lines.append(f"| {row['label']} | {format_value(row['data'], row['percent'])} | {cells} | {row['closer'] or ''} |")
    lines += ["", "Measures:", ""] + [f"- **{row['label']}**: {row['definition']}" for row in report.measures]
    if report.preference:
        lines.append(f"- **preference margin**: {PREFERENCE_DEFINITION}")
    if report.started_from:
        lines += ["", f"This is a preference run: its base side is the tuned model of `{report.started_from}`."]
    for number, sample in enumerate(report.samples, 1):
        lines += ["", f"## Prompt {number}", "", _quote(sample["messages"][-1]["content"]), "",
                  "**reference (the data)**", "", _quote(sample["reference"] or "(none given)")]
        for side in report.sides:
            reply = sample["replies"].get(side)
            if reply is None:
                continue
            budget = f" of {sample['budget']}" if "budget" in sample else ""  # reports before per-reply budgets
            ending = "ended by itself" if reply["stopped"] else f"cut at the reply budget{budget}"
            lines += ["", f"**{side}** ({reply['tokens']} tokens, {ending})", "", _quote(reply["text"] or "(empty)")]
    return "\n".join(lines) + "\n"


def _quote(text: str) -> str:
    return "\n".join(f"> {line}" if line else ">" for line in text.splitlines() or [""])


def write_report(run_root: Path, report: EvalReport) -> Path:
    """runs/<id>/eval/eval.json and eval.md, each written whole or not at all."""
    folder = Path(run_root) / EVAL_DIR
    write_text(folder / "eval.md", markdown(report))
    write_json(folder / "eval.json", report.to_json())
    return folder / "eval.json"


def read_report(run_root: Path) -> EvalReport | None:
    """The run's last eval, if it has one that can be read."""
    import json

    path = Path(run_root) / EVAL_DIR / "eval.json"
    try:
        return EvalReport.from_json(json.loads(path.read_text(encoding="utf-8")))
    except (OSError, ValueError, TypeError):
        return None
