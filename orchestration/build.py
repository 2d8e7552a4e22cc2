"""Assemble the Dagster `Definitions`: assets, partitions, jobs, schedules and the ad account sensor."""


import datetime as dt
from typing import Any

import dagster as dg

from pipelines.pinterest.config import load_config

from .assets import AD_ACCOUNT_PARTITIONS_NAME, build_group_assets, group_name, split_partitions
from .groups import RESOURCE_GROUPS, ResourceGroup
from .resource import PinterestSync

DAILY_CRON = "0 3 * * *"
RANGE_START_TAG = "dagster/asset_partition_range_start"
RANGE_END_TAG = "dagster/asset_partition_range_end"


def build_definitions(
    ad_account_ids: tuple[str, ...] | None = None,
    start_date: dt.date | None = None,
    restate_days: int | None = None,
    pinterest: PinterestSync | None = None,
    cron: str = DAILY_CRON,
) -> dg.Definitions:
    """Build the definitions; arguments left out come from dlt's configuration.

    `ad_account_ids` become static partitions (default `sources.pinterest.ad_account_ids`);
    without any, ad accounts are dynamic partitions that the sensor fills from the API.
    `start_date` is the first daily partition (default `sources.pinterest.start_date`,
    else 89 days before the day the definitions load). The daily analytics schedules
    reload the last `restate_days` days, so late conversions replace earlier figures
    (default: the analytics lookback, at least 14 days).
    """
    config = None
    if ad_account_ids is None or start_date is None or restate_days is None:
        config = load_config(require_credentials=False)
    if ad_account_ids is None and config is not None:
        ad_account_ids = config.ad_account_ids
    if start_date is None and config is not None:
        start_date = config.start_date
    if restate_days is None and config is not None:
        restate_days = max(config.analytics.effective_lookback_days, 1)
    assert start_date is not None and restate_days is not None

    ad_accounts = _ad_account_partitions(ad_account_ids)
    days = dg.DailyPartitionsDefinition(start_date=start_date.isoformat(), timezone="UTC")

    assets = []
    jobs = []
    schedules = []
    for group in RESOURCE_GROUPS:
        partitions_def = split_partitions(group.split, ad_accounts, days)
        assets.append(build_group_assets(group, partitions_def))
        job = dg.define_asset_job(
            name=f"{group_name(group)}_job",
            selection=dg.AssetSelection.groups(group_name(group)),
        )
        jobs.append(job)
        schedules.append(_daily_schedule(group, job, ad_accounts, days, restate_days, cron))

    sensors = [_ad_account_sensor(ad_accounts)] if isinstance(ad_accounts, dg.DynamicPartitionsDefinition) else []
    return dg.Definitions(
        assets=assets,
        jobs=jobs,
        schedules=schedules,
        sensors=sensors,
        resources={"pinterest": pinterest or PinterestSync()},
    )


def _ad_account_partitions(ad_account_ids: tuple[str, ...] | None) -> dg.PartitionsDefinition:
    if ad_account_ids:
        return dg.StaticPartitionsDefinition(list(ad_account_ids))
    return dg.DynamicPartitionsDefinition(name=AD_ACCOUNT_PARTITIONS_NAME)


def _daily_schedule(
    group: ResourceGroup,
    job: Any,
    ad_accounts: dg.PartitionsDefinition,
    days: dg.DailyPartitionsDefinition,
    restate_days: int,
    cron: str,
) -> dg.ScheduleDefinition:
    """Schedule a group once a day: one run per ad account where the group splits by account.

    Groups split by day get a ranged run over the last `restate_days` complete days, the
    same window the daily command-line run fetches again for late conversions.
    """

    @dg.schedule(name=f"{group_name(group)}_daily", job=job, cron_schedule=cron, execution_timezone="UTC")
    def daily(context: dg.ScheduleEvaluationContext) -> list[dg.RunRequest] | dg.SkipReason:
        today = context.scheduled_execution_time.astimezone(dt.timezone.utc).date()
        window = restatement_window(today, restate_days, days)
        if group.split.by_day and window is None:
            return dg.SkipReason(f"No complete day on or after the first partition {days.start.date()} yet.")

        accounts: list[str | None] = [None]
        if group.split.by_ad_account:
            accounts = list(_current_ad_accounts(context, ad_accounts))
            if not accounts:
                return dg.SkipReason(
                    "No ad account partitions yet: turn on pinterest_ad_accounts_sensor or set sources.pinterest.ad_account_ids."
                )
        return [run_request(group, ad_account_id, window, today) for ad_account_id in accounts]

    return daily


def restatement_window(today: dt.date, restate_days: int, days: dg.DailyPartitionsDefinition) -> tuple[dt.date, dt.date] | None:
    """Return the first and last day to reload: up to yesterday, never before the first partition."""
    last = today - dt.timedelta(days=1)
    first_partition = days.start.date()
    if last < first_partition:
        return None
    first = max(last - dt.timedelta(days=restate_days - 1), first_partition)
    return first, last


def run_request(
    group: ResourceGroup,
    ad_account_id: str | None,
    window: tuple[dt.date, dt.date] | None,
    today: dt.date,
) -> dg.RunRequest:
    """Build the run request of one unit: a partition key, or a range of day partitions."""
    run_key = f"{group.name}:{ad_account_id or 'all'}:{today.isoformat()}"
    if not group.split.by_day or window is None:
        return dg.RunRequest(run_key=run_key, partition_key=ad_account_id)

    first, last = (day.isoformat() for day in window)
    if group.split.by_ad_account:
        first, last = f"{ad_account_id}|{first}", f"{ad_account_id}|{last}"
    return dg.RunRequest(run_key=run_key, tags={RANGE_START_TAG: first, RANGE_END_TAG: last})


def _current_ad_accounts(context: dg.ScheduleEvaluationContext, ad_accounts: dg.PartitionsDefinition) -> list[str]:
    if isinstance(ad_accounts, dg.DynamicPartitionsDefinition):
        return list(context.instance.get_dynamic_partitions(AD_ACCOUNT_PARTITIONS_NAME))
    return list(ad_accounts.get_partition_keys())


def _ad_account_sensor(ad_accounts: dg.DynamicPartitionsDefinition) -> dg.SensorDefinition:
    """Add every ad account the token can read as a partition; accounts are never removed."""

    @dg.sensor(name="pinterest_ad_accounts_sensor", minimum_interval_seconds=3600)
    def discover(context: dg.SensorEvaluationContext, pinterest: PinterestSync) -> dg.SensorResult:
        known = set(context.instance.get_dynamic_partitions(AD_ACCOUNT_PARTITIONS_NAME))
        new = [ad_account_id for ad_account_id in pinterest.list_ad_accounts() if ad_account_id not in known]
        if not new:
            return dg.SensorResult(skip_reason="No new ad accounts.")
        context.log.info(f"Adding ad account partitions {', '.join(new)}")
        return dg.SensorResult(dynamic_partitions_requests=[ad_accounts.build_add_request(new)])

    return discover
