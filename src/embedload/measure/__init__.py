"""Measuring: one fresh interpreter per sample, its stages timed and their memory read, warm or cold.

Kept empty on purpose: a cold sample's eviction helper starts as ``python -m embedload.measure.evict``,
right before the measured stages, and should load nothing it does not need.
"""
