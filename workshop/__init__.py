"""The Model Monitor workshop's loop on a laptop: local endpoint with data capture, traffic,
inspection of captures and runs, HTML reports, and `make demo` (see `python -m workshop --help`)."""
