"""Read Pinterest entities through the hosted execute API behind the Pinterest client's interface.

`HostedClient` offers the `get` and `paginate` calls that the entity resources make on
`PinterestClient`, with the same Pinterest v5 paths, and turns each path into an execute
`list` of the matching entity: path ids and query filters become execute `params`. The
records are Pinterest's own objects, except that `board_sections` records lack
`board_id` and `keywords` records lack `ad_account_id` and `ad_group_id`. Those ids are
added from the request, so the tables come out as on the direct path.

Endpoints without a hosted entity raise `NotHostedError` without sending anything:
`/user_account`, product group promotions and every analytics endpoint
(see UNHOSTED_TABLES).
"""

from __future__ import annotations

import logging
import re
import threading
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from ..config import AirbyteSettings
from ..listing import EntityLister
from ..ratelimit import RateLimits
from ..settings import DEFAULT_ENTITY_STATUSES, PAGE_SIZE
from .api import ExecuteApi
from .errors import HostedAccessDenied, HostedApiError, NotHostedError

logger = logging.getLogger(__name__)

# Entity tables that the hosted execute API cannot serve: load them from the Pinterest
# API (with Pinterest credentials) or leave them out of the run.
UNHOSTED_TABLES = ("user_account", "product_group_promotions")

DIRECT_PATH_FIX = (
    "Configure Pinterest credentials (sources.pinterest.credentials) so that {table} is read from the "
    "Pinterest API, or leave {table} out of --resources when the backend is airbyte."
)


@dataclass(frozen=True)
class HostedRoute:
    """One Pinterest list path and the hosted entity that serves it.

    `added_fields` are parent ids copied from the request into records that lack them,
    in the order the direct path's resources add them.
    """

    template: str
    entity: str
    added_fields: tuple[str, ...] = ()

    @property
    def pattern(self) -> re.Pattern[str]:
        return re.compile("^" + re.sub(r"\{(\w+)\}", r"(?P<\1>[^/]+)", self.template) + "$")


ROUTES = (
    HostedRoute("/ad_accounts", "ad_accounts"),
    HostedRoute("/ad_accounts/{ad_account_id}/campaigns", "campaigns", ("ad_account_id",)),
    HostedRoute("/ad_accounts/{ad_account_id}/ad_groups", "ad_groups", ("ad_account_id",)),
    HostedRoute("/ad_accounts/{ad_account_id}/ads", "ads", ("ad_account_id",)),
    HostedRoute("/ad_accounts/{ad_account_id}/audiences", "audiences", ("ad_account_id",)),
    HostedRoute("/ad_accounts/{ad_account_id}/customer_lists", "customer_lists", ("ad_account_id",)),
    HostedRoute("/ad_accounts/{ad_account_id}/conversion_tags", "conversion_tags", ("ad_account_id",)),
    HostedRoute("/ad_accounts/{ad_account_id}/keywords", "keywords", ("ad_group_id", "ad_account_id")),
    HostedRoute("/boards", "boards"),
    HostedRoute("/boards/{board_id}/sections", "board_sections", ("board_id",)),
    HostedRoute("/boards/{board_id}/pins", "board_pins", ("board_id",)),
    HostedRoute("/catalogs", "catalogs"),
    HostedRoute("/catalogs/feeds", "catalogs_feeds"),
    HostedRoute("/catalogs/product_groups", "catalogs_product_groups"),
)

AD_ACCOUNT_PATH = re.compile(r"^/ad_accounts/(?P<ad_account_id>[^/]+)$")

UNHOSTED_PATHS = (
    (re.compile(r"^/user_account$"), "user_account"),
    (re.compile(r"^/ad_accounts/[^/]+/product_group_promotions$"), "product_group_promotions"),
)


def match_route(path: str) -> tuple[HostedRoute, dict[str, str]] | None:
    """Return the hosted route of a Pinterest list path and the ids in the path."""
    clean = "/" + path.split("?", 1)[0].strip("/")
    for route in ROUTES:
        found = route.pattern.match(clean)
        if found:
            return route, found.groupdict()
    return None


def not_hosted(path: str) -> NotHostedError:
    for pattern, table in UNHOSTED_PATHS:
        if pattern.match(path):
            return NotHostedError(path, DIRECT_PATH_FIX.format(table=table))
    if "analytics" in path or "/reports" in path:
        return NotHostedError(path, "Analytics are read from the Pinterest API only: configure sources.pinterest.credentials.")
    return NotHostedError(path, "Read it from the Pinterest API (configure sources.pinterest.credentials), or leave its table out of --resources.")


class HostedClient:
    """Pinterest-client look-alike that reads entities through the hosted execute API.

    `rate_limits` defaults to Pinterest's Standard-access quotas, applied per Pinterest
    path: the hosted connector calls Pinterest with the same user's token, so the same
    quotas apply. `warnings` lists what could not be read in full, for the run summary.
    The remaining keyword arguments shape the retry policy as on `PinterestClient`.
    """

    def __init__(
        self,
        settings: AirbyteSettings,
        *,
        rate_limits: RateLimits | None = None,
        timeout: float = 30.0,
        max_retries: int = 5,
        max_wait_seconds: float = 300.0,
        initial_backoff_seconds: float = 1.0,
        max_backoff_seconds: float = 60.0,
        page_size: int = PAGE_SIZE,
    ) -> None:
        self.api = ExecuteApi(
            settings,
            timeout=timeout,
            max_retries=max_retries,
            max_wait_seconds=max_wait_seconds,
            initial_backoff_seconds=initial_backoff_seconds,
            max_backoff_seconds=max_backoff_seconds,
            page_size=page_size,
        )
        self.rate_limits = rate_limits if rate_limits is not None else RateLimits()
        self.warnings: list[str] = []
        self._warning_keys: set[str] = set()
        self._lock = threading.Lock()
        self._ad_accounts: dict[str, dict[str, Any]] | None = None
        self._account_keywords_rejected = False

    def __repr__(self) -> str:
        return f"HostedClient({self.api!r})"

    def __enter__(self) -> HostedClient:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def close(self) -> None:
        self.api.close()

    @property
    def request_count(self) -> int:
        return self.api.request_count

    @property
    def connector_id(self) -> str:
        """The connector read from; looking it up by customer name fails early on a bad configuration."""
        return self.api.connector_id

    def get(self, path: str, params: Mapping[str, Any] | None = None) -> Any:
        """Return one ad account (`/ad_accounts/{id}`); other single objects are not hosted.

        The ad account comes from the connector's ad account list, read once, so only the
        `list` action is relied on. An id missing from that list raises
        HostedAccessDenied, which makes the pipeline skip the account.
        """
        found = AD_ACCOUNT_PATH.match(path)
        if not found:
            raise not_hosted(path)

        ad_account_id = found.group("ad_account_id")
        accounts = self._all_ad_accounts()
        if ad_account_id not in accounts:
            raise HostedAccessDenied(
                404,
                None,
                f"ad account {ad_account_id} is not among the {len(accounts)} ad accounts the hosted connector can read",
                f"GET {path}",
                ad_account_id=ad_account_id,
                connector_id=self.api.connector_id,
                fix="Check sources.pinterest.ad_account_ids, or give the connector's Pinterest user a role on the account.",
            )
        return accounts[ad_account_id]

    def paginate(self, path: str, params: Mapping[str, Any] | None = None) -> Iterator[list[dict[str, Any]]]:
        """Yield the non-empty pages of the entity behind a Pinterest list path.

        Query filters are passed on as execute params (`entity_statuses`, `ad_group_id`).
        `ad_group_ids` becomes one `ad_group_id` list per group, the only keyword filter the
        hosted entity has.
        """
        matched = match_route(path)
        if matched is None:
            raise not_hosted(path)
        route, path_ids = matched
        query = {key: value for key, value in (params or {}).items() if key != "page_size"}

        if route.entity == "keywords":
            yield from self._keyword_pages(route, path, path_ids, query)
            return
        yield from self._pages(route, path, {**path_ids, **query})

    def _pages(self, route: HostedRoute, path: str, params: dict[str, Any]) -> Iterator[list[dict[str, Any]]]:
        parent_named = any(name in params for name in ("ad_account_id", "board_id"))
        pages = self.api.list_pages(
            route.entity,
            params,
            parent_named=parent_named,
            before_page=lambda: self.rate_limits.acquire(path),
        )
        for page in pages:
            for record in page:
                for name in route.added_fields:
                    if record.get(name) is None and params.get(name) is not None:
                        record[name] = str(params[name])
            yield page

    def _keyword_pages(
        self, route: HostedRoute, path: str, path_ids: dict[str, str], query: dict[str, Any]
    ) -> Iterator[list[dict[str, Any]]]:
        group_ids = query.pop("ad_group_ids", None)
        if group_ids is not None:
            for ad_group_id in _as_list(group_ids):
                yield from self._pages(route, path, {**path_ids, **query, "ad_group_id": ad_group_id})
            return

        if query.get("ad_group_id") is not None:
            yield from self._pages(route, path, {**path_ids, **query})
            return

        # Without ad_group_id Pinterest lists the keywords whose parent is the ad account.
        # Airbyte's keywords entity declares ad_group_id as required, so that list may be
        # rejected. Then those keywords are reported as missing, later accounts skip the
        # request, and the run goes on.
        if self._account_keywords_rejected:
            return
        try:
            yield from self._pages(route, path, {**path_ids, **query})
        except HostedApiError as error:
            if error.status not in (400, 422) or isinstance(error, HostedAccessDenied):
                raise
            self._account_keywords_rejected = True
            self.warn(
                "account_keywords",
                "Keywords whose parent is an ad account are not loaded: the hosted Airbyte execute API "
                f"lists keywords only per ad group ({error.api_message}). Keywords of ad groups are loaded.",
            )

    def _all_ad_accounts(self) -> dict[str, dict[str, Any]]:
        with self._lock:
            if self._ad_accounts is None:
                route, _ = match_route("/ad_accounts") or (None, None)
                assert route is not None
                self._ad_accounts = {
                    str(record["id"]): record for page in self._pages(route, "/ad_accounts", {}) for record in page
                }
            return self._ad_accounts

    def warn(self, key: str, message: str) -> None:
        """Record a run-level warning once per key and log it."""
        with self._lock:
            if key in self._warning_keys:
                return
            self._warning_keys.add(key)
            self.warnings.append(message)
        logger.warning("%s", message)


class HostedLister(EntityLister):
    """The per-run entity cache of the direct path, reading through a `HostedClient`.

    `EntityLister` only calls `client.paginate` with Pinterest paths, which
    `HostedClient` maps to execute calls, so caching, `entity_statuses` and `ids`
    behave exactly as on the direct path.
    """

    def __init__(self, client: HostedClient, entity_statuses: Iterable[str] = DEFAULT_ENTITY_STATUSES, max_workers: int = 4) -> None:
        super().__init__(client, entity_statuses, max_workers)


def _as_list(value: Any) -> list[str]:
    if isinstance(value, (list, tuple)):
        return [str(item) for item in value]
    return [item.strip() for item in str(value).split(",") if item.strip()]
