"""Monitoring runner Lambda: `handler` (AWS shell) over `runner` (one run, as the processing job does it)."""
