"""Pure vocabulary of the loop: ids, observations, decisions, runs, restore points, errors.

Nothing in this package does I/O; every other layer speaks in these types.
"""
