// A minimal fast APNs responder for bench/providers.py: Node's built-in http2 over TLS,
// answering every POST with 200 and the request's apns-id, like APNs' success answer.
// It checks nothing (fakes/apns.py is the faithful fake); it exists to measure the adapter
// past the Python fake's own ceiling. Usage: node apns_responder.js CERT_PEM KEY_PEM
"use strict";
const fs = require("fs");
const http2 = require("http2");

const [certFile, keyFile] = process.argv.slice(2);
const FALLBACK_ID = "00000000-0000-4000-8000-000000000000";

const server = http2.createSecureServer({
  cert: fs.readFileSync(certFile),
  key: fs.readFileSync(keyFile),
  allowHTTP1: false,
  settings: { maxConcurrentStreams: 1000, initialWindowSize: 1 << 20 },
});

server.on("stream", (stream, headers) => {
  stream.on("error", () => {});
  stream.resume(); // read and drop the JSON body
  stream.on("end", () => {
    if (!stream.destroyed) {
      stream.respond({ ":status": 200, "apns-id": headers["apns-id"] || FALLBACK_ID }, { endStream: true });
    }
  });
});
server.on("sessionError", () => {});

server.listen(0, "127.0.0.1", () => {
  process.stdout.write(`${server.address().port}\n`);
});
process.stdin.on("end", () => process.exit(0)); // the bench closes stdin to stop us
process.stdin.resume();
