"""The replyd service: settings, the Kafka loop, lifecycle, health and metrics, the CLI."""

__version__ = "0.1.0"
