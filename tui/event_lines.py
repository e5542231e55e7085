"""A job's events (hearth.events) as one line each, the same words in the CLI (rich) and the TUI's job log (Textual).

`step` events are not here: the CLI's progress bar and the TUI's TrainProgress draw those; `done` and `error`
end a job and each front end says them its own way.
"""

from __future__ import annotations

from rich.text import Text

from hearth.events import EVAL, LOG, SAVED, STAGE, WARNING
from tui.step_lines import fmt_number



def _eval_line(event: dict) -> str:
    line = f"eval at step {event.get('step')}: loss {fmt_number(event.get('eval_loss'), '.4f')}"
    if "reward_margin" in event:  # a DPO/KTO run: how far the chosen replies are ahead on held-out rows
        line += f", reward margin {fmt_number(event['reward_margin'], '+.3f')}"
    if "reward_accuracy" in event:
        line += f" ({event['reward_accuracy']:.0%} chosen)"
    return line


# event kind -> (how to say it, style).
EVENT_LINES = {
    STAGE: (lambda e: e.get("message", ""), ""),
    EVAL: (_eval_line, "cyan"),
    SAVED: (lambda e: f"saved {e.get('path')}", "dim"),
    WARNING: (lambda e: f"warning: {e.get('message')}", "yellow"),
    LOG: (lambda e: e.get("text", ""), "dim"),
}


def event_line(event: dict) -> Text | None:
    """The event's line, styled, or None for a kind that is not said as a line."""
    line = EVENT_LINES.get(event.get("event"))
    if line is None:
        return None
    say, style = line
    return Text(say(event), style=style)
