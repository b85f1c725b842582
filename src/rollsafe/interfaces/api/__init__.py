"""The HTTP API: webhook intake (``POST /intake/<name>``), ``GET /healthz``, ``/openapi.json``.

Role in the loop (interfaces): alerts from monitoring systems come in here, are authenticated
and stored durably before they are answered, and are processed by the daemon's inbox
processor. ``app.create_app`` builds the application, ``serving.serve`` serves it with uvicorn,
``hosting.run_controller`` runs it next to the daemon for ``rollsafe run``.
"""
