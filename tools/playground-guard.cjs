/*
 * A `node --require` preload that keeps a Node program (the Microsoft 365 Agents Playground) on this machine.
 *
 *   node --require ./tools/playground-guard.cjs node_modules/@microsoft/m365agentsplayground/cli.js ...
 *
 * 1. Every TCP server listens on 127.0.0.1: `net.Server.prototype.listen` (and so http/https/express/ws) gets
 *    host 127.0.0.1 unless it asked for a loopback address already. The Playground has no host flag and would
 *    otherwise listen on all interfaces.
 * 2. Every outbound TCP/TLS connection to anything but a loopback address is refused before a socket handle is
 *    created (`net.Socket.prototype.connect`, which net.connect, tls.connect, http(s).request and fetch all use):
 *    the socket is destroyed on the next tick with an EACCES error, so no SYN ever leaves. Host names other than
 *    `localhost` / `*.localhost` are refused without being resolved.
 * 3. Every DNS query for a non-loopback name is refused with ENOTFOUND (`dns.lookup`, `dns.lookupService`,
 *    `dns.resolve*`, `dns.reverse`, the same on `dns.promises` and on `Resolver` instances). `localhost` is
 *    answered here, without asking the system resolver.
 * 4. UDP datagrams (`dgram` send/connect) to a non-loopback address are refused too.
 *
 * Even with --dt (telemetry off) the Playground tries to reach 169.254.169.254 (Azure instance metadata) and an
 * Application Insights host; both are refused. Each refusal is logged once to stderr:
 *   [playground-guard] refused tcp connection to 169.254.169.254:80 (only loopback traffic is allowed)
 *
 * Loading it twice (e.g. --require and NODE_OPTIONS) is harmless. No dependencies; Node >= 18.
 */
"use strict";

const GUARD = Symbol.for("mcr.playground-guard");

if (!globalThis[GUARD]) {
  globalThis[GUARD] = true;

  const net = require("net");
  const dns = require("dns");
  const dgram = require("dgram");

  const TAG = "[playground-guard]";
  const LISTEN_HOST = "127.0.0.1";

  const loopback = new net.BlockList();
  loopback.addSubnet("127.0.0.0", 8, "ipv4");
  loopback.addAddress("::1", "ipv6");

  /** True for an IP literal in 127.0.0.0/8, ::1, or an IPv4-mapped form of those. */
  function isLoopbackIp(address) {
    if (typeof address !== "string") return false;
    const a = address.trim().replace(/^\[|\]$/g, "").split("%")[0];
    const family = net.isIP(a);
    if (family === 4) return loopback.check(a, "ipv4");
    if (family === 6) return loopback.check(a, "ipv6");
    return false;
  }

  /** RFC 6761: localhost and *.localhost are loopback names; we answer them ourselves. */
  function isLoopbackName(host) {
    if (typeof host !== "string") return false;
    const h = host.trim().toLowerCase().replace(/\.$/, "");
    return h === "localhost" || h.endsWith(".localhost");
  }

  const reported = new Set();
  function report(kind, target) {
    const key = `${kind} ${target}`;
    if (reported.has(key)) return;
    reported.add(key);
    try {
      process.stderr.write(`${TAG} refused ${kind} to ${target} (only loopback traffic is allowed)\n`);
    } catch (_) {
      /* stderr closed: nothing to do */
    }
  }

  function refusal(code, syscall, message, extra) {
    const err = new Error(`${syscall} ${code} ${message} (refused by playground-guard: only loopback traffic is allowed)`);
    err.code = code;
    err.errno = code === "EACCES" ? -13 : undefined;
    err.syscall = syscall;
    Object.assign(err, extra);
    return err;
  }

  // ---- 1. servers listen on 127.0.0.1 -------------------------------------------------------------------------

  const originalListen = net.Server.prototype.listen;

  function isHandleLike(value) {
    return value !== null && typeof value === "object" && ("_handle" in value || "fd" in value) && !("port" in value);
  }

  net.Server.prototype.listen = function guardedListen(...args) {
    const callback = typeof args[args.length - 1] === "function" ? args.pop() : undefined;
    const first = args[0];
    let options;
    if (first !== null && typeof first === "object" && !Array.isArray(first)) {
      if (first.path !== undefined || isHandleLike(first)) {
        return originalListen.apply(this, callback ? [...args, callback] : args); // a pipe or an inherited handle
      }
      options = { ...first };
    } else if (typeof first === "string" && !/^\d+$/.test(first)) {
      return originalListen.apply(this, callback ? [...args, callback] : args); // listen(path): a unix socket
    } else {
      // listen(), listen(port), listen(port, host), listen(port, backlog), listen(port, host, backlog)
      options = { port: first === undefined || first === null ? 0 : Number(first) };
      let i = 1;
      if (typeof args[i] === "string" || args[i] === null || args[i] === undefined) {
        options.host = args[i] === null ? undefined : args[i];
        i += 1;
      }
      if (typeof args[i] === "number") options.backlog = args[i];
    }
    if (!isLoopbackIp(options.host)) {
      const asked = options.host ? String(options.host) : "all interfaces";
      if (options.host !== undefined && options.host !== "0.0.0.0" && options.host !== "::") {
        process.stderr.write(`${TAG} listen on ${asked} changed to ${LISTEN_HOST}\n`);
      }
      options.host = LISTEN_HOST;
    }
    delete options.ipv6Only;
    return originalListen.call(this, options, ...(callback ? [callback] : []));
  };

  // ---- 2. outbound TCP only to loopback ---------------------------------------------------------------------

  const originalConnect = net.Socket.prototype.connect;

  /** The destination of a Socket#connect call: {path} | {host, port, options}. */
  function destinationOf(args) {
    let options = args[0];
    if (Array.isArray(options)) options = options[0]; // net.connect passes its normalised [options, cb]
    if (options !== null && typeof options === "object") {
      if (options.path !== undefined && options.path !== null) return { path: String(options.path) };
      return { host: options.host === undefined || options.host === null ? "localhost" : String(options.host),
               port: options.port, options };
    }
    if (typeof options === "string" && !/^\d+$/.test(options)) return { path: options };
    return { host: typeof args[1] === "string" ? args[1] : "localhost", port: options };
  }

  /** A lookup for `localhost`-type names that never asks the system resolver. */
  function localLookup(hostname, opts, callback) {
    if (typeof opts === "function") {
      callback = opts;
      opts = {};
    }
    if (typeof opts === "number") opts = { family: opts };
    opts = opts || {};
    const family = opts.family === 6 || opts.family === "IPv6" ? 6 : 4;
    const address = family === 6 ? "::1" : "127.0.0.1";
    process.nextTick(() => {
      if (opts.all) callback(null, [{ address, family }]);
      else callback(null, address, family);
    });
    return {};
  }

  net.Socket.prototype.connect = function guardedConnect(...args) {
    const dest = destinationOf(args);
    if (dest.path !== undefined) return originalConnect.apply(this, args); // unix socket / named pipe
    if (isLoopbackIp(dest.host)) return originalConnect.apply(this, args);
    if (isLoopbackName(dest.host)) {
      if (dest.options) dest.options.lookup = localLookup; // answer `localhost` here, never via DNS
      return originalConnect.apply(this, args);
    }
    const target = `${dest.host}:${dest.port}`;
    report("tcp connection", target);
    const err = refusal("EACCES", "connect", target, { address: dest.host, port: Number(dest.port) || undefined });
    // Fail like a firewall would, but before any handle exists: nothing is opened, nothing is sent.
    process.nextTick(() => this.destroy(err));
    return this;
  };

  // ---- 3. DNS only for loopback names ----------------------------------------------------------------------

  function dnsRefusal(syscall, hostname) {
    report("DNS lookup", String(hostname));
    return refusal("ENOTFOUND", syscall, String(hostname), { hostname: String(hostname) });
  }

  const originalLookup = dns.lookup;
  dns.lookup = function guardedLookup(hostname, options, callback) {
    const cb = typeof options === "function" ? options : callback;
    if (isLoopbackName(hostname)) return localLookup(hostname, options, callback);
    if (isLoopbackIp(hostname)) return originalLookup.call(this, hostname, options, callback); // no query is made
    if (typeof cb !== "function") return originalLookup.call(this, hostname, options, callback); // let node throw
    process.nextTick(cb, dnsRefusal("getaddrinfo", hostname));
    return {};
  };

  dns.lookupService = function guardedLookupService(address, port, callback) {
    if (typeof callback !== "function") throw new TypeError(`${TAG} dns.lookupService needs a callback`);
    if (isLoopbackIp(address)) process.nextTick(callback, null, "localhost", String(port));
    else process.nextTick(callback, dnsRefusal("getnameinfo", address));
    return {};
  };

  const CALLBACK_QUERIES = ["resolve", "resolveAny", "resolve4", "resolve6", "resolveCaa", "resolveCname", "resolveMx",
    "resolveNaptr", "resolveNs", "resolvePtr", "resolveSoa", "resolveSrv", "resolveTxt", "reverse"];

  function localAnswer(method, rrtype) {
    const type = method === "resolve" ? String(rrtype || "A").toUpperCase() : method.replace("resolve", "").toUpperCase();
    if (type === "4" || type === "A") return ["127.0.0.1"];
    if (type === "6" || type === "AAAA") return ["::1"];
    return null;
  }

  function callbackQuery(method) {
    return function guardedQuery(name, ...rest) {
      const cb = typeof rest[rest.length - 1] === "function" ? rest[rest.length - 1] : null;
      if (!cb) throw new TypeError(`${TAG} dns.${method} needs a callback`);
      const answer = isLoopbackName(name) ? localAnswer(method, typeof rest[0] === "string" ? rest[0] : undefined) : null;
      if (answer) process.nextTick(cb, null, answer);
      else process.nextTick(cb, dnsRefusal(method === "reverse" ? "getHostByAddr" : "query", name));
      return {};
    };
  }

  function promiseQuery(method) {
    return async function guardedQuery(name, rrtype) {
      const answer = isLoopbackName(name) ? localAnswer(method, typeof rrtype === "string" ? rrtype : undefined) : null;
      if (answer) return answer;
      throw dnsRefusal(method === "reverse" ? "getHostByAddr" : "query", name);
    };
  }

  for (const method of CALLBACK_QUERIES) {
    if (typeof dns[method] === "function") dns[method] = callbackQuery(method);
    if (dns.Resolver && typeof dns.Resolver.prototype[method] === "function") {
      dns.Resolver.prototype[method] = callbackQuery(method);
    }
  }

  const promises = dns.promises;
  if (promises) {
    const originalPromiseLookup = promises.lookup;
    promises.lookup = async function guardedPromiseLookup(hostname, options) {
      if (isLoopbackName(hostname)) {
        return new Promise((resolve) => {
          localLookup(hostname, options, (err, address, family) => resolve(Array.isArray(address) ? address : { address, family }));
        });
      }
      if (isLoopbackIp(hostname)) return originalPromiseLookup.call(this, hostname, options);
      throw dnsRefusal("getaddrinfo", hostname);
    };
    promises.lookupService = async function guardedPromiseLookupService(address, port) {
      if (isLoopbackIp(address)) return { hostname: "localhost", service: String(port) };
      throw dnsRefusal("getnameinfo", address);
    };
    for (const method of CALLBACK_QUERIES) {
      if (typeof promises[method] === "function") promises[method] = promiseQuery(method);
      if (promises.Resolver && typeof promises.Resolver.prototype[method] === "function") {
        promises.Resolver.prototype[method] = promiseQuery(method);
      }
    }
  }

  // ---- 4. UDP only to loopback ------------------------------------------------------------------------------

  function udpAddress(args, from) {
    for (let i = from; i < args.length; i += 1) {
      if (typeof args[i] === "string") return args[i];
      if (typeof args[i] === "function") break;
    }
    return undefined; // dgram defaults to localhost (or the connected address, already checked)
  }

  function udpAllowed(address) {
    return address === undefined || isLoopbackIp(address) || isLoopbackName(address);
  }

  const originalSend = dgram.Socket.prototype.send;
  dgram.Socket.prototype.send = function guardedSend(...args) {
    const address = udpAddress(args, 1);
    if (udpAllowed(address)) return originalSend.apply(this, args);
    report("udp datagram", address);
    const cb = typeof args[args.length - 1] === "function" ? args[args.length - 1] : null;
    const err = refusal("EACCES", "send", address, { address });
    if (cb) process.nextTick(cb, err);
    else process.nextTick(() => this.emit("error", err));
    return undefined;
  };

  const originalUdpConnect = dgram.Socket.prototype.connect;
  if (typeof originalUdpConnect === "function") {
    dgram.Socket.prototype.connect = function guardedUdpConnect(...args) {
      const address = udpAddress(args, 1);
      if (udpAllowed(address)) return originalUdpConnect.apply(this, args);
      report("udp connection", address);
      const cb = typeof args[args.length - 1] === "function" ? args[args.length - 1] : null;
      const err = refusal("EACCES", "connect", address, { address });
      if (cb) process.nextTick(cb, err);
      else process.nextTick(() => this.emit("error", err));
      return undefined;
    };
  }
}
