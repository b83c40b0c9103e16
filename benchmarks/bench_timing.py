"""Wall time of each load stage, each sample in a fresh interpreter (asv ``timeraw_``).

The classes are ``embedload.suite``'s (its docstring says how a sample is timed, warm and cold);
this module gives them the suite's params.
"""

from . import common


class Import(common.suite.Import):
    """``from sentence_transformers import SentenceTransformer`` (or the runtime's import)."""

    params = (common.RUNTIMES, common.CACHES)


class Load(common.suite.Load):
    """Constructing the model, its first encode, and the whole load timed as one."""

    params = (common.MODELS, common.RUNTIMES, common.CACHES)
