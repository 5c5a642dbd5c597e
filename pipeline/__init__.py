"""wirewatch's pure core: models and stages, importable without Celery, Redis or a network client."""

from pipeline.errors import (
    ContentError,
    InvalidArticle,
    PermanentError,
    PipelineError,
    TransientError,
)
from pipeline.models import PIPELINE_VERSION, Alert, Article, DeadLetter, EnrichedRecord

__all__ = [
    "PIPELINE_VERSION",
    "Alert",
    "Article",
    "ContentError",
    "DeadLetter",
    "EnrichedRecord",
    "InvalidArticle",
    "PermanentError",
    "PipelineError",
    "TransientError",
]
