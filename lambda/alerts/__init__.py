"""Violation alerts Lambda: `handler` (AWS shell), `events` (event parsing), `summary` (pure messages)."""
