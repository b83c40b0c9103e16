"""Reading ``[tool.embedload]`` from a project's ``pyproject.toml``.

The file is found from ``EMBEDLOAD_CONFIG`` if set, else by walking up from the current
directory. A missing file is fine (everything has a default); a malformed one is an error
that names the file and the key.
"""

from __future__ import annotations

import os
import tomllib
from dataclasses import dataclass, field
from pathlib import Path

CONFIG_ENV = "EMBEDLOAD_CONFIG"

#: The keys ``[tool.embedload]`` may hold. Later features add theirs here, so that a typo
#: is caught instead of silently ignored.
KNOWN_SECTIONS = {"models", "targets", "loader", "suite"}

#: How a loader makes the model usable; the report reads its stages accordingly.
#: The load strategies an application can name (embedload.measure.strategies defines each).
STRATEGIES = ("eager", "lazy", "background", "service")


@dataclass(frozen=True)
class SuiteSettings:
    """``[tool.embedload.suite]``: what an application's asv suite measures (``embedload init``)."""

    loaders: tuple[str, ...]
    strategies: dict  # loader -> strategy, for the loaders that name one
    models: tuple[str, ...]
    runtimes: tuple[str, ...]
    caches: tuple[str, ...]



class ConfigError(ValueError):
    """A ``pyproject.toml`` that cannot be used, with the file and key named."""


class UsageError(ValueError):
    """Options that cannot be used (together, here, or at all): one line saying what to do; exit 2."""


@dataclass(frozen=True)
class Config:
    path: Path | None
    section: dict = field(default_factory=dict)

    @property
    def root(self) -> Path:
        return self.path.parent if self.path else Path.cwd()

    def loader(self) -> str | None:
        """``[tool.embedload] loader = "module:callable"``, validated."""
        value = self.section.get("loader")
        if value is None:
            return None
        if not isinstance(value, str) or ":" not in value:
            raise ConfigError(f"{self.path}: [tool.embedload] loader must be \"module:callable\", found {value!r}")
        return value

    def suite(self, default_model: str) -> SuiteSettings:
        """``[tool.embedload.suite]``, validated, with its defaults.

        ``loaders``: ``"module:callable"`` strings or ``{loader = "...", strategy = "lazy"}`` tables
        (default: ``[tool.embedload] loader``); ``models`` (default: ``default_model``); ``runtimes``:
        built-in runtimes measured beside the loaders (default: st-torch when there is no loader);
        ``caches``: ``warm`` and/or ``cold`` (default: warm).
        """
        raw = self.section.get("suite", {})
        where = f"{self.path}: [tool.embedload.suite]"
        if not isinstance(raw, dict):
            raise ConfigError(f"{where} must be a table")
        unknown = sorted(set(raw) - {"loaders", "models", "runtimes", "caches"})
        if unknown:
            raise ConfigError(f"{where}: unknown key(s) {', '.join(unknown)}; expected loaders, models, runtimes, caches")
        loaders, strategies = self._suite_loaders(raw, where)

        def strings(key, default):
            value = raw.get(key, default)
            if not isinstance(value, list) or not all(isinstance(v, str) and v for v in value):
                raise ConfigError(f"{where} {key} must be a list of names, found {value!r}")
            return tuple(value)

        caches = strings("caches", ["warm"])
        bad = [c for c in caches if c not in ("warm", "cold")]
        if bad:
            raise ConfigError(f"{where} caches: expected warm and/or cold, found {', '.join(bad)}")
        runtimes = strings("runtimes", [] if loaders else ["st-torch"])
        if not loaders and not runtimes:
            raise ConfigError(f"{where} measures nothing: name loaders (or [tool.embedload] loader) or runtimes")
        return SuiteSettings(tuple(loaders), strategies, strings("models", [default_model]), runtimes, caches)

    def strategies(self) -> dict[str, str]:
        """The strategy each ``[tool.embedload.suite]`` loader names (eager, lazy, ...), by loader."""
        raw = self.section.get("suite", {})
        return self._suite_loaders(raw, f"{self.path}: [tool.embedload.suite]")[1] if isinstance(raw, dict) else {}

    def _suite_loaders(self, raw: dict, where: str) -> tuple[list[str], dict[str, str]]:
        loaders, strategies = [], {}
        default = [self.loader()] if self.loader() else []
        for entry in raw.get("loaders", default):
            spec, strategy = (entry.get("loader"), entry.get("strategy")) if isinstance(entry, dict) else (entry, None)
            if not isinstance(spec, str) or spec.count(":") != 1:
                raise ConfigError(f"{where} loaders: each is \"module:callable\" or {{loader = \"module:callable\", "
                                  f"strategy = ...}}, found {entry!r}")
            if strategy is not None and strategy not in STRATEGIES:
                raise ConfigError(f"{where} loaders: strategy of {spec} must be one of {', '.join(STRATEGIES)}, found {strategy!r}")
            loaders.append(spec)
            if strategy:
                strategies[spec] = strategy
        return loaders, strategies

    def model_mapping(self) -> dict[str, Path]:
        """``[tool.embedload.models]``: name -> folder, relative paths taken from the file's folder."""
        raw = self.section.get("models", {})
        if not isinstance(raw, dict):
            raise ConfigError(
                f"{self.path}: [tool.embedload.models] must be a table of name = \"path\", "
                f"found {type(raw).__name__}"
            )
        mapping = {}
        for name, value in raw.items():
            if not isinstance(value, str) or not value:
                raise ConfigError(
                    f"{self.path}: [tool.embedload.models] {name!r} must be a folder path "
                    f"string, found {value!r}"
                )
            folder = Path(os.path.expanduser(value))
            mapping[name] = folder if folder.is_absolute() else self.root / folder
        return mapping


def find_pyproject(start: Path | None = None) -> Path | None:
    """``EMBEDLOAD_CONFIG`` if set, else the nearest ``pyproject.toml`` from ``start`` upwards."""
    explicit = os.environ.get(CONFIG_ENV)
    if explicit:
        path = Path(explicit)
        if not path.is_file():
            raise ConfigError(f"{CONFIG_ENV}={explicit} does not name a file")
        return path
    here = (start or Path.cwd()).resolve()
    for folder in (here, *here.parents):
        candidate = folder / "pyproject.toml"
        if candidate.is_file():
            return candidate
    return None


def load_config(path: Path | str | None = None) -> Config:
    """Load ``[tool.embedload]`` from ``path`` (default: :func:`find_pyproject`)."""
    path = Path(path) if path is not None else find_pyproject()
    if path is None:
        return Config(path=None)
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise ConfigError(f"cannot read {path}: {exc.strerror}") from None
    except UnicodeDecodeError as exc:
        raise ConfigError(f"{path} is not UTF-8 text (byte {exc.start}); TOML files must be UTF-8") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path} is not valid TOML: {exc}") from None
    tool = data.get("tool", {})
    if not isinstance(tool, dict):
        raise ConfigError(f"{path}: 'tool' must be a table ([tool.embedload] lives in it), found {type(tool).__name__}")
    section = tool.get("embedload", {})
    if not isinstance(section, dict):
        raise ConfigError(f"{path}: [tool.embedload] must be a table")
    unknown = sorted(set(section) - KNOWN_SECTIONS)
    if unknown:
        raise ConfigError(
            f"{path}: unknown key(s) in [tool.embedload]: {', '.join(unknown)}; "
            f"expected one of {', '.join(sorted(KNOWN_SECTIONS))}"
        )
    return Config(path=path, section=section)
