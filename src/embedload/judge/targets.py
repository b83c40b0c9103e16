"""Performance targets from ``[tool.embedload.targets]`` in ``pyproject.toml``.

Defaults are the seed script's warm targets: every report shows them, but the gate fails only on
a target the project set itself (:meth:`TargetTable.set_for`), since an application that imports
sentence-transformers at start-up misses the seed's import target (1 s) on every commit, and a
check that is red from day one is not read (docs/gate.md, "Targets"). Overrides layer, most
specific last::

    [tool.embedload.targets]                 # all models, warm (and cold unless overridden)
    total = 5.0                              # seconds
    import = 1.0
    init = 3.0
    first_encode = 0.2
    memory_mb = 500                          # RSS growth over the total run, MB = 10^6 bytes

    [tool.embedload.targets.cold]            # all models, cold
    total = 8.0

    [tool.embedload.targets.models."all-mpnet-base-v2"]        # one model, warm and cold
    init = 5.0

    [tool.embedload.targets.models."all-mpnet-base-v2".cold]   # one model, cold
    total = 12.0
"""

from __future__ import annotations

from dataclasses import dataclass

from embedload.base.config import Config, ConfigError

#: metric -> (default, unit, label)
METRICS: dict[str, tuple[float, str, str]] = {
    "total": (5.0, "s", "Total Load"),
    "import": (1.0, "s", "Import"),
    "init": (3.0, "s", "Model Init"),
    "first_encode": (0.2, "s", "First Encode"),
    "memory_mb": (500.0, "MB", "Memory Usage"),
}
DEFAULT_TARGETS = {name: spec[0] for name, spec in METRICS.items()}
_NESTED = {"cold", "models"}


@dataclass(frozen=True)
class TargetTable:
    base: dict[str, float]
    cold: dict[str, float]
    models: dict[str, dict[str, dict[str, float]]]  # model -> {"warm": {...}, "cold": {...}}

    def applying_to(self, model: str | None, cache: str) -> dict[str, float]:
        """The targets that apply to ``model`` in cache state ``cache``."""
        merged = dict(DEFAULT_TARGETS)
        merged.update(self.base)
        if cache == "cold":
            merged.update(self.cold)
        per_model = self.models.get(model or "", {})
        merged.update(per_model.get("warm", {}))
        if cache == "cold":
            merged.update(per_model.get("cold", {}))
        return merged

    def set_for(self, model: str | None, cache: str) -> set[str]:
        """The metrics whose target for ``model`` in ``cache`` the project set (the rest are the defaults)."""
        per_model = self.models.get(model or "", {})
        layers = [self.base, per_model.get("warm", {})]
        if cache == "cold":
            layers += [self.cold, per_model.get("cold", {})]
        return {name for layer in layers for name in layer}


def _metrics(table: object, where: str, path, allow: set[str]) -> dict[str, float]:
    if not isinstance(table, dict):
        raise ConfigError(f"{path}: {where} must be a table, found {type(table).__name__}")
    out = {}
    for key, value in table.items():
        if key in allow:
            continue
        if key not in METRICS:
            raise ConfigError(
                f"{path}: unknown key {key!r} in {where}; expected one of "
                f"{', '.join(list(METRICS) + sorted(allow))}"
            )
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not value > 0:
            unit = METRICS[key][1]
            raise ConfigError(f"{path}: {where} {key} must be a positive number ({unit}), found {value!r}")
        out[key] = float(value)
    return out


def load_targets(config: Config) -> TargetTable:
    """Validate and load the targets; every bad key or value names the file and the key."""
    path = config.path or "pyproject.toml"
    raw = config.section.get("targets", {})
    where = "[tool.embedload.targets]"
    base = _metrics(raw, where, path, allow=_NESTED)
    cold = _metrics(raw.get("cold", {}), f"{where[:-1]}.cold]", path, allow=set())
    models_raw = raw.get("models", {})
    if not isinstance(models_raw, dict):
        raise ConfigError(f"{path}: {where[:-1]}.models] must be a table of model name -> targets")
    models = {}
    for name, table in models_raw.items():
        mwhere = f'{where[:-1]}.models."{name}"]'
        warm = _metrics(table, mwhere, path, allow={"cold"})
        mcold = _metrics(table.get("cold", {}), f"{mwhere[:-1]}.cold]", path, allow=set())
        models[name] = {"warm": warm, "cold": mcold}
    return TargetTable(base=base, cold=cold, models=models)
