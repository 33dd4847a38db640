"""Live sessions: room state, the ordered event log, and fan-out to subscribers."""
