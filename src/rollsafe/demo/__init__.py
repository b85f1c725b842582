"""The local demo fleet: real service processes on loopback, broken and rolled back."""
