"""Notification: telling people what the loop decided and did, without ever blocking it."""
