# The Managed Contact Register bot as a container (Azure Container Apps, App Service for containers, or any host).
#   docker build -t managed-contact-register .
#   docker run -p 3978:3978 -e MicrosoftAppId=... -e MicrosoftAppType=UserAssignedMSI -e MicrosoftAppTenantId=... \
#     -e AZURE_CLIENT_ID=... -e REGISTER_TENANTS=... -e REGISTER_ADMINS=... -e COSMOS_ENDPOINT=... managed-contact-register
# It listens on 0.0.0.0, which the bot allows only with authentication on (MicrosoftAppId set): without it, it
# refuses to start. Runtime dependencies only (no test extras, no Node). See README.md, "Deploying to Azure".

FROM python:3.11-slim AS build
WORKDIR /src
COPY pyproject.toml ./
COPY register/ register/
COPY storage/ storage/
COPY cards/ cards/
COPY bot/ bot/
COPY admin/ admin/
# The project and its runtime dependencies (pyproject.toml [project.dependencies]) into /install, nothing else.
RUN pip install --no-cache-dir --no-compile --prefix=/install .

FROM python:3.11-slim
ENV PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    REGISTER_HOST=0.0.0.0 \
    REGISTER_PORT=3978
COPY --from=build /install /usr/local
# An unprivileged user with no shell and no home; the app writes nothing to the image (the register is in Cosmos DB;
# for the embedded SQLite store mount a volume and set REGISTER_DB=/data/register.db).
RUN useradd --system --uid 10001 --no-create-home --shell /usr/sbin/nologin register
USER 10001
WORKDIR /tmp
EXPOSE 3978
# Liveness only (/readyz is for the orchestrator's readiness probe: it answers 503 while Cosmos DB is unreachable).
HEALTHCHECK --interval=30s --timeout=5s --start-period=30s --retries=3 \
    CMD ["python", "-c", "import os, urllib.request; urllib.request.urlopen('http://127.0.0.1:' + os.environ.get('REGISTER_PORT', '3978') + '/healthz', timeout=4)"]
CMD ["register-bot"]
