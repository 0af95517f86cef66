"""Constructs, one concern each (capture bucket, endpoint, baseline, schedule, alerts)."""
