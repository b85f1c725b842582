"""Durable state of the loop: targets, observations, decisions, restore points, runs, audit."""
