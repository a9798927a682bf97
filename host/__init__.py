"""Host software: the host-link driver and its transports (serial, simulated)."""
