"""How rollsafe reaches what it watches and acts on: cloud APIs and the hosts themselves.

Role in the loop (shared by detect and execute): ``clouds/`` holds one module per cloud (the
SDK session and credentials, calls in a worker thread, the audit record of every call, one
table from error codes to temporary / permanent errors); ``transports/`` runs a command on a
host (this machine, SSH, AWS SSM, Alibaba Cloud Assistant, Tencent TAT); ``polling`` waits
for a long cloud operation. Probes (detect) and drivers (execute) both build on these, so
they stay siblings: neither imports the other to reach a host or a cloud.
"""
