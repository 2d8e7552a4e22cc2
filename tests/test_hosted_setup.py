"""`hosted create` and `hosted connect` end to end against the hosted simulator, and the saved config."""

from __future__ import annotations

import datetime as dt
import queue
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from dlt.common.configuration.providers import ConfigTomlProvider

from pipelines.pinterest.config import AirbyteSettings, Credentials
from pipelines.pinterest.errors import ConfigError
from pipelines.pinterest.hosted import ConsentError, HostedApiError, hosted_connect, hosted_create, save_connector_id
from pipelines.pinterest.hosted.setup import parse_start_date
from pipelines.pinterest.simulator import Simulator
from pipelines.pinterest.simulator.hosted import HostedSimulator

EXISTING_CONFIG = """\
# Committed defaults.
[runtime]
dlthub_telemetry = false

[sources.pinterest]
backend = "airbyte"  # read entities through Airbyte

[sources.pinterest.airbyte]
customer_name = "acme"
"""


@pytest.fixture
def hosted(simulator: Simulator) -> Iterator[HostedSimulator]:
    with HostedSimulator(simulator) as server:
        yield server


def settings_for(hosted: HostedSimulator, customer_name: str = "new-customer") -> AirbyteSettings:
    return AirbyteSettings(base_url=hosted.base_url, client_id=hosted.client_id, client_secret=hosted.client_secret,
                           customer_name=customer_name)


def pinterest_credentials(simulator: Simulator) -> Credentials:
    return Credentials(simulator.client_id, simulator.client_secret, simulator.refresh_token)


def saved_connector_id(config_path: Path) -> Any:
    provider = ConfigTomlProvider(settings_dir=str(config_path.parent))
    value, _ = provider.get_value("connector_id", str, None, "sources", "pinterest", "airbyte")
    return value


def test_create_saves_connector_id(simulator, hosted, tmp_path):
    config_path = tmp_path / ".dlt" / "config.toml"
    config_path.parent.mkdir()
    config_path.write_text(EXISTING_CONFIG)
    lines: list[str] = []

    connector_id = hosted_create(settings_for(hosted), pinterest_credentials(simulator), "2024-05-01", lines.append,
                                 config_path=config_path)

    connector = hosted.connectors[connector_id]
    assert connector.customer_name == "new-customer"
    assert connector.name == "Pinterest (new-customer)"
    assert connector.replication_config == {"start_date": "2024-05-01"}
    assert saved_connector_id(config_path) == connector_id
    text = config_path.read_text()
    assert text == EXISTING_CONFIG + f'connector_id = "{connector_id}"\n'
    assert lines == [
        f"Created hosted Pinterest connector {connector_id} for customer 'new-customer' (start date 2024-05-01).",
        f"Saved sources.pinterest.airbyte.connector_id = {connector_id!r} in {config_path}; the next run reads it.",
        "Warning: the hosted connector now refreshes this Pinterest refresh token too, and each refresh invalidates "
        "the previous token. Authorize the direct path again with `pinterest-sync auth` before its next run, or use "
        "`pinterest-sync hosted connect` to give the connector its own authorization.",
    ]


def test_create_sends_no_secret_to_logs_or_config(simulator, hosted, tmp_path, caplog):
    config_path = tmp_path / ".dlt" / "config.toml"

    hosted_create(settings_for(hosted), pinterest_credentials(simulator), None, lambda line: None, config_path=config_path)

    text = config_path.read_text()
    for secret in (simulator.client_secret, simulator.refresh_token, hosted.client_secret):
        assert secret not in text
        assert secret not in caplog.text
        assert all(secret not in repr(entry) for entry in hosted.requests_log)


def test_create_defaults_start_date_to_89_days_ago(simulator, hosted, tmp_path):
    today = dt.datetime.now(dt.timezone.utc).date()

    connector_id = hosted_create(settings_for(hosted), pinterest_credentials(simulator), None, lambda line: None,
                                 config_path=tmp_path / "config.toml")

    assert hosted.connectors[connector_id].replication_config == {"start_date": (today - dt.timedelta(days=89)).isoformat()}


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("2024-5-1", "--start-date '2024-5-1' is not a date: use the form YYYY-MM-DD, for example 2024-06-30."),
        ("2024-02-30", "--start-date '2024-02-30' is not a valid calendar date: use YYYY-MM-DD."),
        ("2024-07-01", "--start-date 2024-07-01 is in the future (today is 2024-06-30 UTC): use a date on or before today."),
    ],
)
def test_start_date_validation_messages(value, message):
    with pytest.raises(ConfigError) as caught:
        parse_start_date(value, today=dt.date(2024, 6, 30))

    assert str(caught.value) == message


def test_create_with_wrong_pinterest_secret_reports_params(simulator, hosted, tmp_path):
    credentials = Credentials(simulator.client_id, "wrong-secret", "some-refresh-token")

    with pytest.raises(HostedApiError) as caught:
        hosted_create(settings_for(hosted), credentials, "2024-05-01", lambda line: None, config_path=tmp_path / "config.toml")

    message = str(caught.value)
    assert message.startswith(
        "POST /api/v1/integrations/connectors failed (HTTP 400): Pinterest rejected the credentials: client_id or "
        "client_secret is wrong. [params {'customer_name': 'new-customer', 'connector_type': 'Pinterest', "
        "'name': 'Pinterest (new-customer)', 'credentials': {'client_id': "
        f"'{simulator.client_id}', 'client_secret': '(not shown)', 'refresh_token': '(not shown)'}}, "
        "'replication_config': {'start_date': '2024-05-01'}}; request id "
    )
    assert "wrong-secret" not in message
    assert "some-refresh-token" not in message
    assert not (tmp_path / "config.toml").exists()


def test_create_is_not_retried_after_server_error(simulator, hosted, tmp_path):
    hosted.faults.fail_next = [("POST /api/v1/integrations/connectors", 503, {"message": "Unavailable."})]

    with pytest.raises(HostedApiError) as caught:
        hosted_create(settings_for(hosted), pinterest_credentials(simulator), None, lambda line: None,
                      config_path=tmp_path / "config.toml")

    assert caught.value.status == 503
    assert hosted.request_counts["POST /api/v1/integrations/connectors"] == 1


def test_create_needs_customer_name(simulator, hosted, tmp_path):
    settings = AirbyteSettings(base_url=hosted.base_url, client_id=hosted.client_id, client_secret=hosted.client_secret)

    with pytest.raises(ConfigError) as caught:
        hosted_create(settings, pinterest_credentials(simulator), None, lambda line: None, config_path=tmp_path / "config.toml")

    assert str(caught.value) == (
        "Missing sources.pinterest.airbyte.customer_name. Set sources.pinterest.airbyte.customer_name (environment "
        "variable SOURCES__PINTEREST__AIRBYTE__CUSTOMER_NAME) to the Airbyte customer the connector belongs to."
    )


def test_create_needs_app_credentials(simulator, tmp_path):
    settings = AirbyteSettings(base_url="http://127.0.0.1:9", customer_name="acme")

    with pytest.raises(ConfigError) as caught:
        hosted_create(settings, pinterest_credentials(simulator), None, lambda line: None, config_path=tmp_path / "config.toml")

    assert str(caught.value) == (
        "Missing sources.pinterest.airbyte.client_id: set it in .dlt/secrets.toml under [sources.pinterest.airbyte] "
        "or in the environment variable SOURCES__PINTEREST__AIRBYTE__CLIENT_ID. It is the Airbyte application "
        "client id, required for the hosted backend."
    )


class ConnectRun:
    """`hosted_connect` on a thread, with its printed lines in a queue."""

    def __init__(self, settings: AirbyteSettings, config_path: Path, timeout: float = 20.0) -> None:
        self.lines: queue.Queue[str] = queue.Queue()
        self.result: str | None = None
        self.error: BaseException | None = None

        def run() -> None:
            try:
                self.result = hosted_connect(settings, 0, timeout, self.lines.put, config_path=config_path)
            except BaseException as error:  # handed to the test thread
                self.error = error

        self.thread = threading.Thread(target=run, daemon=True)
        self.thread.start()

    def consent_url(self) -> str:
        assert self.lines.get(timeout=10) == "Open this URL in a browser and approve access to Pinterest:"
        return self.lines.get(timeout=10)

    def finish(self) -> None:
        self.thread.join(timeout=30)
        assert not self.thread.is_alive()


def test_connect_captures_connector_id(hosted, tmp_path):
    config_path = tmp_path / ".dlt" / "config.toml"
    run = ConnectRun(settings_for(hosted), config_path)

    consent_url = run.consent_url()
    answer = httpx.get(consent_url, follow_redirects=True, timeout=10)
    run.finish()

    assert run.error is None
    connector_id = run.result
    assert connector_id in hosted.connectors
    assert hosted.connectors[connector_id].customer_name == "new-customer"
    assert answer.status_code == 200
    assert answer.text == "pinterest-sync received the connector id. You can close this tab."
    assert str(answer.url).startswith("http://127.0.0.1:")
    assert answer.url.params["connector_id"] == connector_id
    assert saved_connector_id(config_path) == connector_id
    assert list(run.lines.queue) == [
        f"Connected hosted Pinterest connector {connector_id} for customer 'new-customer'.",
        f"Saved sources.pinterest.airbyte.connector_id = {connector_id!r} in {config_path}; the next run reads it.",
    ]


def test_connect_cancelled_consent_fails_with_message(hosted, tmp_path):
    hosted.faults.deny_consent = True
    config_path = tmp_path / "config.toml"
    run = ConnectRun(settings_for(hosted), config_path)

    answer = httpx.get(run.consent_url(), follow_redirects=True, timeout=10)
    run.finish()

    assert isinstance(run.error, ConsentError)
    assert str(run.error) == (
        "Consent was not given (Airbyte redirected with error='access_denied'), so no connector was created: "
        "run `pinterest-sync hosted connect` again and approve access."
    )
    assert answer.text == "pinterest-sync received the cancelled consent. You can close this tab."
    assert not config_path.exists()
    assert list(hosted.connectors) == [hosted.connector_id]


def test_connect_timeout_fails_with_message(hosted, tmp_path):
    run = ConnectRun(settings_for(hosted), tmp_path / "config.toml", timeout=0.5)

    consent_url = run.consent_url()
    run.finish()

    assert isinstance(run.error, ConsentError)
    redirect_url = hosted.requests_log[-1][2]["body"]["redirect_url"]
    assert str(run.error) == (
        f"No redirect reached {redirect_url} within 0.5 s: run `pinterest-sync hosted connect` again and approve "
        "in time, or pass a larger --timeout."
    )
    assert consent_url.startswith(hosted.base_url + "/consent/")


def test_callback_ignores_stray_requests(hosted, tmp_path):
    run = ConnectRun(settings_for(hosted), tmp_path / "config.toml")
    consent_url = run.consent_url()
    redirect_url = hosted.requests_log[-1][2]["body"]["redirect_url"]
    origin = redirect_url.split("/callback/")[0]

    stray = httpx.get(origin + "/callback/guess?connector_id=forged", timeout=10)
    empty = httpx.get(redirect_url, timeout=10)
    httpx.get(consent_url, follow_redirects=True, timeout=10)
    run.finish()

    assert stray.status_code == 404
    assert empty.status_code == 404
    assert run.result in hosted.connectors


def test_save_creates_file_and_tables(tmp_path):
    config_path = tmp_path / ".dlt" / "config.toml"

    save_connector_id("c-1", config_path)

    assert config_path.read_text() == '[sources.pinterest.airbyte]\nconnector_id = "c-1"\n'
    assert saved_connector_id(config_path) == "c-1"


def test_save_replaces_previous_id_and_keeps_comments(tmp_path):
    config_path = tmp_path / "config.toml"
    config_path.write_text(EXISTING_CONFIG.replace('customer_name = "acme"', 'customer_name = "acme"\nconnector_id = "old"  # set by hand'))

    save_connector_id("new", config_path)

    assert config_path.read_text() == EXISTING_CONFIG.replace('customer_name = "acme"', 'customer_name = "acme"\nconnector_id = "new"  # set by hand')


def test_save_rejects_invalid_toml(tmp_path):
    config_path = tmp_path / "config.toml"
    config_path.write_text("[sources.pinterest\nbackend = 1\n")

    with pytest.raises(ConfigError) as caught:
        save_connector_id("c-1", config_path)

    assert str(caught.value).startswith(f"Cannot read {config_path} to save sources.pinterest.airbyte.connector_id: ")
    assert str(caught.value).endswith("Fix the file, or set SOURCES__PINTEREST__AIRBYTE__CONNECTOR_ID=c-1.")
    assert config_path.read_text() == "[sources.pinterest\nbackend = 1\n"


def test_save_warns_about_overriding_environment(simulator, hosted, tmp_path, monkeypatch):
    monkeypatch.setenv("SOURCES__PINTEREST__AIRBYTE__CONNECTOR_ID", "from-env")
    lines: list[str] = []

    connector_id = hosted_create(settings_for(hosted), pinterest_credentials(simulator), None, lines.append,
                                 config_path=tmp_path / "config.toml")

    assert lines[-2] == (
        "Warning: the environment variable SOURCES__PINTEREST__AIRBYTE__CONNECTOR_ID='from-env' overrides that value: "
        f"unset it or set it to {connector_id!r}."
    )
