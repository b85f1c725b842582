"""Runtime: the daemon that wires detect -> judge -> execute -> verify and runs it."""
