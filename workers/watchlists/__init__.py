"""Watchlists in Redis: the store every worker reads, and backtests against recent records."""
