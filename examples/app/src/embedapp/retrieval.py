"""Search over a few documents: by embeddings when the provider is ready, else by BM25 keywords."""

from __future__ import annotations

import math
import re
from collections import Counter

_WORD = re.compile(r"\w+")


def _words(text: str) -> list[str]:
    return _WORD.findall(text.lower())


def bm25_scores(query: str, documents: list[str], k1: float = 1.5, b: float = 0.75) -> list[float]:
    """Okapi BM25 of ``query`` against each document: the fallback needs no model."""
    docs = [_words(d) for d in documents]
    avg = sum(len(d) for d in docs) / max(len(docs), 1)
    df = Counter(word for d in docs for word in set(d))
    scores = []
    for d in docs:
        tf = Counter(d)
        score = 0.0
        for word in set(_words(query)):
            if word not in tf:
                continue
            idf = math.log(1 + (len(docs) - df[word] + 0.5) / (df[word] + 0.5))
            score += idf * tf[word] * (k1 + 1) / (tf[word] + k1 * (1 - b + b * len(d) / (avg or 1)))
        scores.append(score)
    return scores


def search(query: str, documents: list[str], provider=None, top: int = 3) -> list[tuple[float, str]]:
    """The ``top`` documents for ``query``: cosine of embeddings if ``provider`` is ready, else BM25."""
    if provider is not None and getattr(provider, "ready", True):
        vectors = provider.encode([query, *documents], normalize_embeddings=True)
        scores = [float(vectors[0] @ v) for v in vectors[1:]]
    else:
        scores = bm25_scores(query, documents)
    return sorted(zip(scores, documents), reverse=True)[:top]
