"""The connector registry (``airbyte.registry``)."""

from enum import Enum

from airbyte_rs._native import get_available_connectors

__all__ = ["InstallType", "get_available_connectors"]


class InstallType(str, Enum):
    """How a connector is installed."""

    YAML = "yaml"
    PYTHON = "python"
    DOCKER = "docker"
    JAVA = "java"
    INSTALLABLE = "installable"
    ANY = "any"
