"""tools/playground-guard.cjs: the preload that keeps the Agents Playground on loopback.

A probe script runs under `node --require <tripwire> --require tools/playground-guard.cjs`. The tripwire is
installed first and sits one level below the guard, on Node's native bindings (TCP connect/bind,
getaddrinfo, c-ares queries, UDP send): it records every call that would reach the kernel or the resolver and
blocks the non-loopback ones itself, so even a broken guard cannot let a packet out during this test. The test
then asserts that the guard refused everything first: the tripwire saw no non-loopback connect, no DNS query
at all, and every server was bound to 127.0.0.1.
"""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
GUARD = ROOT / "tools" / "playground-guard.cjs"

TRIPWIRE = r"""
"use strict";
// Records (and blocks, if not loopback) every native network call. Loaded BEFORE the guard.
const net = require("net");
const hits = (globalThis.__tripwire = { connect: [], bind: [], dns: [], udp: [] });
const lo = new net.BlockList();
lo.addSubnet("127.0.0.0", 8, "ipv4");
lo.addAddress("::1", "ipv6");
const isLo = (a) => net.isIP(a) !== 0 && lo.check(a, net.isIP(a) === 4 ? "ipv4" : "ipv6");
const EPERM = -1, ENOTFOUND = -3008; // EPERM, not the guard's EACCES, so the two are told apart

const tcp = process.binding("tcp_wrap").TCP.prototype;
for (const m of ["connect", "connect6"]) {
  const orig = tcp[m];
  tcp[m] = function (req, address, port) {
    hits.connect.push(`${address}:${port}`);
    return isLo(address) ? orig.apply(this, arguments) : EPERM;
  };
}
for (const m of ["bind", "bind6"]) {
  const orig = tcp[m];
  tcp[m] = function (address, port) {
    hits.bind.push(address);
    return orig.apply(this, arguments);
  };
}
const cares = process.binding("cares_wrap");
for (const m of ["getaddrinfo", "getnameinfo"]) {
  cares[m] = function (req, host) { hits.dns.push(`${m} ${host}`); return ENOTFOUND; };
}
for (const m of Object.getOwnPropertyNames(cares.ChannelWrap.prototype)) {
  if (/^(query|getHostByAddr)/.test(m)) {
    cares.ChannelWrap.prototype[m] = function (req, name) {
      hits.dns.push(`${m} ${name}`);
      return ENOTFOUND;
    };
  }
}
const udp = process.binding("udp_wrap").UDP.prototype;
for (const m of ["send", "send6", "connect", "connect6"]) {
  const orig = udp[m];
  udp[m] = function (...args) {
    const address = args.find((a) => typeof a === "string" && net.isIP(a));
    hits.udp.push(`${m} ${address}`);
    return isLo(address) ? orig.apply(this, args) : EPERM;
  };
}
"""

PROBE = r"""
"use strict";
const net = require("net"), http = require("http"), https = require("https");
const dns = require("dns"), dgram = require("dgram");
const out = { servers: {}, outbound: {}, dns: {}, local: {}, handleAfterConnect: {} };

const settle = (p, ms = 3000) => Promise.race([
  p.then((v) => ({ ok: true, value: v }),
         (e) => ({ ok: false, code: e.code || (e.cause && e.cause.code) || String(e) })),
  new Promise((r) => setTimeout(() => r({ ok: false, code: "TIMEOUT" }), ms)),
]);
const listening = (server, ...args) => new Promise((res, rej) => {
  server.once("error", rej);
  server.listen(...args, () => res(server.address()));
});
const socketAttempt = (name, makeSocket) => {
  let sock;
  const p = new Promise((res, rej) => {
    sock = makeSocket();
    sock.once("connect", () => { sock.destroy(); res("connected"); });
    sock.once("secureConnect", () => { sock.destroy(); res("connected"); });
    sock.once("error", rej);
  });
  out.handleAfterConnect[name] = sock._handle == null; // true: no native socket was created by connect()
  return settle(p);
};
const request = (mod, url) => new Promise((res, rej) => {
  const req = mod.get(url, (r) => { r.resume(); res(r.statusCode); });
  req.on("error", rej);
});

(async () => {
  const web = http.createServer((req, res) => res.end("ok"));
  out.servers.http_0000 = await listening(web, 0, "0.0.0.0");
  out.servers.net_default = await listening(net.createServer(), 0);
  out.servers.net_options_v6any = await listening(net.createServer(), { port: 0, host: "::" });
  out.servers.net_no_args = await listening(net.createServer());
  const port = out.servers.http_0000.port;

  out.outbound.metadata = await socketAttempt("metadata", () => net.connect(80, "169.254.169.254"));
  out.outbound.metadata_again = await socketAttempt("metadata_again",
    () => net.connect({ port: 80, host: "169.254.169.254" }));
  out.outbound.mapped_v6 = await socketAttempt("mapped_v6", () => net.connect(80, "::ffff:169.254.169.254"));
  out.outbound.hostname = await socketAttempt("hostname",
    () => net.connect({ port: 443, host: "dc.services.visualstudio.com" }));
  out.outbound.tls = await socketAttempt("tls",
    () => require("tls").connect({ port: 443, host: "example.com" }));
  out.outbound.http = await settle(request(http, "http://169.254.169.254/metadata/instance"));
  out.outbound.https = await settle(request(https, "https://westeurope-5.in.applicationinsights.azure.com/v2/track"));
  out.outbound.fetch = await settle(fetch("http://example.com/"));
  out.outbound.udp = await settle(new Promise((res, rej) => {
    const s = dgram.createSocket("udp4");
    s.send(Buffer.from("x"), 53, "10.255.255.53", (err) => { s.close(); err ? rej(err) : res("sent"); });
  }));

  const cb = (res, rej) => (e, a) => (e ? rej(e) : res(a));
  out.dns.lookup = await settle(new Promise((res, rej) => dns.lookup("example.com", cb(res, rej))));
  out.dns.lookup_all = await settle(dns.promises.lookup("example.com", { all: true }));
  out.dns.resolve4 = await settle(new Promise((res, rej) => dns.resolve4("example.com", cb(res, rej))));
  out.dns.resolver = await settle(new dns.promises.Resolver().resolveTxt("example.com"));
  out.dns.promises_resolve = await settle(dns.promises.resolve("example.com", "MX"));
  out.dns.reverse = await settle(dns.promises.reverse("8.8.8.8"));
  out.dns.localhost = await settle(dns.promises.lookup("localhost"));

  out.local.ip = await settle(request(http, `http://127.0.0.1:${port}/`));
  out.local.localhost = await settle(request(http, `http://localhost:${port}/`));
  out.local.fetch = await settle(fetch(`http://127.0.0.1:${port}/`).then((r) => r.status));

  out.tripwire = globalThis.__tripwire;
  process.stdout.write(JSON.stringify(out));
  process.exit(0);
})().catch((e) => { process.stderr.write(String(e && e.stack || e)); process.exit(3); });
"""


def node() -> str:
    exe = shutil.which("node")
    assert exe, "node is not on PATH: install Node.js 20 (make install needs it for the npm test tools)"
    return exe


@pytest.fixture(scope="module")
def probe(tmp_path_factory) -> tuple[dict, str]:
    work = tmp_path_factory.mktemp("guard")
    (work / "tripwire.cjs").write_text(TRIPWIRE)
    (work / "probe.cjs").write_text(PROBE)
    proc = subprocess.run(
        [node(), "--require", str(work / "tripwire.cjs"), "--require", str(GUARD), str(work / "probe.cjs")],
        capture_output=True, text=True, timeout=60, cwd=work,
        env={"PATH": "/usr/bin:/bin", "HOME": str(work)},  # no proxy variables, no NODE_OPTIONS
    )
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout), proc.stderr


def test_every_server_listens_on_127_0_0_1_only(probe):
    out, _ = probe
    for name, address in out["servers"].items():
        assert address["address"] == "127.0.0.1", (name, address)
    assert out["tripwire"]["bind"] and set(out["tripwire"]["bind"]) == {"127.0.0.1"}


@pytest.mark.parametrize(
    "attempt",
    ["metadata", "metadata_again", "mapped_v6", "hostname", "tls", "http", "https", "fetch", "udp"])
def test_outbound_attempts_are_refused(probe, attempt):
    out, _ = probe
    result = out["outbound"][attempt]
    assert result["ok"] is False and result["code"] == "EACCES", result


def test_refused_connects_never_create_a_native_socket(probe):
    out, _ = probe
    # right after connect() returned, the Socket had no handle: the refusal came before any socket was opened.
    # (A TLSSocket builds its TLS-wrapped handle in its constructor, before connect; libuv opens no fd until a
    # connect or bind, and the tripwire below shows there was none.)
    handles = {k: v for k, v in out["handleAfterConnect"].items() if k != "tls"}
    assert handles == {k: True for k in ("metadata", "metadata_again", "mapped_v6", "hostname")}
    # and nothing below the guard saw a connection to anything but loopback, nor any UDP datagram
    connects = out["tripwire"]["connect"]
    assert all(c.startswith("127.0.0.1:") for c in connects), connects
    assert out["tripwire"]["udp"] == []


@pytest.mark.parametrize(
    "query", ["lookup", "lookup_all", "resolve4", "resolver", "promises_resolve", "reverse"])
def test_dns_of_non_loopback_names_is_refused(probe, query):
    out, _ = probe
    assert out["dns"][query] == {"ok": False, "code": "ENOTFOUND"}


def test_no_dns_query_reaches_the_resolver(probe):
    out, _ = probe
    assert out["tripwire"]["dns"] == []  # not even for `localhost`: the guard answers it itself
    assert out["dns"]["localhost"] == {"ok": True, "value": {"address": "127.0.0.1", "family": 4}}


def test_loopback_traffic_still_works(probe):
    out, _ = probe
    assert out["local"] == {k: {"ok": True, "value": 200} for k in ("ip", "localhost", "fetch")}


def test_each_refusal_is_logged_once_to_stderr(probe):
    _, stderr = probe
    lines = [line for line in stderr.splitlines() if line.startswith("[playground-guard] refused")]
    metadata = ("[playground-guard] refused tcp connection to 169.254.169.254:80 "
                "(only loopback traffic is allowed)")
    assert lines.count(metadata) == 1
    assert any("DNS lookup to example.com" in line for line in lines)
    assert any("dc.services.visualstudio.com:443" in line for line in lines)
    assert len(lines) == len(set(lines))
