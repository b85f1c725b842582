"""Verification: proving a rolled-back target healthy and its data consistent again."""
