"""Save the hosted connector id into `.dlt/config.toml`, where the next run reads it.

The file is edited with tomlkit, so comments, order and the other keys stay as they
were, and it is replaced atomically. Only `sources.pinterest.airbyte.connector_id` is
written: a connector id is not a secret, and dlt rejects secrets in config.toml.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import tomlkit
from tomlkit.exceptions import TOMLKitError
from tomlkit.items import Table

from ..errors import ConfigError

CONNECTOR_ID_KEY = "sources.pinterest.airbyte.connector_id"
CONNECTOR_ID_ENV = "SOURCES__PINTEREST__AIRBYTE__CONNECTOR_ID"


def default_config_path() -> Path:
    """`.dlt/config.toml` in the working folder, the file dlt reads by default."""
    return Path.cwd() / ".dlt" / "config.toml"


def save_connector_id(connector_id: str, path: Path | None = None) -> Path:
    """Set `sources.pinterest.airbyte.connector_id` in a dlt config file and return its path.

    Creates the file and its tables when missing. Raises ConfigError when the file is
    not valid TOML or a key on the way is not a table.
    """
    path = path or default_config_path()
    try:
        text = path.read_text(encoding="utf-8") if path.exists() else ""
        document = tomlkit.parse(text)
    except (OSError, UnicodeDecodeError, TOMLKitError) as error:
        raise ConfigError(f"Cannot read {path} to save {CONNECTOR_ID_KEY}: {error}. Fix the file, or set {CONNECTOR_ID_ENV}={connector_id}.") from None

    table = document
    for index, name in enumerate(("sources", "pinterest", "airbyte")):
        if name not in table:
            table[name] = tomlkit.table(is_super_table=index < 2)
        table = table[name]
        if not isinstance(table, (Table, dict)):
            dotted = ".".join(("sources", "pinterest", "airbyte")[: index + 1])
            raise ConfigError(f"{path}: {dotted} is not a table, so {CONNECTOR_ID_KEY} cannot be saved there. Fix the file, or set {CONNECTOR_ID_ENV}={connector_id}.")
    table["connector_id"] = connector_id

    _write_atomically(path, tomlkit.dumps(document))
    return path


def _write_atomically(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    mode = path.stat().st_mode & 0o777 if path.exists() else 0o644
    handle, temporary = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        with os.fdopen(handle, "w", encoding="utf-8") as file:
            file.write(text)
        os.chmod(temporary, mode)
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
