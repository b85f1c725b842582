"""Detection: probes that look at targets and produce observations, and their scheduling."""
