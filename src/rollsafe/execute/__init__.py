"""Execution: drivers that checkpoint and roll back targets, and the durable run executor."""
