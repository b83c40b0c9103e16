"""Verdicts on measurements: targets, comparisons by asv's rule, and recommendations."""
