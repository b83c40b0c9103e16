"""embedapp: semantic search with a keyword fallback, over a sentence-transformers model."""
