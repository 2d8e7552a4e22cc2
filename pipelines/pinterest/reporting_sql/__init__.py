"""SQL text of the reporting views, built from the columns the destination really has.

The loaded tables change with configuration (requested metric columns, granularity,
whether `_dlt_load_id` is written), so every view is generated from a read of the
destination's `information_schema`: a column that is absent becomes a typed NULL and the
view still builds. The SQL is the subset DuckDB and PostgreSQL share, plus the few
functions in `Dialect`.
"""

from .catalog import Attribution, Catalog, Dialect, TableColumns, column_kind
from .views import ADS_MANAGER_VIEWS, DBT_REPORT_VIEWS, DBT_HISTORY_VIEWS, ViewPlan, plan_views

__all__ = [
    "ADS_MANAGER_VIEWS",
    "DBT_HISTORY_VIEWS",
    "DBT_REPORT_VIEWS",
    "Attribution",
    "Catalog",
    "Dialect",
    "TableColumns",
    "ViewPlan",
    "column_kind",
    "plan_views",
]
