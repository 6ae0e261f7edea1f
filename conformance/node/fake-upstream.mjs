// A fake OpenAI-compatible upstream on loopback for the conformance suite.
//
// POST .../chat/completions answers according to the model name the gateway forwards (the part before
// an optional "~tag", which only serves to find the request again in the record):
//   <fixture>                 replays ../shared/fixtures/upstream-sse/<fixture>.sse byte for byte as
//                             text/event-stream, written in small pieces with tiny delays
//   hang-before-first-byte    reads the request and never answers
//   hang-after-first-byte     sends the headers, a role chunk and one content chunk, then nothing
//   slow-stream               one content chunk every 100 ms for up to 30 s, then finishes normally
//   status-<code>[-ra<secs>]  an OpenAI-shaped error with that status before the first byte
//                             (429 carries Retry-After: <secs>, 7 by default)
//   chaos-<fault>             chaos.test.mjs's faults: ok, reset-before-first-byte, reset-mid-stream, garbage-sse,
//                             truncated-sse, oversized-line (5 MB line), utf8-split, slow-drip
//   anything else             404 model_not_found, as OpenAI answers
// GET .../models lists the fixtures.
//
// Every request is recorded: model, tag, headers, body, and whether the client (the gateway) closed the
// connection before the response ended, and when. Control endpoints:
//   GET /__fake/requests[?tag=T]                          the records (all, or those with that tag)
//   GET /__fake/wait-closed?tag=T&timeout_ms=N            waits until T's connection is closed (or N ms)
//
// Run: node fake-upstream.mjs [--fixtures DIR] [--port N]; prints "fake upstream listening on http://127.0.0.1:PORT".

import http from 'node:http';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const HERE = path.dirname(fileURLToPath(import.meta.url));
export const DEFAULT_FIXTURES = path.resolve(HERE, '..', '..', '..', 'shared', 'fixtures', 'upstream-sse');

/** The answer of the healthy chaos modes: 2-, 3- and 4-byte UTF-8 characters included. */
export const CHAOS_TEXT = 'Grüße aus Köln — the quick brown fox 🦊 jumps over the lazy dog, and the answer is complete.';

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

/** A small deterministic PRNG (mulberry32) so a fixture is always cut the same way. */
function prng(seedText) {
  let seed = 2166136261;
  for (const ch of seedText) seed = Math.imul(seed ^ ch.charCodeAt(0), 16777619);
  return () => {
    seed = (seed + 0x6d2b79f5) | 0;
    let t = seed;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function chunk(id, delta, finishReason = null) {
  return `data: ${JSON.stringify({
    id,
    object: 'chat.completion.chunk',
    created: Math.floor(Date.now() / 1000),
    model: 'fake-scripted',
    system_fingerprint: null,
    choices: [{ index: 0, delta, logprobs: null, finish_reason: finishReason }],
  })}\n\n`;
}

export function startFakeUpstream({ fixturesDir = DEFAULT_FIXTURES, port = 0, host = '127.0.0.1' } = {}) {
  const records = [];
  const waiters = new Set();
  let nextId = 1;

  const notify = () => {
    for (const w of [...waiters]) w();
  };

  function fixturePath(name) {
    if (!/^[A-Za-z0-9._-]+$/.test(name)) return null;
    const file = path.join(fixturesDir, `${name}.sse`);
    return fs.existsSync(file) ? file : null;
  }

  function sendError(res, rec, status, message, type, code, headers = {}) {
    const body = JSON.stringify({ error: { message, type, param: null, code } });
    res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body), ...headers });
    rec.status = status;
    rec.headersSentAt = Date.now();
    res.end(body);
  }

  async function replay(res, rec, file, name) {
    const bytes = fs.readFileSync(file);
    res.writeHead(200, { 'content-type': 'text/event-stream; charset=utf-8', 'cache-control': 'no-cache', connection: 'keep-alive' });
    res.flushHeaders();
    rec.status = 200;
    rec.headersSentAt = Date.now();
    const random = prng(name);
    let offset = 0;
    while (offset < bytes.length) {
      if (rec.clientClosed) return;
      const size = 1 + Math.floor(random() * 160);
      const piece = bytes.subarray(offset, Math.min(bytes.length, offset + size));
      res.write(piece);
      if (rec.firstByteAt == null) rec.firstByteAt = Date.now();
      offset += piece.length;
      // Tiny delays, so the gateway sees a stream cut at arbitrary places (even inside UTF-8 sequences).
      if (random() < 0.5) await sleep(1);
    }
    rec.bytesSent = offset;
    res.end();
  }

  // Chaos modes (see chaos.test.mjs): faults at the TCP and SSE level. Healthy answers are CHAOS_TEXT, or the
  // rest of it after a prefilled partial answer (the gateway's mid-stream continuation).
  async function chaos(req, res, rec, fault) {
    const messages = rec.body?.messages ?? [];
    const last = messages[messages.length - 1];
    const prefill = last?.role === 'assistant' && typeof last.content === 'string' && CHAOS_TEXT.startsWith(last.content) ? last.content : '';
    const rest = CHAOS_TEXT.slice(prefill.length);
    const id = `chatcmpl-chaos-${rec.id}`;
    const head = () => {
      res.writeHead(200, { 'content-type': 'text/event-stream; charset=utf-8', 'cache-control': 'no-cache' });
      res.flushHeaders();
      rec.status = 200;
      rec.headersSentAt = Date.now();
    };
    const partial = () => {
      head();
      res.write(chunk(id, { role: 'assistant', content: '' }));
      res.write(chunk(id, { content: [...rest].slice(0, 12).join('') }));
      rec.firstByteAt = Date.now();
    };
    const whole = () => {
      let out = chunk(id, { role: 'assistant', content: '' });
      const chars = [...rest];
      for (let i = 0; i < chars.length; i += 10) out += chunk(id, { content: chars.slice(i, i + 10).join('') });
      out += chunk(id, {}, 'stop');
      out += `data: ${JSON.stringify({ id, object: 'chat.completion.chunk', created: 1, model: 'fake-scripted', choices: [], usage: { prompt_tokens: 5, completion_tokens: 20, total_tokens: 25 } })}\n\n`;
      return Buffer.from(`${out}data: [DONE]\n\n`, 'utf8');
    };
    switch (fault) {
      case 'ok':
        head();
        res.end(whole());
        return;
      case 'reset-before-first-byte':
        req.socket.resetAndDestroy();
        return;
      case 'reset-mid-stream':
        partial();
        await sleep(20);
        req.socket.resetAndDestroy();
        return;
      case 'garbage-sse':
        partial();
        res.write('data: {"id":"x","choices":[{"delta":{"content": ]]]} not json\n\n');
        return; // left open: the gateway must give up on it
      case 'truncated-sse':
        partial();
        res.end('data: {"id":"x","object":"chat.completion.chunk","choices":[{"index":0,"delta":{"cont');
        return;
      case 'oversized-line': {
        partial();
        res.write('data: {"pad":"');
        const piece = Buffer.alloc(64 * 1024, 'x');
        for (let i = 0; i < 80 && !rec.clientClosed; i++) {
          if (!res.write(piece)) await new Promise((r) => { res.once('drain', r); res.once('close', r); });
        }
        if (!rec.clientClosed) res.write('"}\n\n');
        return;
      }
      case 'utf8-split': {
        head();
        const bytes = whole();
        let from = 0;
        for (let i = 0; i < bytes.length; i++) {
          if ((bytes[i] & 0xc0) === 0xc0) { // a lead byte: cut right after it
            res.write(bytes.subarray(from, i + 1));
            from = i + 1;
            await sleep(3);
          }
        }
        res.end(bytes.subarray(from));
        return;
      }
      case 'slow-drip': {
        head();
        const bytes = whole();
        for (let i = 0; i < bytes.length && !rec.clientClosed; i += 16) {
          res.write(bytes.subarray(i, i + 16));
          await sleep(i === 160 ? 600 : 2);
        }
        res.end();
        return;
      }
      default:
        sendError(res, rec, 404, `no chaos mode ${fault}`, 'invalid_request_error', 'model_not_found');
    }
  }

  async function handleChat(req, res, rec) {
    const model = rec.model ?? '';
    const mode = model.split('~')[0];
    let m;
    if (mode === 'hang-before-first-byte') {
      return; // never answers; the record shows when the gateway gives up on it
    }
    if (mode === 'hang-after-first-byte' || mode === 'slow-stream') {
      res.writeHead(200, { 'content-type': 'text/event-stream; charset=utf-8', 'cache-control': 'no-cache' });
      res.flushHeaders();
      rec.status = 200;
      rec.headersSentAt = Date.now();
      const id = `chatcmpl-fake-${rec.id}`;
      res.write(chunk(id, { role: 'assistant', content: '' }));
      res.write(chunk(id, { content: 'first' }));
      rec.firstByteAt = Date.now();
      if (mode === 'hang-after-first-byte') return;
      for (let i = 0; i < 300; i++) {
        await sleep(100);
        if (rec.clientClosed) return;
        res.write(chunk(id, { content: ` t${i}` }));
      }
      res.write(chunk(id, {}, 'stop'));
      res.end('data: [DONE]\n\n');
      return;
    }
    if (mode.startsWith('chaos-')) {
      await chaos(req, res, rec, mode.slice('chaos-'.length));
      return;
    }
    if ((m = /^status-(\d{3})(?:-ra(\d+))?$/.exec(mode))) {
      const status = Number(m[1]);
      const headers = status === 429 ? { 'retry-after': m[2] ?? '7' } : {};
      const type = status === 429 ? 'rate_limit_error' : status >= 500 ? 'server_error' : 'invalid_request_error';
      sendError(res, rec, status, `Fake upstream refused with HTTP ${status}`, type, `fake_${status}`, headers);
      return;
    }
    const file = fixturePath(mode);
    if (file) {
      await replay(res, rec, file, mode);
      return;
    }
    sendError(res, rec, 404, `The model \`${model}\` does not exist or you do not have access to it.`, 'invalid_request_error', 'model_not_found');
  }

  function handleControl(req, res, url) {
    const tag = url.searchParams.get('tag');
    const select = () => records.filter((r) => tag == null || r.tag === tag);
    const reply = (value) => {
      const body = JSON.stringify(value);
      res.writeHead(200, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) });
      res.end(body);
    };
    if (url.pathname === '/__fake/requests') return reply(select());
    if (url.pathname === '/__fake/wait-closed') {
      const timeout = Math.min(Number(url.searchParams.get('timeout_ms') ?? 5000), 60000);
      const done = () => select().some((r) => r.clientClosed);
      if (done()) return reply(select());
      const timer = setTimeout(finish, timeout);
      function finish() {
        clearTimeout(timer);
        waiters.delete(check);
        reply(select());
      }
      function check() {
        if (done()) finish();
      }
      waiters.add(check);
      return undefined;
    }
    res.writeHead(404, { 'content-type': 'text/plain' });
    res.end('no such control endpoint\n');
    return undefined;
  }

  const server = http.createServer((req, res) => {
    const url = new URL(req.url, 'http://fake');
    if (url.pathname.startsWith('/__fake/')) return handleControl(req, res, url);

    const rec = {
      id: nextId++,
      method: req.method,
      path: url.pathname,
      authorization: req.headers.authorization ?? null,
      contentType: req.headers['content-type'] ?? null,
      receivedAt: Date.now(),
      model: null,
      tag: null,
      body: null,
      status: null,
      headersSentAt: null,
      firstByteAt: null,
      endedAt: null,
      clientClosed: false,
      closedAt: null,
    };
    records.push(rec);
    if (records.length > 2000) records.splice(0, records.length - 2000);

    // 'close' on the response fires when it finished or when the connection went away first: only the
    // second is the client hanging up.
    res.on('finish', () => {
      rec.endedAt = Date.now();
      notify();
    });
    res.on('close', () => {
      if (!res.writableFinished) {
        rec.clientClosed = true;
        rec.closedAt = Date.now();
      }
      notify();
    });

    if (req.method === 'GET' && url.pathname.endsWith('/models')) {
      const data = fs.readdirSync(fixturesDir).filter((f) => f.endsWith('.sse')).map((f) => ({
        id: f.slice(0, -4), object: 'model', created: 0, owned_by: 'fake',
      }));
      const body = JSON.stringify({ object: 'list', data });
      res.writeHead(200, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) });
      res.end(body);
      return undefined;
    }
    if (req.method !== 'POST' || !url.pathname.endsWith('/chat/completions')) {
      sendError(res, rec, 404, `Invalid URL (${req.method} ${url.pathname})`, 'invalid_request_error', null);
      return undefined;
    }
    const parts = [];
    req.on('data', (d) => parts.push(d));
    req.on('end', () => {
      try {
        rec.body = JSON.parse(Buffer.concat(parts).toString('utf8'));
      } catch {
        sendError(res, rec, 400, 'We could not parse the JSON body of your request.', 'invalid_request_error', null);
        return;
      }
      rec.model = typeof rec.body?.model === 'string' ? rec.body.model : null;
      const tilde = rec.model?.indexOf('~') ?? -1;
      rec.tag = tilde >= 0 ? rec.model.slice(tilde + 1) : null;
      notify();
      handleChat(req, res, rec).catch((e) => {
        rec.failure = String(e?.stack ?? e);
        res.destroy();
      });
    });
    return undefined;
  });
  server.keepAliveTimeout = 30_000;

  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      const { port: actual } = server.address();
      resolve({
        server,
        url: `http://${host}:${actual}`,
        records,
        close: () => new Promise((r) => {
          server.closeAllConnections?.();
          server.close(() => r());
        }),
      });
    });
  });
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const args = process.argv.slice(2);
  const opt = (name, fallback) => {
    const i = args.indexOf(`--${name}`);
    return i >= 0 && i + 1 < args.length ? args[i + 1] : fallback;
  };
  const fixturesDir = path.resolve(opt('fixtures', process.env.SLUICE_FIXTURES ?? DEFAULT_FIXTURES));
  if (!fs.existsSync(fixturesDir)) {
    console.error(`fake upstream: no fixtures at ${fixturesDir}`);
    process.exit(2);
  }
  const fake = await startFakeUpstream({ fixturesDir, port: Number(opt('port', '0')) });
  console.log(`fake upstream listening on ${fake.url}`);
  const stop = () => fake.close().then(() => process.exit(0));
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);
}
