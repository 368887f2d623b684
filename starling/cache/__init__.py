"""Timeline cache, celebrity index, counters, idempotency keys and membership sets
(the seed's Redis). See docs/subsystems/cache.md."""
