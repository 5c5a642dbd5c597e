"""Benchmarks (``make bench``): speed and memory figures, measured and reported, not asserted."""
