"""The embedding provider, version 1: eager. Importing this module imports sentence-transformers."""

from sentence_transformers import SentenceTransformer


def load(model_path: str, device: str = "cpu"):
    """The model, ready: everything is paid before the first request."""
    return SentenceTransformer(model_path, device=device)
