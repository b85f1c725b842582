"""Interfaces through which people and systems drive rollsafe: the CLI and (later) the API."""
