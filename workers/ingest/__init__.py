"""Getting articles in: the push client, input sources, validation and the ingest service."""
