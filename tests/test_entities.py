"""Entity tables loaded from the simulator into a real DuckDB."""

from __future__ import annotations

import datetime as dt

import pytest

from pipelines.pinterest.pipeline import run_sync
from pipelines.pinterest.settings import ENTITY_TABLES
from pipelines.pinterest.token_store import TokenStore, fingerprint

from .support import make_config, make_duckdb_pipeline, query


def count(pipeline, table: str) -> int:
    return query(pipeline, f"SELECT count(*) FROM pinterest.{table}")[0][0]


def test_full_sync_loads_expected_rows(simulator, tmp_path):
    config = make_config(simulator, tmp_path, resources=ENTITY_TABLES)
    pipeline = make_duckdb_pipeline(tmp_path)

    result = run_sync(config, pipeline=pipeline)

    assert result.ok, result.summary.failed_resources
    expected = simulator.expected_row_counts()
    assert set(expected) == set(ENTITY_TABLES)
    for table in ENTITY_TABLES:
        assert count(pipeline, table) == expected[table], table


def test_second_sync_keeps_counts_and_uses_rotated_token(simulator, tmp_path):
    config = make_config(simulator, tmp_path, resources=ENTITY_TABLES)
    first_token = simulator.refresh_token
    pipeline = make_duckdb_pipeline(tmp_path)
    run_sync(config, pipeline=pipeline)
    counts = {table: count(pipeline, table) for table in ENTITY_TABLES}
    rotated = TokenStore(config.token_store_path).load(simulator.client_id)

    assert rotated is not None
    assert rotated.refresh_token != first_token
    assert rotated.refresh_token == simulator.refresh_token
    assert rotated.rotated_from == fingerprint(first_token)

    # The configured token is the first one, which the simulator now rejects: the run
    # only succeeds by using the rotated token from the store.
    result = run_sync(config, pipeline=pipeline)

    assert result.ok
    assert {table: count(pipeline, table) for table in ENTITY_TABLES} == counts
    assert simulator.refresh_token != rotated.refresh_token


def test_campaigns_include_archived(simulator, tmp_path):
    config = make_config(simulator, tmp_path, resources=("campaigns", "ad_groups", "ads"))
    pipeline = make_duckdb_pipeline(tmp_path)

    run_sync(config, pipeline=pipeline)

    for table in ("campaigns", "ad_groups", "ads"):
        statuses = {row[0] for row in query(pipeline, f"SELECT DISTINCT status FROM pinterest.{table}")}
        assert "ARCHIVED" in statuses, table
    ids = {row[0] for row in query(pipeline, "SELECT id FROM pinterest.campaigns")}
    assert ids == set(simulator.data.campaigns)


def test_section_pins_loaded_once_with_section(simulator, tmp_path):
    """C05: /boards/B/pins returns section pins too; each pin is stored once."""
    data = simulator.data
    board_id = next(iter(data.boards))
    section_pins = [pin for pin in data.pins.values() if pin.get("board_section_id")]
    assert section_pins, "the simulator's small scale has pins in sections"
    config = make_config(simulator, tmp_path, resources=("pins", "board_sections"))
    pipeline = make_duckdb_pipeline(tmp_path)

    run_sync(config, pipeline=pipeline)

    assert count(pipeline, "pins") == len(data.pins)
    assert query(pipeline, "SELECT count(DISTINCT id) FROM pinterest.pins")[0][0] == len(data.pins)
    for pin in section_pins:
        stored = query(pipeline, f"SELECT board_section_id, board_id FROM pinterest.pins WHERE id = '{pin['id']}'")
        assert stored == [(pin["board_section_id"], pin["board_id"])]
    sections = query(pipeline, "SELECT id, board_id FROM pinterest.board_sections ORDER BY id")
    assert sections == sorted((section_id, section["board_id"]) for section_id, section in data.board_sections.items())
    assert board_id in {row[1] for row in sections} or sections


def test_keywords_under_ad_groups(simulator, tmp_path):
    """C08: keywords hang off ad groups, which the unfiltered call does not return."""
    config = make_config(simulator, tmp_path, resources=("keywords",))
    pipeline = make_duckdb_pipeline(tmp_path)

    run_sync(config, pipeline=pipeline)

    expected = {keyword_id: keyword for keyword_id, keyword in simulator.data.keywords.items()}
    rows = query(pipeline, "SELECT id, ad_group_id, parent_type FROM pinterest.keywords")
    assert len(rows) == len(expected)
    for keyword_id, ad_group_id, parent_type in rows:
        keyword = expected[keyword_id]
        assert parent_type == keyword["parent_type"]
        if parent_type == "AD_GROUP":
            assert ad_group_id == keyword["parent_id"]
    assert any(row[2] == "AD_GROUP" for row in rows)


def test_ids_stored_exactly(simulator, tmp_path):
    """C15: 18-digit ids are text holding the exact digits."""
    pin_id = "813744226420795884"
    board_id = next(iter(simulator.data.boards))
    template = next(pin for pin in simulator.data.pins.values() if pin["board_id"] == board_id)
    simulator.data.pins[pin_id] = {**template, "id": pin_id, "board_section_id": None}
    config = make_config(simulator, tmp_path, resources=("pins",))
    pipeline = make_duckdb_pipeline(tmp_path)

    run_sync(config, pipeline=pipeline)

    assert query(pipeline, f"SELECT id FROM pinterest.pins WHERE id = '{pin_id}'") == [(pin_id,)]
    types = dict(query(pipeline, "SELECT column_name, data_type FROM information_schema.columns WHERE table_name = 'pins'"))
    assert types["id"] == "VARCHAR"


def test_repeated_bookmark_stops_resource(simulator, tmp_path):
    """C17: a repeated bookmark stops that resource with an error naming the endpoint."""
    campaigns = simulator.data.campaigns
    template = next(iter(campaigns.values()))
    for index in range(300):
        campaign_id = str(626000000000000000 + index)
        campaigns[campaign_id] = {**template, "id": campaign_id}
    simulator.faults.repeat_bookmark_paths.add("/ad_accounts/{ad_account_id}/campaigns")
    config = make_config(simulator, tmp_path, resources=("campaigns", "boards"))
    pipeline = make_duckdb_pipeline(tmp_path)

    result = run_sync(config, pipeline=pipeline)

    assert not result.ok
    assert "campaigns" in result.summary.failed_resources
    assert "/campaigns" in result.summary.failed_resources["campaigns"]
    assert count(pipeline, "boards") == len(simulator.data.boards)
    stored = query(pipeline, "SELECT count(*), count(DISTINCT id) FROM pinterest.campaigns")
    assert stored[0][0] == stored[0][1]
    first_account = template["ad_account_id"]
    others = {c["id"] for c in campaigns.values() if c["ad_account_id"] != first_account}
    assert {row[0] for row in query(pipeline, "SELECT id FROM pinterest.campaigns")} == others
    assert simulator.request_counts["GET /v5/ad_accounts/{ad_account_id}/campaigns"] <= len(simulator.data.ad_accounts) + 1


def test_edited_board_updates_row(simulator, tmp_path):
    """C18: an edit that keeps created_at still replaces the row."""
    board_id = next(iter(simulator.data.boards))
    config = make_config(simulator, tmp_path, resources=("boards",))
    pipeline = make_duckdb_pipeline(tmp_path)
    simulator.data.boards[board_id].update(pin_count=10, name="Recipes")
    run_sync(config, pipeline=pipeline)

    simulator.data.boards[board_id].update(pin_count=12, name="Dinner recipes")
    run_sync(config, pipeline=pipeline)

    rows = query(pipeline, f"SELECT pin_count, name FROM pinterest.boards WHERE id = '{board_id}'")
    assert rows == [(12, "Dinner recipes")]


def test_board_pin_cap_truncates_board(simulator, tmp_path):
    """C01: page 401 of a board returns 400, so the run keeps 100,000 pins and reports the cap."""
    data = simulator.data
    big_board, small_board = "700000000000000001", "700000000000000002"
    template = next(iter(data.pins.values()))
    data.pins.clear()
    for board_id in list(data.boards):
        if board_id not in (big_board, small_board):
            del data.boards[board_id]
    data.board_sections.clear()
    base_board = next(iter(simulator.data.boards.values()), None) or {"name": "b", "privacy": "PUBLIC"}
    data.boards[big_board] = {**base_board, "id": big_board, "name": "B1"}
    data.boards[small_board] = {**base_board, "id": small_board, "name": "B2"}
    for index in range(100_010):
        pin_id = str(800000000000000000 + index)
        data.pins[pin_id] = {**template, "id": pin_id, "board_id": big_board, "board_section_id": None}
    for index in range(3):
        pin_id = str(810000000000000000 + index)
        data.pins[pin_id] = {**template, "id": pin_id, "board_id": small_board, "board_section_id": None}
    config = make_config(simulator, tmp_path, resources=("pins",))
    pipeline = make_duckdb_pipeline(tmp_path)

    result = run_sync(config, pipeline=pipeline)

    assert result.ok
    assert list(result.summary.truncated_boards) == [big_board]
    rows = dict(query(pipeline, "SELECT board_id, count(*) FROM pinterest.pins GROUP BY board_id"))
    assert rows == {big_board: 100_000, small_board: 3}
    assert simulator.request_counts["GET /v5/boards/{board_id}/pins"] == 400 + 1 + 1


def test_forbidden_account_skipped(simulator, tmp_path):
    forbidden = list(simulator.data.ad_accounts)[1]
    simulator.faults.forbidden_ad_accounts.add(forbidden)
    config = make_config(simulator, tmp_path, resources=("ad_accounts", "campaigns"))
    pipeline = make_duckdb_pipeline(tmp_path)

    result = run_sync(config, pipeline=pipeline)

    assert result.ok
    assert forbidden in result.summary.skipped_accounts
    others = {c["id"] for c in simulator.data.campaigns.values() if c["ad_account_id"] != forbidden}
    assert {row[0] for row in query(pipeline, "SELECT id FROM pinterest.campaigns")} == others


def test_catalog_feeds_without_credentials(simulator, tmp_path):
    config = make_config(simulator, tmp_path, resources=("catalog_feeds",))
    pipeline = make_duckdb_pipeline(tmp_path)

    run_sync(config, pipeline=pipeline)

    columns = {row[0] for row in query(pipeline, "SELECT column_name FROM information_schema.columns WHERE table_name = 'catalog_feeds'")}
    assert columns
    assert not any("credentials" in column for column in columns)


def test_timestamps_are_utc(simulator, tmp_path):
    config = make_config(simulator, tmp_path, resources=("campaigns", "conversion_tags", "boards"))
    pipeline = make_duckdb_pipeline(tmp_path)

    run_sync(config, pipeline=pipeline)

    campaign_id, campaign = next(iter(simulator.data.campaigns.items()))
    stored = query(pipeline, f"SELECT epoch(created_time)::BIGINT FROM pinterest.campaigns WHERE id = '{campaign_id}'")
    assert stored == [(int(campaign["created_time"]),)]
    types = dict(query(pipeline, "SELECT column_name, data_type FROM information_schema.columns WHERE table_name = 'campaigns'"))
    assert types["created_time"] == "TIMESTAMP WITH TIME ZONE"


def _lister(simulator, tmp_path, max_workers: int = 4):
    from pipelines.pinterest.client import PinterestClient
    from pipelines.pinterest.config import Credentials
    from pipelines.pinterest.listing import EntityLister

    credentials = Credentials(simulator.client_id, simulator.client_secret, simulator.refresh_token)
    client = PinterestClient(simulator.base_url, credentials, TokenStore(tmp_path / "tokens.json"))
    return client, EntityLister(client, max_workers=max_workers)


def test_lister_take_keeps_references(simulator, tmp_path):
    account_id = next(iter(simulator.data.ad_accounts))
    ads = [ad for ad in simulator.data.ads.values() if ad["ad_account_id"] == account_id]
    endpoint = "GET /v5/ad_accounts/{ad_account_id}/ads"
    client, lister = _lister(simulator, tmp_path)
    with client:
        references = lister.list(account_id, "ads")
        before = simulator.request_counts[endpoint]
        taken = lister.take(account_id, "ads")
        again = lister.list(account_id, "ads")
        assert simulator.request_counts[endpoint] == before
        # A second take has no cached objects left, so it lists the ads again.
        retaken = lister.take(account_id, "ads")
        assert simulator.request_counts[endpoint] == before + 1

    expected_references = [
        {"id": ad["id"], "campaign_id": ad["campaign_id"], "ad_group_id": ad["ad_group_id"]} for ad in ads
    ]
    assert references == expected_references
    assert again == expected_references
    assert [ad["id"] for ad in taken] == [ad["id"] for ad in ads]
    assert {"status", "name", "created_time"} <= set(taken[0])
    assert [ad["id"] for ad in retaken] == [ad["id"] for ad in ads]


@pytest.mark.parametrize("max_workers", [1, 4])
def test_promotions_keep_ad_group_order(simulator, tmp_path, max_workers):
    account_id = next(iter(simulator.data.ad_accounts))
    group_order = [group_id for group_id, group in simulator.data.ad_groups.items() if group["ad_account_id"] == account_id]
    client, lister = _lister(simulator, tmp_path, max_workers)
    with client:
        promotions = lister.take_by_ad_group(account_id, "product_group_promotions")
        references = lister.list_by_ad_group(account_id, "product_group_promotions")

    expected = sorted(
        (promotion for promotion in simulator.data.product_group_promotions.values()
         if simulator.data.ad_account_of_promotion(promotion) == account_id),
        key=lambda promotion: group_order.index(str(promotion["ad_group_id"]).removeprefix("AG")),
    )
    assert expected
    assert [promotion["id"] for promotion in promotions] == [promotion["id"] for promotion in expected]
    assert [reference["id"] for reference in references] == [promotion["id"] for promotion in expected]
    assert simulator.request_counts["GET /v5/ad_accounts/{ad_account_id}/product_group_promotions"] == len(group_order)
