"""Units of work: which ad accounts and days one Dagster run syncs, and the dlt names it uses.

Parallel units write to one destination dataset. Each unit therefore gets its own dlt
pipeline name, so its local state, lock and `_dlt_pipeline_state` rows are its own, and
its own staging dataset, so no other unit's merge replaces its staging tables before
its merge has read them.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from collections.abc import Mapping
from dataclasses import dataclass

from .groups import ResourceGroup

AD_ACCOUNT_DIMENSION = "ad_account"
DATE_DIMENSION = "date"

# dlt fills `%s` with the dataset name. Ten hex digits keep the staging dataset name
# under PostgreSQL's 63-byte identifier limit for dataset names of up to 34 bytes.
STAGING_DIGEST_LENGTH = 10


@dataclass(frozen=True)
class SyncUnit:
    """One group's tables for some ad accounts and an inclusive range of UTC days.

    `ad_account_ids` is None for groups not split by ad account, and `start_date` and
    `end_date` are None for groups not split by day.
    """

    group: ResourceGroup
    tables: tuple[str, ...]
    ad_account_ids: tuple[str, ...] | None = None
    start_date: dt.date | None = None
    end_date: dt.date | None = None

    def pipeline_name(self, prefix: str) -> str:
        """Return a dlt pipeline name that no other unit of the same group and window shares."""
        parts = [prefix, self.group.name]
        if self.ad_account_ids is not None:
            if len(self.ad_account_ids) == 1:
                parts.append(self.ad_account_ids[0])
            else:
                digest = hashlib.sha256(",".join(self.ad_account_ids).encode()).hexdigest()[:8]
                parts.append(f"{len(self.ad_account_ids)}accounts_{digest}")
        if self.start_date is not None and self.end_date is not None:
            parts.append(self.start_date.strftime("%Y%m%d"))
            if self.end_date != self.start_date:
                parts.append(self.end_date.strftime("%Y%m%d"))
        return "_".join(parts)

    def staging_dataset_name_layout(self, prefix: str) -> str:
        """Return dlt's `staging_dataset_name_layout` for this unit: `<dataset>_staging_<digest>`."""
        digest = hashlib.sha256(self.pipeline_name(prefix).encode()).hexdigest()[:STAGING_DIGEST_LENGTH]
        return f"%s_staging_{digest}"


def unit_from_partitions(group: ResourceGroup, tables: tuple[str, ...], partitions: list[Mapping[str, str]]) -> SyncUnit:
    """Build the unit of one Dagster run from the partitions it covers.

    Each partition maps dimension names (`AD_ACCOUNT_DIMENSION`, `DATE_DIMENSION`) to
    values. A ranged run (a backfill with a backfill policy) covers several partitions:
    the unit spans their ad accounts and the days from the first to the last, which
    Dagster keeps contiguous within one ad account.
    """
    if not group.split.by_ad_account and not group.split.by_day:
        return SyncUnit(group, tables)
    if not partitions:
        raise ValueError(f"Group {group.name} is partitioned, but the run has no partition key: select a partition.")

    accounts: list[str] = []
    days: set[dt.date] = set()
    for partition in partitions:
        account = partition.get(AD_ACCOUNT_DIMENSION)
        if group.split.by_ad_account and account is None:
            raise ValueError(f"Partition {dict(partition)} of group {group.name} has no {AD_ACCOUNT_DIMENSION} value.")
        if account is not None and account not in accounts:
            accounts.append(account)

        day = partition.get(DATE_DIMENSION)
        if group.split.by_day and day is None:
            raise ValueError(f"Partition {dict(partition)} of group {group.name} has no {DATE_DIMENSION} value.")
        if day is not None:
            days.add(_parse_day(day))

    return SyncUnit(
        group,
        tables,
        ad_account_ids=tuple(accounts) if group.split.by_ad_account else None,
        start_date=min(days) if days else None,
        end_date=max(days) if days else None,
    )


def _parse_day(text: str) -> dt.date:
    try:
        return dt.date.fromisoformat(text)
    except ValueError:
        raise ValueError(f"Partition key {text!r} is not a day of the form YYYY-MM-DD.") from None
