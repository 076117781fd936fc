"""Analyze stage: pure statistics on numpy arrays (no I/O, no other stage)."""

from evalkit.analyze.intervals import Interval, SeedSummary, binomial_interval, seed_summary, wilson

__all__ = ["Interval", "SeedSummary", "binomial_interval", "seed_summary", "wilson"]
