"""Hosted Airbyte execute API as an alternate source of the entity tables, and its set-up.

`HostedClient` takes the place of `PinterestClient` in the entity resources, and `hosted_create`
and `hosted_connect` back the `pinterest-sync hosted` commands.
"""

from .api import ExecuteApi
from .config_file import save_connector_id
from .errors import ConnectorNotFoundError, HostedAccessDenied, HostedApiError, HostedAuthError, NotHostedError
from .reader import UNHOSTED_TABLES, HostedClient, HostedLister
from .setup import ConsentError, hosted_connect, hosted_create

__all__ = [
    "ConnectorNotFoundError",
    "ConsentError",
    "ExecuteApi",
    "HostedAccessDenied",
    "HostedApiError",
    "HostedAuthError",
    "HostedClient",
    "HostedLister",
    "NotHostedError",
    "UNHOSTED_TABLES",
    "hosted_connect",
    "hosted_create",
    "save_connector_id",
]
