"""TwHIN-style dense embeddings: accounts embedded from the follow and engagement graph by
a scheduled job (`train.py`, `starling train embeddings`), saved as versioned files
(`embeddings.py`) that the server reloads; posts embedded from their author and engagers
as the log brings them (`posts.py`, the `twhin` worker) into an approximate
nearest-neighbour index of the last 48 hours (`ann.py`). See docs/subsystems/twhin.md.
"""
