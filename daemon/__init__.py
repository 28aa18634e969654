"""replyd: the CLI, settings, wire contracts and logging; ``service`` is what ``replyd run``
executes, ``tools`` the offline commands."""

__version__ = "0.1.0"
