"""PyAirbyte's exception classes, same names and hierarchy (``airbyte.exceptions``).

Errors raised by ``airbyte_rs`` are instances of these classes, so ``except`` clauses written
for PyAirbyte catch the same failures. Each carries ``message``, ``guidance``, ``help_url``,
``log_text``, ``log_file`` and ``context``; ``str(exc)`` renders them as PyAirbyte does.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

__all__ = [
    "PyAirbyteError",
    "PyAirbyteInternalError",
    "PyAirbyteInputError",
    "PyAirbyteNoStreamsSelectedError",
    "PyAirbyteNameNormalizationError",
    "PyAirbyteCacheError",
    "PyAirbyteCacheTableValidationError",
    "AirbyteConnectorConfigurationMissingError",
    "AirbyteSubprocessError",
    "AirbyteSubprocessFailedError",
    "AirbyteConnectorRegistryError",
    "AirbyteConnectorNotRegisteredError",
    "AirbyteConnectorNotPyPiPublishedError",
    "AirbyteConnectorError",
    "AirbyteConnectorExecutableNotFoundError",
    "AirbyteConnectorInstallationError",
    "AirbyteConnectorReadError",
    "AirbyteConnectorWriteError",
    "AirbyteConnectorSpecFailedError",
    "AirbyteConnectorDiscoverFailedError",
    "AirbyteNoDataFromConnectorError",
    "AirbyteConnectorMissingCatalogError",
    "AirbyteConnectorMissingSpecError",
    "AirbyteConnectorValidationFailedError",
    "AirbyteConnectorCheckFailedError",
    "AirbyteConnectorFailedError",
    "AirbyteStreamNotFoundError",
    "AirbyteStateNotFoundError",
    "PyAirbyteSecretNotFoundError",
    "AirbyteError",
    "PyAirbyteWarning",
    "PyAirbyteDataLossWarning",
    "AirbyteExperimentalFeatureWarning",
]

_SPECIAL = {
    "message",
    "guidance",
    "help_url",
    "log_text",
    "log_file",
    "context",
    "original_exception",
}


class PyAirbyteError(Exception):
    """The root of every airbyte_rs (and PyAirbyte) error."""

    def __init__(
        self,
        message: str | None = None,
        *,
        guidance: str | None = None,
        help_url: str | None = None,
        log_text: str | list[str] | None = None,
        log_file: str | Path | None = None,
        context: dict[str, Any] | None = None,
        original_exception: BaseException | None = None,
        **extra: Any,
    ) -> None:
        self.message = message
        self.guidance = guidance
        self.help_url = help_url
        self.log_text = log_text
        self.log_file = Path(log_file) if log_file is not None else None
        self.context = dict(context or {})
        self.original_exception = original_exception
        for key, value in extra.items():
            setattr(self, key, value)
        super().__init__(self.get_message())

    def get_message(self) -> str:
        """The message, else the class's first doc line."""
        if self.message:
            return self.message
        doc = (type(self).__doc__ or type(self).__name__).strip()
        return doc.splitlines()[0]

    def __str__(self) -> str:
        shown = {
            k: v
            for k, v in self.__dict__.items()
            if k not in _SPECIAL and not k.startswith("_") and v is not None
        }
        shown.update({k: v for k, v in self.context.items() if k != "log_file"})
        text = f"{self.get_message()} ({type(self).__name__})"
        lines = [f"{str(k).replace('_', ' ').title()}: {v!r}" for k, v in shown.items()]
        if lines:
            text += "\n    " + "\n    ".join(lines)
        if self.log_file:
            text += f"\n    Log file: {self.log_file}"
        if self.log_text:
            log = self.log_text if isinstance(self.log_text, str) else "\n".join(self.log_text)
            text += "\n    Log output:\n        " + "\n        ".join(log.splitlines())
        if self.guidance and self.guidance not in self.get_message():
            text += f"\n    Suggestion: {self.guidance}"
        if self.help_url:
            text += f"\n    More info: {self.help_url}"
        if self.original_exception:
            text += f"\n    Caused by: {self.original_exception!r}"
        return text

    def __repr__(self) -> str:
        return f"{type(self).__name__}(message={self.get_message()!r})"

    def safe_logging_dict(self) -> dict[str, Any]:
        """The error as a dict without secrets (PyAirbyte's telemetry view)."""
        out: dict[str, Any] = {"class": type(self).__name__, "message": self.get_message()}
        if self.guidance:
            out["guidance"] = self.guidance
        if self.help_url:
            out["help_url"] = self.help_url
        if "connector_name" in self.context:
            out["connector_name"] = self.context["connector_name"]
        return out


class PyAirbyteInternalError(PyAirbyteError):
    """An internal error occurred in airbyte_rs."""


class PyAirbyteInputError(PyAirbyteError, ValueError):
    """The input provided was invalid."""


class PyAirbyteNoStreamsSelectedError(PyAirbyteInputError):
    """No streams were selected for the source."""


class PyAirbyteNameNormalizationError(PyAirbyteError, ValueError):
    """A name could not be normalized."""


class PyAirbyteCacheError(PyAirbyteError):
    """An error occurred in the cache."""


class PyAirbyteCacheTableValidationError(PyAirbyteCacheError):
    """Cache table validation failed."""


class AirbyteConnectorConfigurationMissingError(PyAirbyteCacheError):
    """Connector is missing configuration."""


class AirbyteSubprocessError(PyAirbyteError):
    """Error when running a subprocess."""


class AirbyteSubprocessFailedError(AirbyteSubprocessError):
    """Subprocess failed."""


class AirbyteConnectorRegistryError(PyAirbyteError):
    """Error when accessing the connector registry."""


class AirbyteConnectorNotRegisteredError(AirbyteConnectorRegistryError):
    """Connector not found in registry."""


class AirbyteConnectorNotPyPiPublishedError(AirbyteConnectorRegistryError):
    """Connector found, but not published to PyPI."""


class AirbyteConnectorError(PyAirbyteError):
    """Error when running the connector."""


class AirbyteConnectorExecutableNotFoundError(AirbyteConnectorError):
    """Connector executable not found."""


class AirbyteConnectorInstallationError(AirbyteConnectorError):
    """Error when installing the connector."""


class AirbyteConnectorReadError(AirbyteConnectorError):
    """Error when reading from the connector."""


class AirbyteConnectorWriteError(AirbyteConnectorError):
    """Error when writing to the connector."""


class AirbyteConnectorSpecFailedError(AirbyteConnectorError):
    """Error when getting spec from the connector."""


class AirbyteConnectorDiscoverFailedError(AirbyteConnectorError):
    """Error when running discovery on the connector."""


class AirbyteNoDataFromConnectorError(AirbyteConnectorError):
    """No data was provided from the connector."""


class AirbyteConnectorMissingCatalogError(AirbyteConnectorError):
    """Connector did not return a catalog."""


class AirbyteConnectorMissingSpecError(AirbyteConnectorError):
    """Connector did not return a spec."""


class AirbyteConnectorValidationFailedError(AirbyteConnectorError):
    """Connector config validation failed."""


class AirbyteConnectorCheckFailedError(AirbyteConnectorError):
    """Connector check failed."""


class AirbyteConnectorFailedError(AirbyteConnectorError):
    """Connector failed."""


class AirbyteStreamNotFoundError(AirbyteConnectorError):
    """Connector stream not found."""


class AirbyteStateNotFoundError(AirbyteConnectorError, KeyError):
    """State entry not found."""

    def __str__(self) -> str:  # KeyError quotes its argument; keep the full text instead.
        return PyAirbyteError.__str__(self)


class PyAirbyteSecretNotFoundError(PyAirbyteError):
    """Secret not found."""


class AirbyteError(PyAirbyteError):
    """An error occurred in Airbyte (Cloud)."""


class PyAirbyteWarning(Warning):
    """General warnings from airbyte_rs."""


class PyAirbyteDataLossWarning(PyAirbyteWarning):
    """Warning for potential data loss."""


class AirbyteExperimentalFeatureWarning(FutureWarning):
    """Warning for experimental features."""
