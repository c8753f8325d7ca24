"""Pure statistics for Prefstack: agreement, aggregation rules and simulated annotators.

Nothing in this package imports Django. Inputs are numpy arrays or pandas DataFrames in the long annotation
format documented in :mod:`annotator.stats.aggregation`; outputs are numbers, arrays, DataFrames and frozen
dataclasses that the selectors turn into pages and API payloads.

Modules
-------
agreement
    Krippendorff's alpha (nominal / ordinal / interval), quadratic-weighted Cohen's kappa (pairwise and pooled),
    bootstrap confidence intervals, per-annotator and per-comparison statistics, long format -> matrix builders.
aggregation
    Aggregation rules (HelpSteer2 "three most in agreement", mean, median) and their preview.
simulation
    Seeded simulated annotators with a known truth, for tests, demos and benchmarks.
"""
