"""The production start command (`register-bot`, what the deployment guide, infra/azure.bicep and the Dockerfile run),
started as a process in the configuration Azure gives it: authentication on, the tenant allow-list, the bot's
identity a user-assigned managed identity (`MicrosoftAppType=UserAssignedMSI`) that also reaches Cosmos DB, and no
password or key anywhere.

Everything it talks to is local and real:
- the local OpenID/JWKS server (tests/jwt_issuer.py) signs the requests and serves the keys the bot validates with;
- the Cosmos DB wire server (tests/cosmos_server.py) holds the register; the bot reaches it without COSMOS_KEY,
  through Entra ID (azure-identity's DefaultAzureCredential → managed identity);
- `ManagedIdentityEndpoint` below is the token endpoint App Service gives every process that has a managed
  identity (the platform sets IDENTITY_ENDPOINT and IDENTITY_HEADER; MSAL and azure-identity both use it). So the
  outbound replies carry a managed-identity token and nothing asks Microsoft Entra: this is the production code
  path, not a test credential factory;
- replies go to the local connector.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from http.server import ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import aiohttp
import pytest

from tests.cosmos_server import EMULATOR_KEY, unique_database
from tests.deploy_facts import start_command as entry_point
from tests.jwt_issuer import JsonHandler, JwtIssuer
from tests.teams import TENANT, ActivityFactory, free_port
from tests.test_instances_cosmos import BotProcess, admin_cli

pytestmark = pytest.mark.cosmos
ROOT = Path(__file__).resolve().parents[1]
#: The client id of the bot's user-assigned managed identity: MicrosoftAppId, AZURE_CLIENT_ID and the Azure Bot's
#: msaAppId all carry it in infra/azure.bicep.
IDENTITY_CLIENT_ID = "3d9f0c1e-8b7a-4c55-9a21-5e6f7a8b9c0d"
BOT_FRAMEWORK = "https://api.botframework.com"
#: The start command, as installed by `pip install .` (pyproject's [project.scripts]): `register-bot`.
START_COMMAND, _ = entry_point()
#: Variables the bot must not inherit from the machine running the tests: it would then use a proxy, a password
#: or a key, not the managed identity.
NOT_INHERITED = ("MicrosoftAppId", "MicrosoftAppPassword", "MicrosoftAppType", "MicrosoftAppTenantId", "COSMOS_KEY",
                 "COSMOS_ENDPOINT", "HTTP_PROXY", "HTTPS_PROXY", "http_proxy", "https_proxy", "ALL_PROXY",
                 "all_proxy", "AZURE_CLIENT_SECRET", "AZURE_TENANT_ID", "AZURE_CLIENT_ID", "IDENTITY_ENDPOINT",
                 "IDENTITY_HEADER", "MSI_ENDPOINT", "MSI_SECRET", "REGISTER_DB")


class ManagedIdentityEndpoint:
    """App Service's managed-identity token endpoint (REST API 2019-08-01), on 127.0.0.1 in a thread: GET with
    `resource` and `client_id` and the `X-IDENTITY-HEADER` secret; answers a token for that resource."""

    def __init__(self) -> None:
        self.secret = uuid.uuid4().hex
        self.requests: list[dict[str, str]] = []
        self.refused = 0
        endpoint = self

        class Handler(JsonHandler):
            def do_GET(self) -> None:  # noqa: N802 (http.server's naming)
                query = {k: v[0] for k, v in parse_qs(urlsplit(self.path).query).items()}
                if self.headers.get("X-IDENTITY-HEADER") != endpoint.secret:
                    endpoint.refused += 1
                    self._send(401, {"error": "bad identity header"})
                    return
                endpoint.requests.append(query)
                self._send(200, {
                    "access_token": endpoint.token_for(query.get("resource", "")),
                    "expires_on": str(int(time.time()) + 3600),
                    "resource": query.get("resource", ""),
                    "token_type": "Bearer",
                    "client_id": query.get("client_id", ""),
                })

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}/msi/token"
        self._thread = threading.Thread(target=self._server.serve_forever, name="msi-endpoint", daemon=True)
        self._thread.start()

    @staticmethod
    def token_for(resource: str) -> str:
        return f"mi-token-for:{resource}"

    def env(self) -> dict[str, str]:
        return {"IDENTITY_ENDPOINT": self.url, "IDENTITY_HEADER": self.secret}

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)


def start_command() -> str:
    script = Path(sys.executable).parent / START_COMMAND
    assert script.exists(), f"{script} is missing: `pip install -e .` (make install) installs the entry point"
    return str(script)


@pytest.fixture
def identity():
    endpoint = ManagedIdentityEndpoint()
    yield endpoint
    endpoint.stop()


@pytest.fixture
def issuer():
    running = JwtIssuer().start()
    yield running
    running.stop()


@pytest.fixture
def provisioned(cosmos_server):
    """A database with its containers and the demo register, as infra/azure.bicep and `register-admin import`
    leave it (created here with the emulator key; the bot itself gets no key)."""
    env = cosmos_server.env(unique_database("production"))
    admin_cli(env, "init")
    admin_cli(env, "demo")
    return {k: v for k, v in env.items() if k != "COSMOS_KEY"}


def production_env(cosmos: dict[str, str], issuer: JwtIssuer, identity: ManagedIdentityEndpoint, port: int
                   ) -> dict[str, str]:
    base = {k: v for k, v in os.environ.items() if k not in NOT_INHERITED}
    validation = {k: v for k, v in issuer.bot_env(IDENTITY_CLIENT_ID).items() if k.startswith("TO_BOT_FROM_")}
    return {
        **base,
        **cosmos,  # COSMOS_ENDPOINT, COSMOS_DATABASE, COSMOS_INSECURE_LOCAL (the local server's certificate only)
        **validation,  # inbound token validation against the local OpenID/JWKS server
        **identity.env(),  # what App Service sets for a process with a managed identity
        # the app settings infra/azure.bicep gives the web app:
        "MicrosoftAppId": IDENTITY_CLIENT_ID,
        "MicrosoftAppType": "UserAssignedMSI",
        "MicrosoftAppTenantId": TENANT,
        "AZURE_CLIENT_ID": IDENTITY_CLIENT_ID,
        "REGISTER_TENANTS": TENANT,
        "REGISTER_HOST": "127.0.0.1",  # 0.0.0.0 in the container; tests never listen off loopback
        "REGISTER_PORT": str(port),
        "REGISTER_REFRESH_SECONDS": "1",
    }


class Started(BotProcess):
    """The start command as a process (BotProcess's readiness, output and stop; our own command and env)."""

    def __init__(self, env: dict[str, str]):
        self.port = int(env["REGISTER_PORT"])
        self.url = f"http://127.0.0.1:{self.port}"
        self.log = tempfile.TemporaryFile(mode="w+")  # a file, not a pipe: an undrained pipe blocks the bot
        self.proc = subprocess.Popen([start_command()], cwd=tempfile.gettempdir(), env=env, stdout=self.log,
                                     stderr=subprocess.STDOUT, text=True)

    async def get(self, session: aiohttp.ClientSession, path: str) -> tuple[int, Any]:
        async with session.get(f"{self.url}{path}") as resp:
            return resp.status, await resp.json()

    async def signed_post(self, session: aiohttp.ClientSession, activity: dict, headers: dict[str, str]
                          ) -> tuple[int, str]:
        async with session.post(f"{self.url}/api/messages", json=activity, headers=headers) as resp:
            return resp.status, await resp.text()


async def test_the_start_command_serves_teams_with_a_managed_identity_and_no_secrets(
        provisioned, issuer, identity, connector):
    bot = Started(production_env(provisioned, issuer, identity, free_port()))
    teams = ActivityFactory(connector.url)
    try:
        async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=30)) as session:
            await bot.ready(timeout=60)
            assert await bot.get(session, "/healthz") == (200, {"status": "ok"})
            status, body = await bot.get(session, "/readyz")
            assert (status, body) == (200, {"ready": True})  # ready: the store answers and the register has loaded

            # no token: 401, nothing done
            unsigned = teams.personal("check 12 High St")
            status, text = await bot.signed_post(session, unsigned, headers={})
            assert (status, text) == (401, "")
            assert connector.sent == []

            # a signed check: the alert card reaches the connector, sent with the managed identity's token
            signed = teams.personal("check 12 High St")
            token = issuer.bearer(IDENTITY_CLIENT_ID, teams.service_url)
            status, _ = await bot.signed_post(session, signed, headers={"Authorization": token})
            assert status in (200, 201)
            [reply] = connector.to(signed["conversation"]["id"])
            assert "MCR-2026-0001" in json.dumps(reply.cards)
            assert reply.authorization == f"Bearer {identity.token_for(BOT_FRAMEWORK)}"
    finally:
        logs = bot.stop()
    # both the Bot Framework token and the Cosmos DB token came from the managed identity, asked by its client id
    assert identity.refused == 0
    asked = {(r.get("resource"), r.get("client_id")) for r in identity.requests}
    assert (BOT_FRAMEWORK, IDENTITY_CLIENT_ID) in asked, asked
    assert any(resource != BOT_FRAMEWORK and client == IDENTITY_CLIENT_ID for resource, client in asked), asked
    # the check was audited in Cosmos DB (read back with the administrators' key)
    audit = admin_cli({**provisioned, "COSMOS_KEY": EMULATOR_KEY}, "audit", "--ref", "MCR-2026-0001").stdout
    assert [json.loads(line)["action"] for line in audit.splitlines()].count("check") == 1
    assert "Traceback" not in logs and "12 High St" not in logs, logs[-3000:]


def test_the_start_command_refuses_to_listen_off_loopback_without_authentication(tmp_path):
    env = {k: v for k, v in os.environ.items() if k not in NOT_INHERITED}
    # Not loopback, and not an address of this machine (TEST-NET-1, RFC 5737): should the check ever regress, the
    # bind fails instead of listening off loopback. (The container's 0.0.0.0 is checked in tests/test_dockerfile.py.)
    env.update(REGISTER_HOST="192.0.2.1", REGISTER_PORT=str(free_port()), REGISTER_DB=str(tmp_path / "r.db"))
    result = subprocess.run([start_command()], env=env, capture_output=True, text=True, timeout=60)
    assert result.returncode == 2
    assert "refusing to start" in result.stderr and "MicrosoftAppId is not set" in result.stderr
    assert not (tmp_path / "r.db").exists()  # it stopped before opening anything
