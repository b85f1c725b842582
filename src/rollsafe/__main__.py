"""``python -m rollsafe``: the same as the ``rollsafe`` command."""

from rollsafe.interfaces.cli.main import main

main()
