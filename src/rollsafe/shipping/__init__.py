"""Audit shipping: the audit events, as they happen, also sent to the log platforms people search.

The local hash-chained audit log stays the source of truth. Each configured sink (syslog,
Elasticsearch, Loki, Alibaba Cloud SLS) has a cursor in the store and ships what lies after it,
at least once; a platform that is down waits at its cursor and never blocks the loop.
"""
