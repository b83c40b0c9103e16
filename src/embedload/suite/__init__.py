"""What asv benchmark files import: the harness (params, settings) and the benchmark classes.

``benchmarks/`` and the suite ``embedload init`` writes subclass :mod:`embedload.suite.classes` and give
them :mod:`embedload.suite.harness`'s params.
"""
