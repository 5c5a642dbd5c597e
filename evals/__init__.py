"""Evaluations over real labelled data (``make eval``); floors are pinned in ``evals/floors/``."""
