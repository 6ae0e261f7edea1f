// A client that goes away must not leave the upstream request running: the fake upstream records when
// the gateway closed its connection, which must follow the client's abort within about a second.
import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import OpenAI from 'openai';
import { client, tag, thrown, USER, waitUpstreamClosed, waitUpstreamReceived } from './helpers.mjs';

const WITHIN_MS = 1000;

async function assertUpstreamClosedSoon(t, abortedAt) {
  const records = await waitUpstreamClosed(t, WITHIN_MS + 2000);
  assert.equal(records.length, 1, `one upstream request tagged ${t}`);
  const [rec] = records;
  assert.ok(rec.clientClosed, `the gateway did not close its upstream connection within ${WITHIN_MS + 2000} ms of the abort`);
  const after = rec.closedAt - abortedAt;
  assert.ok(after < WITHIN_MS, `the upstream connection closed ${after} ms after the abort`);
  assert.equal(rec.endedAt, null, 'the upstream had not finished its answer');
}

/** Reads a stream until `count` content pieces arrived, then aborts; returns when it aborted. */
async function readThenAbort(stream, controller, count) {
  let pieces = 0;
  let abortedAt = null;
  try {
    for await (const chunk of stream) {
      if (chunk.choices[0]?.delta?.content) pieces++;
      if (pieces >= count && abortedAt == null) {
        abortedAt = Date.now();
        controller.abort();
      }
    }
  } catch (e) {
    if (!(e instanceof OpenAI.APIUserAbortError)) throw e;
  }
  assert.ok(abortedAt != null, `the stream ended after ${pieces} content pieces, before the abort`);
  return abortedAt;
}

describe('abort', () => {
  test('AbortController mid-stream while the upstream is silent after its first token', async () => {
    const t = tag();
    const controller = new AbortController();
    const stream = await client().chat.completions.create(
      { model: `fake/hang-after-first-byte~${t}`, messages: USER, stream: true }, { signal: controller.signal });
    const abortedAt = await readThenAbort(stream, controller, 1);
    await assertUpstreamClosedSoon(t, abortedAt);
  });

  test('AbortController mid-stream while tokens are flowing', async () => {
    const t = tag();
    const controller = new AbortController();
    const stream = await client().chat.completions.create(
      { model: `fake/slow-stream~${t}`, messages: USER, stream: true }, { signal: controller.signal });
    const abortedAt = await readThenAbort(stream, controller, 3);
    await assertUpstreamClosedSoon(t, abortedAt);
  });

  test('breaking out of the for-await loop cancels the upstream', async () => {
    const t = tag();
    const stream = await client().chat.completions.create({ model: `fake/slow-stream~${t}`, messages: USER, stream: true });
    let abortedAt = null;
    let pieces = 0;
    for await (const chunk of stream) {
      if (chunk.choices[0]?.delta?.content && ++pieces === 2) {
        abortedAt = Date.now();
        break;
      }
    }
    await assertUpstreamClosedSoon(t, abortedAt);
  });

  test('stream() helper abort() cancels the upstream', async () => {
    const t = tag();
    const stream = client().chat.completions.stream({ model: `fake/slow-stream~${t}`, messages: USER });
    let abortedAt = null;
    stream.on('content.delta', () => {
      if (abortedAt == null && stream.currentChatCompletionSnapshot?.choices[0]?.message?.content?.length > 8) {
        abortedAt = Date.now();
        stream.abort();
      }
    });
    const err = await thrown(() => stream.finalChatCompletion());
    assert.ok(err instanceof OpenAI.APIUserAbortError, `got ${err?.constructor?.name}: ${err?.message}`);
    assert.ok(abortedAt != null);
    await assertUpstreamClosedSoon(t, abortedAt);
  });

  test('abort before the upstream sent its first byte (streamed request)', async () => {
    const t = tag();
    const controller = new AbortController();
    const pending = client().chat.completions.create(
      { model: `fake/hang-before-first-byte~${t}`, messages: USER, stream: true }, { signal: controller.signal });
    pending.catch(() => {});
    assert.equal((await waitUpstreamReceived(t)).length, 1, 'the request reached the upstream');
    await new Promise((r) => setTimeout(r, 200));
    const abortedAt = Date.now();
    controller.abort();
    const err = await thrown(() => pending);
    assert.ok(err instanceof OpenAI.APIUserAbortError, `got ${err?.constructor?.name}: ${err?.message}`);
    await assertUpstreamClosedSoon(t, abortedAt);
  });

  test('abort of a non-streamed request while the upstream is streaming', async () => {
    const t = tag();
    const controller = new AbortController();
    const pending = client().chat.completions.create(
      { model: `fake/slow-stream~${t}`, messages: USER }, { signal: controller.signal });
    pending.catch(() => {});
    assert.equal((await waitUpstreamReceived(t)).length, 1, 'the request reached the upstream');
    await new Promise((r) => setTimeout(r, 300));
    const abortedAt = Date.now();
    controller.abort();
    const err = await thrown(() => pending);
    assert.ok(err instanceof OpenAI.APIUserAbortError, `got ${err?.constructor?.name}: ${err?.message}`);
    await assertUpstreamClosedSoon(t, abortedAt);
  });

  test('the gateway still answers after the aborted requests', async () => {
    const completion = await client().chat.completions.create({ model: 'sim/echo', messages: [{ role: 'user', content: 'still here' }], sim: { ttft_ms: 0 } });
    assert.equal(completion.choices[0].message.content, 'still here');
  });
});
