"""Store of record (the seed's Manhattan). See docs/subsystems/store.md."""
