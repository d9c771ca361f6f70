"""The error tree of redcli.

Every error a user can cause or meet is a :class:`RedcliError` carrying a one-line,
human-readable message and the process exit code the CLI should use. Library code
raises these; only ``redcli.cli`` turns them into messages and exit codes.
"""

from __future__ import annotations


class RedcliError(Exception):
    """Base class: a failure explained by ``str(error)`` in one line."""

    exit_code: int = 1


class UsageError(RedcliError):
    """The command line asks for something impossible (bad option value, no inputs)."""

    exit_code = 2


class DeviceError(UsageError):
    """The requested device or precision is not available on this machine."""


class ImageReadError(RedcliError):
    """An input file cannot be decoded: corrupt, truncated, unsupported, too large..."""


class ImageWriteError(RedcliError):
    """An output file cannot be written."""


class ModelError(RedcliError):
    """A model name is unknown or a file is not a valid RED-Net weights file."""


class DownloadError(RedcliError):
    """Fetching weights failed (HTTP error, timeout, truncated body)."""


class ChecksumError(DownloadError):
    """A file's sha256 does not match the registry."""


class OfflineError(RedcliError):
    """The network is forbidden (``REDCLI_OFFLINE=1``) and a file is missing."""


class DatasetError(RedcliError):
    """A benchmark or training set is missing, incomplete or altered."""


class TrainingError(RedcliError):
    """A training run cannot start or continue (bad config, bad checkpoint)."""
