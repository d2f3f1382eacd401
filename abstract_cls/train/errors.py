"""Errors that mean "the user asked for something impossible": main prints them in one line."""


class ConfigError(ValueError):
  """A config value names something that does not exist or contradicts another one."""


class CheckpointNotFoundError(FileNotFoundError):
  """The workdir holds no (usable) checkpoint for eval / predict / inference."""
