"""A tarot reading as a service both front ends call: the request (who asks what, the cards laid out in
their positions, in which language, with which earlier readings), its prompt, and storing the result.

The prompt is `tuner.formats.tarot_row_prompt` of the request's row — the same function that turns a
tarot training row into the model's input — so a live reading reads exactly like the training data,
and a stored reading exported with `hearth tarot export-dataset` (spreads/reading_rows.py) gives back
the row the reading was made from.
"""

from __future__ import annotations

from dataclasses import dataclass

from hearth.language import run_language, text_language
from hearth.paths import run_of_export
from spreads.draw import Layout
from tuner.formats import tarot_row_prompt

READER = {"zh": "塔罗师", "en": "Tarot reader"}  # the reader's name in a conversation view
ANONYMOUS = {"zh": "匿名", "en": "Anonymous"}  # who asks when no name is given, in the prompt's language


@dataclass(frozen=True)
class ReadingRequest:
    person: str
    question: str
    spread_name: str  # as the user typed it: a name in the prompt's language is kept (Spread.prompt_name)
    layout: Layout
    language: str = "zh"  # the prompt's language: the run's (reading_language)
    history: tuple[dict, ...] = ()  # earlier readings of this person (spreads/querent_history.py), newest first

    @property
    def spread_text(self) -> str:
        return self.layout.spread.prompt_name(self.spread_name, self.language)

    @property
    def reader(self) -> str:
        return READER[self.language]

    def row(self) -> dict:
        """The tarot row of this reading, without the reading: what the prompt is built from."""
        row = {
            "person": self.person,
            "question": self.question,
            "spread": self.spread_text,
            "cards": self.layout.texts(self.language),
            "positions": self.layout.positions(self.language),
            "language": self.language,
        }
        if self.history:
            row["history"] = [dict(entry) for entry in self.history]
        return row

    def messages(self) -> list[dict]:
        return [{"role": "user", "content": tarot_row_prompt(self.row())}]

    def context(self) -> dict:
        """What the stored reading keeps beside its cards so its training row gives back this prompt."""
        return {"language": self.language, **({"history": [dict(e) for e in self.history]} if self.history else {})}


def reading_language(settings, question: str = "", choice: str | None = None) -> str:
    """The prompt's language: `choice` if given, else the language of the run the model (or its LoRA) was
    exported from (runs/<id>/gguf/…), else the question's."""
    if choice is not None:
        return choice
    fallback = text_language(question) if question.strip() else "zh"
    for path in (getattr(settings, "lora_path", None), getattr(settings, "model_path", None)):
        run = run_of_export(path)
        if run is not None:
            return run_language(run.root, default=fallback)
    return fallback


def model_label(settings) -> str:
    return " + ".join(str(p) for p in (settings.model_path, settings.lora_path) if p is not None)


def store_reading(store, request: ReadingRequest, reply, settings) -> int:
    """Keep a finished reading (companion.readings.ReadingStore) with its cards, positions, context and model."""
    return store.add(
        person=request.person,
        question=request.question,
        spread=request.spread_text,
        cards=request.layout.rows(request.language),
        reading=reply.text,
        reasoning=reply.reasoning,
        model=model_label(settings),
        tokens=reply.completion_tokens,
        seconds=round(reply.total_s, 3),
        context=request.context(),
    )

