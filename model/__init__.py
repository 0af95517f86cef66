"""Synthetic churn data, calibration against the workshop file, and model training."""
