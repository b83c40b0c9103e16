"""The embedding provider, version 2: lazy. Nothing heavy is imported or loaded until the first encode."""


class LazyProvider:
    def __init__(self, model_path: str, device: str):
        self.model_path, self.device, self._model = model_path, device, None

    @property
    def ready(self) -> bool:
        return self._model is not None

    def encode(self, sentences, **kwargs):
        if self._model is None:
            from sentence_transformers import SentenceTransformer

            self._model = SentenceTransformer(self.model_path, device=self.device)
        return self._model.encode(sentences, **kwargs)


def load(model_path: str, device: str = "cpu") -> LazyProvider:
    return LazyProvider(model_path, device)
