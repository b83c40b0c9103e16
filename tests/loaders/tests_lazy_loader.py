"""A tests-only application loader, as a team would write one: sentence-transformers imported
lazily inside the loader, so the module's own import is cheap and init pays for the stack."""

import time

LOAD_CALLS = []


class LazyEmbedder:
    def __init__(self, model_path, device):
        from sentence_transformers import SentenceTransformer

        self._model = SentenceTransformer(model_path, device=device)

    def encode(self, sentence):
        return self._model.encode(sentence)


def load(model_path, device):
    LOAD_CALLS.append(time.time())
    return LazyEmbedder(model_path, device)
