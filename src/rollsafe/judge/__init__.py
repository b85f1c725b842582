"""Judging: pure evaluation of rules over observation windows into decisions."""
