"""embedload: measure, track and cut the load time of embedding models."""

__version__ = "0.1.0"
