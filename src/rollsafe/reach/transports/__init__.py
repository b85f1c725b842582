"""How the host driver's commands reach a host: locally, over SSH, or by a cloud's agent."""
