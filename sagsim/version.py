"""The package version: one place, read by pyproject.toml, the CLI and every provenance record."""

__version__ = "0.1.0"
