"""Audit: the hash chain over events and its exporters (the store persists the events)."""
