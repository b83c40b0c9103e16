"""What an asv.conf.json says, read with asv's own code: its folders and its environments' interpreters."""

from __future__ import annotations

from pathlib import Path

from embedload.base.config import UsageError
from embedload.results.asv_results import ResultsError


def asv_env_python(env_name: str | None = None, config: str | Path = "asv.conf.json") -> str:
    """The interpreter of an asv environment of ``config``: the one named ``env_name``, or the only one.

    Read with asv's own environment code, so the folder is the one ``asv run`` uses.
    """
    from asv import environment, util
    from asv.config import Config

    try:
        conf = Config.load(str(config))
    except util.UserError as exc:
        raise ResultsError(f"cannot read {config}: {exc}") from None
    envs = list(environment.get_environments(conf, [], verbose=False))
    if env_name is None and len(envs) != 1:
        raise ResultsError(f"{config} defines {len(envs)} environments; name one")
    for env in envs:
        if env_name is None or env.name == env_name:
            try:
                return env.find_executable("python")
            except OSError:
                raise ResultsError(
                    f"asv environment {env.name} is not built yet ({env._path}): run `asv setup --config {config}`"
                ) from None
    raise ResultsError(f"no environment named {env_name!r} in {config} (it has: {', '.join(e.name for e in envs) or 'none'})")


def results_dir_from_asv_conf(conf_path: str = "asv.conf.json") -> Path:
    """``results_dir`` of asv.conf.json, read with asv's own ``Config.load`` (as ``asv compare`` reads it)."""
    return asv_conf_dir(conf_path, "results_dir")


def html_dir_from_asv_conf(conf_path: str = "asv.conf.json") -> Path:
    return asv_conf_dir(conf_path, "html_dir")


def asv_conf_dir(conf_path: str, key: str) -> Path:
    path = Path(conf_path)
    if not path.is_file():
        raise UsageError(f"no {conf_path} in {Path.cwd()}; run from the suite's folder or pass --results DIR")
    from asv import util
    from asv.config import Config

    try:
        conf = Config.load(str(path))
    except util.UserError as exc:
        raise UsageError(f"cannot read {path}: {exc}") from None
    return (path.parent / getattr(conf, key)).resolve()
