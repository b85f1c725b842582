"""Drivers: one module per back end (local commands and directories, clouds, Kubernetes ...).

Drivers never import each other; each registers in ``rollsafe.execute.registry.FACTORIES``.
"""
