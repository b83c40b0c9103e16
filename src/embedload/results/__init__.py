"""Measurements read back: asv's results files, a profile's JSON, and the asv-results branch."""
