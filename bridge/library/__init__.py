"""The user's MIDI library: incremental index (SQLite) and hybrid text/example search over bar windows.

See docs/library.md for the storage design, crash safety, ranking and the search JSON schema.
"""

from bridge.library.library import Library, LibraryBusy
from bridge.library.types import (
    SEARCH_SCHEMA_VERSION,
    Encoder,
    FileIssue,
    Hit,
    IndexReport,
    SearchQuery,
    SearchResult,
    model_key,
)

__all__ = [
    "SEARCH_SCHEMA_VERSION",
    "Encoder",
    "FileIssue",
    "Hit",
    "IndexReport",
    "Library",
    "LibraryBusy",
    "SearchQuery",
    "SearchResult",
    "model_key",
]
