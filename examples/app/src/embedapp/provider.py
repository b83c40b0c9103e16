"""The embedding provider, version 4: loaded in a background thread from the moment load() returns.

The import stays light (sentence-transformers is imported in the thread); the first encode waits
only for what is left of the load. Until then ``ready`` is False and search falls back to BM25.
"""

from __future__ import annotations

import threading


class BackgroundProvider:
    def __init__(self, model_path: str, device: str):
        self._model = None
        self._error: BaseException | None = None
        self._thread = threading.Thread(target=self._load, args=(model_path, device), daemon=True)
        self._thread.start()

    def _load(self, model_path: str, device: str) -> None:
        try:
            from sentence_transformers import SentenceTransformer

            self._model = SentenceTransformer(model_path, device=device)
        except BaseException as exc:  # re-raised by encode, in the caller's thread
            self._error = exc

    @property
    def ready(self) -> bool:
        return self._model is not None

    def encode(self, sentences, **kwargs):
        self._thread.join()
        if self._error is not None:
            raise RuntimeError(f"the model failed to load: {self._error}") from self._error
        return self._model.encode(sentences, **kwargs)


def load(model_path: str, device: str = "cpu") -> BackgroundProvider:
    return BackgroundProvider(model_path, device)
