// Errors as the SDK raises them: the right APIError subclass with status, param, code and headers before
// the first byte, and an APIError thrown by the iterator (not a silent end) for an error mid-stream.
import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import OpenAI from 'openai';
import { client, fakeRequests, tag, thrown, USER } from './helpers.mjs';

const FAST = { ttft_ms: 0, tokens_per_second: 0 };

describe('errors before the first byte', () => {
  test('400 invalid parameter: BadRequestError naming the param', async () => {
    const err = await thrown(() => client().chat.completions.create({ model: 'sim/echo', messages: USER, temperature: 5 }));
    assert.ok(err instanceof OpenAI.BadRequestError, `got ${err?.constructor?.name}: ${err?.message}`);
    assert.equal(err.status, 400);
    assert.equal(err.param, 'temperature');
    assert.equal(err.type, 'invalid_request_error');
    assert.equal(typeof err.code, 'string');
    assert.match(err.message, /temperature/);
  });

  test('400 when streaming: create() rejects before any chunk', async () => {
    const err = await thrown(() => client().chat.completions.create({ model: 'sim/echo', messages: [], stream: true }));
    assert.ok(err instanceof OpenAI.BadRequestError, `got ${err?.constructor?.name}: ${err?.message}`);
    assert.equal(err.param, 'messages');
  });

  test('400 through the stream() helper: finalChatCompletion rejects with BadRequestError', async () => {
    const stream = client().chat.completions.stream({ model: 'sim/echo', messages: USER, n: 0 });
    let emitted = null;
    stream.on('error', (e) => { emitted = e; });
    const err = await thrown(() => stream.finalChatCompletion());
    assert.ok(err instanceof OpenAI.BadRequestError, `got ${err?.constructor?.name}: ${err?.message}`);
    assert.equal(err.param, 'n');
    assert.equal(emitted, err, "the helper's error event carries the same error");
  });

  test('404 unknown model: NotFoundError', async () => {
    const err = await thrown(() => client().chat.completions.create({ model: 'no-such-model', messages: USER }));
    assert.ok(err instanceof OpenAI.NotFoundError, `got ${err?.constructor?.name}: ${err?.message}`);
    assert.equal(err.status, 404);
    assert.equal(err.code, 'model_not_found');
    assert.match(err.message, /no-such-model/);
  });

  test('404 from the upstream is passed on as NotFoundError', async () => {
    const err = await thrown(() => client().chat.completions.create({ model: 'fake/no-such-upstream-model', messages: USER, stream: true }));
    assert.ok(err instanceof OpenAI.NotFoundError, `got ${err?.constructor?.name}: ${err?.message}`);
    assert.equal(err.code, 'model_not_found');
  });

  for (const stream of [false, true]) {
    test(`429 from the upstream keeps Retry-After (stream: ${stream})`, async () => {
      const err = await thrown(() => client().chat.completions.create({ model: 'fake/status-429', messages: USER, stream }));
      assert.ok(err instanceof OpenAI.RateLimitError, `got ${err?.constructor?.name}: ${err?.message}`);
      assert.equal(err.status, 429);
      assert.equal(err.headers.get('retry-after'), '7');
      assert.equal(err.code, 'fake_429');
      assert.match(err.message, /Fake upstream refused with HTTP 429/);
    });
  }

  test('429: the SDK waits Retry-After before its retry', async () => {
    const t = tag();
    const started = Date.now();
    const err = await thrown(() => client({ maxRetries: 1 }).chat.completions.create({ model: `fake/status-429-ra1~${t}`, messages: USER }));
    assert.ok(err instanceof OpenAI.RateLimitError);
    const records = await fakeRequests(t);
    // Each SDK try is itself retried by the gateway (2 retries per deployment), so 2 x 3 requests reach the
    // upstream, every one at least the Retry-After second after the previous one: both layers honour it.
    assert.equal(records.length, 6, 'two SDK tries, each with the gateway\'s own retries');
    for (let i = 1; i < records.length; i++) {
      const gap = records[i].receivedAt - records[i - 1].receivedAt;
      assert.ok(gap >= 900 && gap < 5000, `request ${i} came ${gap} ms after the previous one; Retry-After said 1 s`);
    }
    assert.ok(Date.now() - started < 15000);
  });

  test('429 from sim fail_status with retry_after_seconds', async () => {
    const err = await thrown(() => client().chat.completions.create({
      model: 'sim/echo', messages: USER, stream: true, sim: { fail_status: 429, retry_after_seconds: 3 },
    }));
    assert.ok(err instanceof OpenAI.RateLimitError, `got ${err?.constructor?.name}: ${err?.message}`);
    assert.equal(err.headers.get('retry-after'), '3');
  });

  test('500 from the upstream: InternalServerError with status 500', async () => {
    const err = await thrown(() => client().chat.completions.create({ model: 'fake/status-500', messages: USER, stream: true }));
    assert.ok(err instanceof OpenAI.InternalServerError, `got ${err?.constructor?.name}: ${err?.message}`);
    assert.equal(err.status, 500);
    assert.match(err.message, /Fake upstream refused with HTTP 500/);
  });

  test('503 from sim fail_status: InternalServerError with status 503', async () => {
    const err = await thrown(() => client().chat.completions.create({ model: 'sim/echo', messages: USER, sim: { fail_status: 503 } }));
    assert.ok(err instanceof OpenAI.InternalServerError, `got ${err?.constructor?.name}: ${err?.message}`);
    assert.equal(err.status, 503);
  });
});

/** Iterates a raw stream; returns the chunks read and what the iterator threw (failing if it ended quietly). */
async function readUntilError(stream) {
  const chunks = [];
  try {
    for await (const chunk of stream) chunks.push(chunk);
  } catch (error) {
    return { chunks, error };
  }
  assert.fail(`the stream ended without an error after ${chunks.length} chunks`);
}

describe('errors mid-stream', () => {
  test('sim fail_after_tokens: the iterator throws an APIError carrying the message', async () => {
    const stream = await client().chat.completions.create({
      model: 'sim-strict', messages: USER, stream: true, sim: { ...FAST, length: 10, fail_after_tokens: 3 },
    });
    const { chunks, error } = await readUntilError(stream);
    assert.ok(error instanceof OpenAI.APIError, `got ${error?.constructor?.name}: ${error?.message}`);
    assert.match(error.message, /Simulated failure after 3 tokens/);
    assert.equal(error.status, undefined, 'a mid-stream error has no HTTP status');
    const text = chunks.flatMap((c) => c.choices.map((ch) => ch.delta?.content ?? '')).join('');
    assert.equal(text, 'Lorem ipsum dolor', 'the three tokens before the failure arrived');
  });

  test('sim fail_after_tokens through the stream() helper: finalChatCompletion rejects', async () => {
    const stream = client().chat.completions.stream({
      model: 'sim-strict', messages: USER, sim: { ...FAST, length: 10, fail_after_tokens: 2 },
    });
    const deltas = [];
    stream.on('content.delta', (e) => deltas.push(e.delta));
    const err = await thrown(() => stream.finalChatCompletion());
    assert.ok(err instanceof OpenAI.APIError, `got ${err?.constructor?.name}: ${err?.message}`);
    assert.match(err.message, /Simulated failure after 2 tokens/);
    assert.equal(deltas.join(''), 'Lorem ipsum');
  });

  test('sim fail_after_tokens without stream: an APIError with a 5xx status', async () => {
    const err = await thrown(() => client().chat.completions.create({
      model: 'sim-strict', messages: USER, sim: { ...FAST, length: 10, fail_after_tokens: 3 },
    }));
    assert.ok(err instanceof OpenAI.APIError, `got ${err?.constructor?.name}: ${err?.message}`);
    assert.ok(err.status >= 500, `status ${err.status}`);
    assert.match(err.message, /Simulated failure after 3 tokens/);
  });

  const FIXTURE_ERRORS = [
    ['openrouter-midstream-error', /Token limit reached/, true],
    ['sglang-vllm-style-stream-error', /Requested token count exceeds the model's maximum context length/, false],
    ['groq-midstream-error-event', /Tool call validation failed/, true],
    ['openrouter-docs-midstream-error', /Provider disconnected unexpectedly/, false],
  ];
  for (const [name, message, hasChunksFirst] of FIXTURE_ERRORS) {
    test(`${name}: ${hasChunksFirst ? 'the iterator throws' : 'create() rejects with'} an APIError carrying the upstream's message`, async () => {
      // An error before any chunk is an HTTP error status (create() rejects, as for a refusal); after chunks,
      // an error event that the iterator throws, with no status.
      let chunks = [];
      let error;
      try {
        const stream = await client().chat.completions.create({ model: `fake/${name}`, messages: USER, stream: true });
        ({ chunks, error } = await readUntilError(stream));
      } catch (e) {
        error = e;
      }
      assert.ok(error instanceof OpenAI.APIError, `got ${error?.constructor?.name}: ${error?.message}`);
      assert.match(error.message, message);
      if (hasChunksFirst) {
        assert.ok(chunks.length > 0, 'the chunks before the error arrived');
        assert.equal(error.status, undefined, 'a mid-stream error has no HTTP status');
      } else {
        assert.ok(error.status >= 400, `an error before the first chunk has an error status, got ${error.status}`);
      }
    });

    test(`${name}: without stream, an APIError carrying the upstream's message`, async () => {
      const err = await thrown(() => client().chat.completions.create({ model: `fake/${name}`, messages: USER }));
      assert.ok(err instanceof OpenAI.APIError, `got ${err?.constructor?.name}: ${err?.message}`);
      assert.ok(err.status >= 400, `status ${err.status}`);
      assert.match(err.message, message);
    });
  }
});
