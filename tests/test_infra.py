"""infra/azure.bicep, its parameters and the Agents Toolkit project files agree with the code.

The Bicep compiler cannot be installed here (it is published on GitHub and NuGet, neither reachable; no PyPI, npm or
Debian package ships it), so these tests cannot `bicep build`. They read the Bicep as text for the facts that must
match the code: containers and partition keys, the app settings the bot reads, the start command, the health path,
and the security settings the README promises. README.md says what was and was not checked.
"""

from __future__ import annotations

import json
import re

from bot.settings import Settings
from storage.cosmos import CONTAINERS, DEFAULT_DATABASE, PK_PATH, TTL_CONTAINERS
from tests.deploy_facts import ROOT, routes, settings_the_code_reads, start_command
from tools.infra import CONTAINERS_FILE, rendered

BICEP = (ROOT / "infra" / "azure.bicep").read_text()
PARAMETERS = json.loads((ROOT / "infra" / "azure.parameters.json").read_text())["parameters"]
TOOLKIT = (ROOT / "m365agents.yml").read_text()
TOOLKIT_LOCAL = (ROOT / "m365agents.local.yml").read_text()
ENV_DEV = (ROOT / "env" / ".env.dev").read_text()
#: App settings that are not the bot's own: App Service's build switch, azure-identity's managed identity selector.
PLATFORM_SETTINGS = {"SCM_DO_BUILD_DURING_DEPLOYMENT", "AZURE_CLIENT_ID"}


def code_only(text: str) -> str:
    """The Bicep without comments (// to the end of a line, outside strings)."""
    return "\n".join(re.sub(r"^((?:[^'/]|'[^']*'|/(?!/))*)//.*$", r"\1", line) for line in text.splitlines())


def app_settings() -> dict[str, str]:
    block = BICEP[BICEP.index("appSettings: ["):]
    block = block[:block.index("\n      ]")]
    return dict(re.findall(r"\{ name: '([^']+)', value: ([^}]+?) \}", block))


def literal(value: str) -> str:
    assert value.startswith("'") and value.endswith("'"), value
    return value[1:-1]


def test_the_container_file_is_written_from_the_code():
    assert CONTAINERS_FILE.read_text() == rendered(), "run python -m tools.infra"
    specs = json.loads(CONTAINERS_FILE.read_text())
    assert [s["name"] for s in specs] == list(CONTAINERS)
    assert {s["partitionKey"] for s in specs} == {PK_PATH}
    # TTL only where working documents carry their own expiry (drafts): on, with no default
    assert {s["name"]: s.get("defaultTtl") for s in specs if "defaultTtl" in s} == {n: -1 for n in TTL_CONTAINERS}
    assert "defaultTtl: spec.?defaultTtl" in code_only(BICEP)


def test_the_bicep_creates_those_containers_in_the_database_the_bot_opens():
    code = code_only(BICEP)
    assert "var containers = loadJsonContent('cosmos-containers.json')" in code
    assert "[for spec in containers:" in code
    assert "partitionKey: { paths: [ spec.partitionKey ], kind: 'Hash' }" in code
    assert "indexingPolicy: spec.indexingPolicy" in code
    assert f"param databaseName string = '{DEFAULT_DATABASE}'" in code
    assert PARAMETERS["databaseName"]["value"] == DEFAULT_DATABASE
    assert app_settings()["COSMOS_DATABASE"] == "databaseName"


def test_app_settings_are_ones_the_code_reads_and_make_an_authenticated_managed_identity_bot():
    settings = app_settings()
    read = settings_the_code_reads()
    assert set(settings) - PLATFORM_SETTINGS <= read, set(settings) - PLATFORM_SETTINGS - read
    assert {"MicrosoftAppId", "MicrosoftAppType", "MicrosoftAppTenantId", "REGISTER_TENANTS", "REGISTER_ADMINS",
            "REGISTER_HOST", "REGISTER_PORT", "COSMOS_ENDPOINT", "COSMOS_DATABASE", "AZURE_CLIENT_ID"} <= set(settings)
    # no secrets, and never the local server's TLS switch
    assert not {"MicrosoftAppPassword", "COSMOS_KEY", "COSMOS_INSECURE_LOCAL", "REGISTER_ALLOW_UNAUTHENTICATED",
                "REGISTER_DEMO"} & set(settings)
    assert settings["MicrosoftAppId"] == settings["AZURE_CLIENT_ID"] == "identity.properties.clientId"
    assert literal(settings["MicrosoftAppType"]) == "UserAssignedMSI"
    assert settings["REGISTER_PORT"] == "port" and "var port = '8000'" in BICEP
    # with those values (ids standing in for what Azure fills in) the bot starts, bound off loopback
    env = {name: literal(value) if value.startswith("'") else f"<{value}>" for name, value in settings.items()}
    env["REGISTER_PORT"] = "8000"
    configured = Settings.from_env(env)
    assert configured.host == "0.0.0.0" and configured.authenticated and configured.tenants
    assert configured.startup_problem() is None


def test_the_web_app_runs_the_start_command_and_checks_the_health_path_the_app_serves():
    name, _ = start_command()
    assert f"appCommandLine: '{name}'" in BICEP
    assert "linuxFxVersion: 'PYTHON|3.11'" in BICEP
    [path] = re.findall(r"healthCheckPath: '([^']+)'", BICEP)
    assert path == "/healthz" and path in routes("GET")
    assert "/api/messages'" in BICEP and "/api/messages" in routes("POST")
    assert (ROOT / "requirements.txt").read_text().splitlines()[-1] == "."  # Oryx installs the project itself


def test_the_security_settings_the_readme_promises_are_there():
    code = code_only(BICEP)
    for fact in ("httpsOnly: true", "minTlsVersion: '1.2'", "scmMinTlsVersion: '1.2'", "ftpsState: 'Disabled'",
                 "disableLocalAuth: true", "{ name: 'EnableServerless' }", "minimalTlsVersion: 'Tls12'",
                 "httpLoggingEnabled: false", "requestTracingEnabled: false",
                 "httpLogs: { fileSystem: { enabled: false } }",
                 "var cosmosDataContributor = '00000000-0000-0000-0000-000000000002'",
                 "principalId: identity.properties.principalId", "msaAppType: 'UserAssignedMSI'",
                 "msaAppMSIResourceId: identity.id", "channelName: 'MsTeamsChannel'", "type: 'UserAssigned'"):
        assert fact in code, fact
    for absent in ("listKeys", "listConnectionStrings", "primaryMasterKey", "connectionString", "MicrosoftAppPassword",
                   "applicationInsights", "Microsoft.Insights"):
        assert absent not in code, absent
    # only the Teams channel
    assert re.findall(r"channelName: '(\w+)'", code) == ["MsTeamsChannel"]


def test_the_bicep_is_well_formed_as_far_as_text_can_tell():
    code = re.sub(r"'(?:[^'\\]|\\.)*'", "''", code_only(BICEP))  # strings out, then brackets must balance
    for opening, closing in ("{}", "[]", "()"):
        assert code.count(opening) == code.count(closing), opening + closing
    types = re.findall(r"^resource \w+ '([\w./]+)@([\w-]+)'", BICEP, re.M)
    assert len(types) == 11
    assert all(re.fullmatch(r"\d{4}-\d{2}-\d{2}", version) for _, version in types), types  # GA versions only
    declared = dict(re.findall(r"^param (\w+) \w+(?: = (.+))?$", BICEP, re.M))
    assert set(PARAMETERS) <= set(declared)
    assert {name for name, default in declared.items() if not default} <= set(PARAMETERS)
    outputs = re.findall(r"^output (\w+) string", BICEP, re.M)
    assert outputs == ["BOT_ID", "BOT_DOMAIN", "BOT_AZURE_APP_SERVICE_RESOURCE_ID", "COSMOS_ENDPOINT"]


def placeholders(text: str) -> set[str]:
    return set(re.findall(r"\$\{\{(\w+)\}\}", text))


def test_toolkit_files_use_the_bicep_its_outputs_and_declared_environment_variables():
    assert "path: ./infra/azure.bicep" in TOOLKIT and "parameters: ./infra/azure.parameters.json" in TOOLKIT
    assert "uses: azureAppService/zipDeploy" in TOOLKIT and "ignoreFile: ./.webappignore" in TOOLKIT
    assert "resourceId: ${{BOT_AZURE_APP_SERVICE_RESOURCE_ID}}" in TOOLKIT
    assert "run: make package MicrosoftAppId=${{BOT_ID}}" in TOOLKIT
    env_names = set(re.findall(r"^(\w+)=", ENV_DEV, re.M))
    outputs = set(re.findall(r"^output (\w+) string", BICEP, re.M))
    used = placeholders(TOOLKIT) | placeholders(json.dumps(PARAMETERS))
    assert used <= env_names, used - env_names
    assert outputs <= env_names  # the Toolkit writes them back there
    # the local file writes only settings the bot reads
    local = dict(re.findall(r"^        (\w+): (.+)$", TOOLKIT_LOCAL, re.M))
    assert set(local) <= settings_the_code_reads(), set(local) - settings_the_code_reads()
    assert local["MicrosoftAppType"] == "SingleTenant" and "signInAudience: AzureADMyOrg" in TOOLKIT_LOCAL


def test_the_dev_environment_file_holds_no_secrets_or_values_to_fill_in_by_provision():
    values = dict(re.findall(r"^(\w+)=(.*)$", ENV_DEV, re.M))
    assert not [n for n in values if "SECRET" in n or "PASSWORD" in n or n.endswith("_KEY")]
    filled = {n for n, v in values.items() if v}
    assert filled == {"TEAMSFX_ENV", "APP_NAME_SUFFIX"}, filled
    ignored = (ROOT / ".gitignore").read_text()
    assert "env/.env.*.user" in ignored and ".localConfigs" in ignored
