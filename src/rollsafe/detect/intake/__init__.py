"""Webhook intake: one pure parser per alert source, and the mapping of alerts to targets.

Role in the loop (detect): monitoring systems push alerts (Alertmanager, Grafana, AWS SNS with
CloudWatch alarms, Alibaba Cloud CloudMonitor, Tencent Cloud Monitor, or rollsafe's generic
form). ``interfaces/api`` authenticates and stores each body in the durable inbox; the inbox
processor (``runtime/inbox``) parses it here (``sources.parse``), maps the alerts to
observations (``mapping.Mapper``) and hands them to the judge. Nothing here does I/O.
"""
