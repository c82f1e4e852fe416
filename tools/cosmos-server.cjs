#!/usr/bin/env node
/*
 * Local Cosmos DB wire server for development and tests: @vercel/cosmosdb-server 1.0.1, started our way.
 *
 *   node tools/cosmos-server.cjs [--port N] [--no-keep-alive] [--no-fix-404]
 *
 * - Listens on 127.0.0.1 only (never another interface). Port: --port N, else $COSMOS_SERVER_PORT, else 0
 *   (a free port chosen by the OS). Once listening it prints ONE line to stdout, `COSMOS_READY port=NNNNN`,
 *   which is what tests/cosmos_server.py waits for.
 * - Fixes a defect of 1.0.1: reading a missing item answered 500 (a TypeError inside the handler) instead of
 *   404 NotFound. We wrap the read-document handler before the router captures it; node_modules is untouched.
 * - Turns HTTP keep-alive on: the stock server answers `Connection: close`, so every request paid a new TCP +
 *   TLS handshake (~4-6 ms); with keep-alive a point operation costs ~1-2 ms. --no-keep-alive restores the stock
 *   behaviour (to measure the difference).
 * - Stops cleanly on SIGTERM/SIGINT. Everything is in memory: a restart starts empty.
 *
 * The certificate is the package's own self-signed, expired one (CN cosmosdb): clients must skip TLS
 * verification for this loopback server only (COSMOS_INSECURE_LOCAL=1 in storage/cosmos.py).
 */
"use strict";

const path = require("path");

const HOST = "127.0.0.1";

function parseArgs(argv) {
  const args = { port: undefined, keepAlive: true, fix404: true };
  for (let i = 0; i < argv.length; i += 1) {
    const arg = argv[i];
    if (arg === "--port" || arg === "-p") {
      args.port = argv[(i += 1)];
    } else if (arg.startsWith("--port=")) {
      args.port = arg.slice("--port=".length);
    } else if (arg === "--no-keep-alive") {
      args.keepAlive = false;
    } else if (arg === "--no-fix-404") {
      args.fix404 = false;
    } else if (arg === "--help" || arg === "-h") {
      process.stdout.write("usage: node tools/cosmos-server.cjs [--port N] [--no-keep-alive] [--no-fix-404]\n");
      process.exit(0);
    } else {
      process.stderr.write(`cosmos-server: unknown argument ${arg}\n`);
      process.exit(2);
    }
  }
  const raw = args.port ?? process.env.COSMOS_SERVER_PORT ?? "0";
  const port = Number.parseInt(raw, 10);
  if (!Number.isInteger(port) || port < 0 || port > 65535 || String(port) !== String(raw).trim()) {
    process.stderr.write(`cosmos-server: invalid port ${JSON.stringify(raw)}\n`);
    process.exit(2);
  }
  args.port = port;
  return args;
}

function packageRoot() {
  // Resolve from the repository (this file lives in tools/), then from the working directory.
  const from = [path.join(__dirname, ".."), process.cwd()];
  try {
    return path.dirname(require.resolve("@vercel/cosmosdb-server/package.json", { paths: from }));
  } catch (err) {
    process.stderr.write(
      "cosmos-server: @vercel/cosmosdb-server is not installed (run `npm install` in the repository root)\n"
    );
    process.exit(3);
    return undefined;
  }
}

const NOT_FOUND = {
  code: "NotFound",
  message: "Entity with the specified id does not exist in the system."
};

/* Wrap the GET /dbs/:db/colls/:coll/docs/:doc handler. routes.js copies `handler.default` into its table when it
 * is first required, so this must run before lib/index.js is required. */
function fixMissingItem404(root) {
  const handler = require(path.join(root, "lib", "handler", "read-document.js"));
  const pkHeader = require(path.join(root, "lib", "utils", "get-partition-from-header.js"));
  const original = handler.default;
  handler.default = (account, req, res, params) => {
    try {
      const collection = account.database(params.dbId).collection(params.collId);
      if (collection.read()) {
        const header = pkHeader.default(req);
        const partition = header === undefined ? params.docId : pkHeader.parsePartitionKey(header, params.docId);
        if (!collection.document(params.docId, partition).read()) {
          res.statusCode = 404;
          return { ...NOT_FOUND };
        }
      }
    } catch (err) {
      // Anything unexpected: let the stock handler answer as it always did.
    }
    return original(account, req, res, params);
  };
}

function main() {
  const args = parseArgs(process.argv.slice(2));
  const root = packageRoot();
  if (args.fix404) {
    fixMissingItem404(root);
  }
  const { createHttpsServer } = require(path.join(root, "lib", "index.js"));
  const server = createHttpsServer({ keepAlive: args.keepAlive });
  if (args.keepAlive) {
    // Longer than aiohttp's idle keep-alive (15 s), so the client closes idle sockets first and never
    // reuses one the server is closing at the same moment.
    server.keepAliveTimeout = 75_000;
    server.headersTimeout = 76_000;
  }
  server.on("error", err => {
    process.stderr.write(`cosmos-server: ${err.message}\n`);
    process.exit(1);
  });
  server.listen(args.port, HOST, () => {
    const { port } = server.address();
    process.stdout.write(`COSMOS_READY port=${port}\n`);
  });
  const stop = () => {
    server.close(() => process.exit(0));
    if (server.closeAllConnections) server.closeAllConnections();
    setTimeout(() => process.exit(0), 500).unref();
  };
  process.on("SIGTERM", stop);
  process.on("SIGINT", stop);
}

main();
