"""The embedding provider, version 3: lazy, but a module-level import for a type hint undoes it."""

import sentence_transformers  # the regression: every importer of this module now pays for it


class LazyProvider:
    def __init__(self, model_path: str, device: str):
        self.model_path, self.device = model_path, device
        self._model: sentence_transformers.SentenceTransformer | None = None

    @property
    def ready(self) -> bool:
        return self._model is not None

    def encode(self, sentences, **kwargs):
        if self._model is None:
            self._model = sentence_transformers.SentenceTransformer(self.model_path, device=self.device)
        return self._model.encode(sentences, **kwargs)


def load(model_path: str, device: str = "cpu") -> LazyProvider:
    return LazyProvider(model_path, device)
