// The Managed Contact Register in Azure: one resource group holding
//   - a user-assigned managed identity: the bot's identity towards Teams (MicrosoftAppType=UserAssignedMSI) AND its
//     identity towards Cosmos DB (built-in Data Contributor role). No client secret and no database key exist;
//   - Cosmos DB for NoSQL, serverless, keys disabled, with the database and containers the bot expects
//     (cosmos-containers.json is written from storage/cosmos.py by `python -m tools.infra`; tests check it);
//   - App Service for Linux (Python 3.11) running `register-bot`, HTTPS only, TLS 1.2, FTP(S) off;
//   - an Azure Bot, single tenant, Teams channel only, pointing at the web app.
//
// Deploy with the Agents Toolkit (m365agents.yml, `provision`) or by hand:
//   az deployment group create -g <group> -f infra/azure.bicep -p infra/azure.parameters.json -p resourceBaseName=<name>
// Not deployed from the repository's CI (it has no Azure access): the README says what was checked and how.
// API versions are the latest GA ones in the Azure resource reference (learn.microsoft.com/azure/templates).

@description('Prefix of every resource name (letters and digits, 3-20): e.g. the council and environment, "mbcregprod".')
@minLength(3)
@maxLength(20)
param resourceBaseName string

@description('Azure region of the web app and Cosmos DB. UK councils: uksouth (or ukwest).')
param location string = resourceGroup().location

@description('Entra tenant(s) whose staff may use the register (REGISTER_TENANTS). Default: this subscription\'s tenant.')
param allowedTenants string = subscription().tenantId

@description('Entra object ids of the first administrators (REGISTER_ADMINS), comma-separated. They can then grant roles.')
param bootstrapAdmins string

@description('App Service plan SKU. B1 (1 core, Always On) is enough for a council; P0v3 for zone redundancy.')
param appServiceSku string = 'B1'

@description('The Cosmos DB database name (COSMOS_DATABASE). Keep the default unless two registers share an account.')
param databaseName string = 'register'

@description('Name shown for the bot in Azure.')
param botDisplayName string = 'Managed Contact Register'

// The port App Service's built-in Python image forwards requests to; the bot reads it from REGISTER_PORT.
var port = '8000'
var containers = loadJsonContent('cosmos-containers.json')
// Cosmos DB Built-in Data Contributor: read/write items and query, no control-plane rights (cannot create or delete
// containers). The bot needs nothing more; `register-admin retention run` deletes with the same role.
var cosmosDataContributor = '00000000-0000-0000-0000-000000000002'

// ---------------------------------------------------------------------------------------------------- identity

resource identity 'Microsoft.ManagedIdentity/userAssignedIdentities@2023-01-31' = {
  name: '${resourceBaseName}-identity'
  location: location
}

// ---------------------------------------------------------------------------------------------------- Cosmos DB

resource cosmos 'Microsoft.DocumentDB/databaseAccounts@2024-05-15' = {
  name: '${resourceBaseName}-cosmos'
  location: location
  kind: 'GlobalDocumentDB' // the NoSQL API
  properties: {
    databaseAccountOfferType: 'Standard'
    capabilities: [
      { name: 'EnableServerless' } // pay per request: a council's register is small and quiet at night
    ]
    locations: [
      { locationName: location, failoverPriority: 0, isZoneRedundant: false }
    ]
    consistencyPolicy: { defaultConsistencyLevel: 'Session' } // what docs/cosmos.md assumes
    disableLocalAuth: true // no account keys: Entra ID (the managed identity) only
    disableKeyBasedMetadataWriteAccess: true // containers change only through Azure Resource Manager (this file)
    minimalTlsVersion: 'Tls12'
    publicNetworkAccess: 'Enabled' // App Service B1 has no VNet integration; restrict with a private endpoint on P*v3
  }
}

resource database 'Microsoft.DocumentDB/databaseAccounts/sqlDatabases@2024-05-15' = {
  parent: cosmos
  name: databaseName
  properties: {
    resource: { id: databaseName }
  }
}

// Same names, partition key and indexing policies as `register-admin init` (storage/cosmos.py). TTL is on (-1: no
// default) only in `documents`, where drafts and other working documents carry their own `ttl`; the register's
// expiry is decided by dates in the domain, retention by `register-admin retention run`.
resource container 'Microsoft.DocumentDB/databaseAccounts/sqlDatabases/containers@2024-05-15' = [for spec in containers: {
  parent: database
  name: spec.name
  properties: {
    resource: {
      id: spec.name
      partitionKey: { paths: [ spec.partitionKey ], kind: 'Hash' }
      indexingPolicy: spec.indexingPolicy
      defaultTtl: spec.?defaultTtl
    }
  }
}]

resource cosmosRole 'Microsoft.DocumentDB/databaseAccounts/sqlRoleAssignments@2024-05-15' = {
  parent: cosmos
  name: guid(cosmos.id, identity.id, cosmosDataContributor)
  properties: {
    roleDefinitionId: '${cosmos.id}/sqlRoleDefinitions/${cosmosDataContributor}'
    principalId: identity.properties.principalId
    scope: cosmos.id
  }
}

// ---------------------------------------------------------------------------------------------------- web app

resource plan 'Microsoft.Web/serverfarms@2023-12-01' = {
  name: '${resourceBaseName}-plan'
  location: location
  kind: 'linux'
  sku: { name: appServiceSku }
  properties: { reserved: true } // Linux
}

resource web 'Microsoft.Web/sites@2023-12-01' = {
  name: '${resourceBaseName}-app'
  location: location
  kind: 'app,linux'
  identity: {
    type: 'UserAssigned'
    userAssignedIdentities: { '${identity.id}': {} }
  }
  properties: {
    serverFarmId: plan.id
    httpsOnly: true
    clientAffinityEnabled: false // any instance can answer any request: the register is shared in Cosmos DB
    siteConfig: {
      linuxFxVersion: 'PYTHON|3.11'
      appCommandLine: 'register-bot' // the production start command (pyproject.toml [project.scripts])
      healthCheckPath: '/healthz'
      alwaysOn: true // the in-memory index is loaded at start: keep the process warm
      minTlsVersion: '1.2'
      scmMinTlsVersion: '1.2'
      ftpsState: 'Disabled'
      http20Enabled: true
      webSocketsEnabled: false
      // No request logs: App Service HTTP logs and failed-request traces would record URLs and client
      // addresses of staff; the bot's own log carries ids and references only (never names or addresses).
      httpLoggingEnabled: false
      requestTracingEnabled: false
      detailedErrorLoggingEnabled: false
      appSettings: [
        // Oryx builds the app at deployment: `pip install -r requirements.txt` (the project and its runtime deps)
        { name: 'SCM_DO_BUILD_DURING_DEPLOYMENT', value: 'true' }
        // The bot's identity: the managed identity's client id, as in the Azure Bot below.
        { name: 'MicrosoftAppType', value: 'UserAssignedMSI' }
        { name: 'MicrosoftAppId', value: identity.properties.clientId }
        { name: 'MicrosoftAppTenantId', value: identity.properties.tenantId }
        // Which managed identity azure-identity uses for Cosmos DB (DefaultAzureCredential reads AZURE_CLIENT_ID).
        { name: 'AZURE_CLIENT_ID', value: identity.properties.clientId }
        { name: 'REGISTER_TENANTS', value: allowedTenants }
        { name: 'REGISTER_ADMINS', value: bootstrapAdmins }
        { name: 'REGISTER_HOST', value: '0.0.0.0' } // allowed because authentication is on (MicrosoftAppId)
        { name: 'REGISTER_PORT', value: port }
        { name: 'COSMOS_ENDPOINT', value: cosmos.properties.documentEndpoint }
        { name: 'COSMOS_DATABASE', value: databaseName }
        // No COSMOS_KEY and no MicrosoftAppPassword: there are none.
      ]
    }
  }
}

// Application logs (the bot's stdout: ids and references only) kept on the instance's file system for a week;
// HTTP logs off (see above). No Application Insights and no diagnostic settings are created.
resource webLogs 'Microsoft.Web/sites/config@2023-12-01' = {
  parent: web
  name: 'logs'
  properties: {
    applicationLogs: { fileSystem: { level: 'Information' } }
    httpLogs: { fileSystem: { enabled: false } }
    failedRequestsTracing: { enabled: false }
    detailedErrorMessages: { enabled: false }
  }
}

// No FTP with a publishing password. (SCM basic auth stays as created: the Toolkit's zip deploy may use it;
// turn it off here with `allow: false` if you deploy with `az webapp deploy` and Entra ID only.)
resource ftpBasicAuth 'Microsoft.Web/sites/basicPublishingCredentialsPolicies@2023-12-01' = {
  parent: web
  name: 'ftp'
  properties: { allow: false }
}

// ---------------------------------------------------------------------------------------------------- Azure Bot

resource bot 'Microsoft.BotService/botServices@2022-09-15' = {
  name: resourceBaseName
  location: 'global'
  kind: 'azurebot'
  sku: { name: 'F0' } // Teams is a standard channel: free
  properties: {
    displayName: botDisplayName
    endpoint: 'https://${web.properties.defaultHostName}/api/messages'
    msaAppType: 'UserAssignedMSI' // single tenant by construction: the identity lives in this tenant
    msaAppId: identity.properties.clientId
    msaAppTenantId: identity.properties.tenantId
    msaAppMSIResourceId: identity.id
  }
}

resource teams 'Microsoft.BotService/botServices/channels@2022-09-15' = {
  parent: bot
  name: 'MsTeamsChannel'
  location: 'global'
  properties: {
    channelName: 'MsTeamsChannel'
    properties: { isEnabled: true }
  }
}

// ---------------------------------------------------------------------------------------------------- outputs
// Names in capitals: the Agents Toolkit writes outputs into env/.env.<environment> under these names.

output BOT_ID string = identity.properties.clientId
output BOT_DOMAIN string = web.properties.defaultHostName
output BOT_AZURE_APP_SERVICE_RESOURCE_ID string = web.id
output COSMOS_ENDPOINT string = cosmos.properties.documentEndpoint
