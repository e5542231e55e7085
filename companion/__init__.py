"""The offline runtime: a llama-cpp-python engine (load, stream, stop, cancel, `<think>` split),
context budgeting, chat sessions, and the SQLite history store.

- `settings.EngineSettings` — how a model is loaded and sampled.
- `engine.Engine` — `stream(messages)` yields `Chunk(text, kind)`; the `Reply` carries the stats.
- `budget.ContextBudget` — fits any conversation into the context, trimming in blocks.
- `session.ChatSession` — persona + engine + budget + history; send, retry, undo, new.
- `persona_choice.chat_persona` — which card of a persona a chat gets: the run's language, or the one asked for.
- `history.HistoryStore` — chats and messages in `HEARTH_HOME/history.db`; `readings.ReadingStore` — tarot readings.
- `dataset_export.export_dataset` — kept chats back into training data; `preferences` — curation as preference data.
- `serving` — what an export's Modelfile serves: the chat's sampling settings and the persona.
"""
