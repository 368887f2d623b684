"""Event log (the seed's Kafka). See docs/subsystems/eventlog.md."""
