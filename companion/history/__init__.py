"""Every chat, message and tarot reading, in SQLite at `HEARTH_HOME/history.db`.

database.py holds the file: its connection, the public write transaction and the migrations (registered
in order, recorded by name). chats.py (HistoryStore) and companion/readings.py (ReadingStore) are peers
over it. The names below are the package's public face, so `from companion.history import …` is all
other code needs.
"""

from companion.history.chats import STAT_COLUMNS, Alternative, ChatRecord, HistoryStore, StoredMessage
from companion.history.database import (APPLICATION_ID, MIGRATIONS, RATINGS, Database, check_rating,
                                        latest_version, migration)

__all__ = ["APPLICATION_ID", "MIGRATIONS", "RATINGS", "STAT_COLUMNS", "Alternative", "ChatRecord", "Database",
           "HistoryStore", "StoredMessage", "check_rating", "latest_version", "migration"]
