"""Domain errors. The CLI turns each into one line on stderr and exit code 1."""

__all__ = ["BeamsimError", "DataFileError", "ScenarioError", "BackendUnavailableError", "OutputBusyError"]


class BeamsimError(Exception):
    """Base class of every error beamsim raises on bad input or a broken environment."""


class DataFileError(BeamsimError):
    """A data file is missing, corrupt, of a foreign format or fails validation."""


class ScenarioError(BeamsimError):
    """A scenario name or scenario file is unknown or invalid."""


class BackendUnavailableError(BeamsimError):
    """A simulation back-end cannot run here (e.g. Sionna RT without a usable LLVM)."""


class OutputBusyError(BeamsimError):
    """Another run is writing the same output (it holds the output's lock file)."""
