"""Log consumers. See docs/subsystems/workers.md."""
