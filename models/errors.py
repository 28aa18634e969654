"""The one exception tree of replyd.

Every error replyd raises on purpose derives from :class:`ReplydError`. Retry loops look only at
the class attribute ``retriable``; the top of the daemon turns the rest into dead letters (bad
input, unusable output) or a non-zero exit (a dead engine, bad configuration).

It lives in ``models`` because that is the bottom room: ``handlers`` and ``daemon`` import it,
``models`` imports neither of them.
"""

from __future__ import annotations


class ReplydError(Exception):
    """Base of every error replyd raises on purpose."""

    retriable: bool = False


class ConfigurationError(ReplydError):
    """A setting, file or argument is wrong; fix the configuration and start again."""


class ModelProvisioningError(ReplydError):
    """The base model could not be found, converted or verified."""


class AdapterError(ReplydError):
    """An adapter is unknown, outside the registry, not safetensors, or fails its checksum."""


class EngineError(ReplydError):
    """A transient failure of an inference engine (timeout, overloaded server): retry with backoff."""

    retriable = True


class EngineDeadError(EngineError):
    """The engine is gone (its process died, it cannot start). The process must stop, uncommitted."""

    retriable = False


class UnsupportedRequestError(ReplydError):
    """The request asks for something this engine cannot do (e.g. a p-tuning adapter on vLLM)."""


class OutputError(ReplydError):
    """The model's output for one request is unusable (not in the label set, not valid JSON...).

    It concerns one email, never the batch: that email becomes a dead letter with reason
    ``engine_output`` and the loop goes on.
    """
