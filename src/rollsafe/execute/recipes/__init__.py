"""How a host is checkpointed, rolled back and checked: one recipe per snapshot mechanism."""
