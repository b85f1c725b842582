"""Backtesting: replay recorded incidents through the live judge, score it, record history.

``recordings`` (the JSON Lines format, reader and writer), ``replaying`` (a recording through
``judge.engine`` on virtual time, the way the daemon runs it), ``scoring`` and ``corpora``
(precision, recall and detection delay on labelled recordings), ``capturing`` (``rollsafe
record``: captures a recording from Prometheus, log files and log platforms). Nothing here
executes, stores or notifies: backtests run anywhere, on anything, without side effects.
"""
