"""The pipeline stages as Celery tasks over micro-batches, the emit step and the in-process runner."""
