"""pinterest-sync: a dlt source for the Pinterest REST API v5."""

from .pipeline import make_pipeline, pinterest_source, run_sync

__all__ = ["make_pipeline", "pinterest_source", "run_sync"]
