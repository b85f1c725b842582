"""The ``rollsafe`` command line."""
