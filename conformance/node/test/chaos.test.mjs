// The chaos table's key rows through the official client (maxRetries: 0): a fault-injecting upstream
// (fake-upstream.mjs's chaos-* modes, hang-*, status-*) behind a single-deployment route shows what a client
// sees of the failure (an APIError with a status before the first byte, an error thrown by the iterator
// mid-stream, never a silent end), and behind a faulty -> healthy route one normal, complete answer.
import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import OpenAI from 'openai';
import { CHAOS_TEXT } from '../fake-upstream.mjs';
import { client, thrown, USER } from './helpers.mjs';

async function streamed(model) {
  let text = '';
  let finish = null;
  try {
    // A refusal before the first byte rejects here; a failure after it, in the loop.
    const stream = await client().chat.completions.create({ model, messages: USER, stream: true });
    for await (const chunk of stream) {
      text += chunk.choices[0]?.delta?.content ?? '';
      finish = chunk.choices[0]?.finish_reason ?? finish;
    }
  } catch (e) {
    return { error: e, text };
  }
  return { text, finish };
}

async function blocking(model) {
  try {
    const c = await client().chat.completions.create({ model, messages: USER });
    return { text: c.choices[0].message.content };
  } catch (e) {
    return { error: e };
  }
}

// fault, expected for the single route: [status before the first byte] or 'midstream' (error event) or 'complete'
const ROWS = [
  ['reset-before-first-byte', 502],
  ['hang-before-first-byte', 504],
  ['status-503', 503],
  ['status-429', 429],
  ['reset-mid-stream', 'midstream'],
  ['hang-after-first-byte', 'midstream'],
  ['garbage-sse', 'midstream'],
  ['truncated-sse', 'midstream'],
  ['oversized-line', 'midstream'],
  ['utf8-split', 'complete'],
  ['slow-drip', 'complete'],
];

describe('chaos: single faulty deployment', () => {
  for (const [fault, expected] of ROWS) {
    test(`${fault}: ${expected}`, async () => {
      const model = `chaos-single-${fault}`;
      const [s, b] = await Promise.all([streamed(model), blocking(model)]);
      if (expected === 'complete') {
        assert.equal(s.error, undefined, `stream failed: ${s.error?.message}`);
        assert.equal(s.text, CHAOS_TEXT);
        assert.equal(s.finish, 'stop');
        assert.equal(b.error, undefined, `create failed: ${b.error?.message}`);
        assert.equal(b.text, CHAOS_TEXT);
      } else if (expected === 'midstream') {
        assert.ok(s.error instanceof OpenAI.APIError, `stream: expected an APIError from the iterator, got ${s.error?.constructor?.name}: ${s.error?.message} (text ${JSON.stringify(s.text)})`);
        // The hang-* modes of the fake upstream send the word "first" before going silent.
        const full = fault.startsWith('hang-') ? 'first' : CHAOS_TEXT;
        assert.ok(full.startsWith(s.text) && s.text.length > 0, `partial text is a clean prefix: ${JSON.stringify(s.text)}`);
        assert.ok(b.error instanceof OpenAI.APIError, `create: got ${b.error?.constructor?.name}: ${b.error?.message}`);
        assert.ok(b.error.status >= 500, `create: status ${b.error.status}`);
      } else {
        for (const [what, r] of [['stream', s], ['create', b]]) {
          assert.ok(r.error instanceof OpenAI.APIError, `${what}: got ${r.error?.constructor?.name}: ${r.error?.message}`);
          assert.equal(r.error.status, expected, `${what}: ${r.error.message}`);
          assert.equal(typeof r.error.message, 'string');
          assert.ok(r.error.headers.get('x-sluice-attempts'), `${what}: x-sluice-attempts header`);
          if (expected === 429) assert.equal(r.error.headers.get('retry-after'), '1');
        }
      }
    });
  }
});

describe('chaos: faulty -> healthy fallback', () => {
  for (const [fault] of ROWS.filter(([f]) => f !== 'hang-after-first-byte')) {
    test(`${fault}: one complete answer`, async () => {
      const model = `chaos-fallback-${fault}`;
      const [s, b] = await Promise.all([streamed(model), blocking(model)]);
      assert.equal(s.error, undefined, `stream failed: ${s.error?.constructor?.name}: ${s.error?.message}`);
      assert.equal(s.text, CHAOS_TEXT);
      assert.equal(s.finish, 'stop');
      assert.equal(b.error, undefined, `create failed: ${b.error?.constructor?.name}: ${b.error?.message}`);
      assert.equal(b.text, CHAOS_TEXT);
    });
  }
});
