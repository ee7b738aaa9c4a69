"""Per-commit history: runs recorded into a store (SQLite or PostgreSQL), a gate against a baseline, and reports."""
