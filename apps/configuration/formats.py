"""Reading and writing the document as JSON or YAML. YAML is read and written with PyYAML's
safe functions only: a configuration file never constructs Python objects."""

import json
from pathlib import Path
from typing import Any

import yaml

from apps.configuration.document import ConfigurationError

FORMATS = ("json", "yaml")
YAML_SUFFIXES = {".yaml", ".yml"}


def format_for(path: str | None, chosen: str | None) -> str:
    """The format asked for, else the one a file's name says (``.yaml``/``.yml``), else JSON."""
    if chosen:
        return chosen
    return "yaml" if path and Path(path).suffix.lower() in YAML_SUFFIXES else "json"


def dumps(document: dict[str, Any], fmt: str) -> str:
    """The document as text: the same document always gives the same bytes (keys in the
    document's own order, no flow style, a final newline)."""
    if fmt == "yaml":
        return yaml.safe_dump(document, sort_keys=False, allow_unicode=True, default_flow_style=False, width=120)
    return json.dumps(document, indent=2, ensure_ascii=False) + "\n"


def loads(text: str, fmt: str) -> Any:
    try:
        return yaml.safe_load(text) if fmt == "yaml" else json.loads(text)
    except (yaml.YAMLError, ValueError) as exc:
        raise ConfigurationError([f"Not valid {fmt.upper()}: {exc}"]) from exc
