"""Reading the domain's data files (YAML/JSON shipped inside ``crm.data``)."""

from __future__ import annotations

import json
from importlib import resources
from typing import Any

import yaml

from crm.domain.errors import DomainError


class InvalidConfiguration(DomainError):
    """A data file (catalogue, tiering weights) does not pass its validation."""

    code = "invalid_configuration"


def read_data_file(name: str) -> Any:
    """Parse ``crm/data/<name>`` (``.yaml``/``.yml`` or ``.json``)."""
    text = resources.files("crm.data").joinpath(name).read_text(encoding="utf-8")
    return parse_text(text, json_format=name.endswith(".json"))


def parse_text(text: str, *, json_format: bool = False) -> Any:
    try:
        return json.loads(text) if json_format else yaml.safe_load(text)
    except (yaml.YAMLError, json.JSONDecodeError) as exc:
        raise InvalidConfiguration(f"cannot parse data file: {exc}") from exc
