"""``python -m verify`` runs the command line."""

from verify.cli import entry_point

entry_point()
