// Real provider transcripts replayed by the fake upstream, read through the gateway by the official SDK:
// the chat.completions.stream() helper's events and finalChatCompletion(), and the non-streamed create(),
// must reconstruct what the fixture's `expected` says a correct client reconstructs from the original.
import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { client, FIXTURES, USER } from './helpers.mjs';

/** Every complete OpenAI-compatible chat transcript without an error in it. */
const CASES = fs.readdirSync(FIXTURES)
  .filter((f) => f.endsWith('.json') && fs.existsSync(path.join(FIXTURES, f.replace(/\.json$/, '.sse'))))
  .map((f) => ({ name: f.replace(/\.json$/, ''), meta: JSON.parse(fs.readFileSync(path.join(FIXTURES, f), 'utf8')) }))
  .filter(({ meta }) => /\/chat\/completions/.test(meta.endpoint ?? '') && meta.complete_body !== false
    && (meta.expected.errors ?? []).length === 0 && (meta.expected.choices ?? []).length > 0)
  .map(({ name, meta }) => ({ name, exp: meta.expected }))
  .sort((a, b) => a.name.localeCompare(b.name));

const MUST_HAVE = [
  'openai-chat-parallel-tool-calls', 'openai-chat-n3-multiple-choices', 'openai-chat-refusal', 'openai-chat-logprobs',
  'openai-chat-text-include-usage', 'deepseek-reasoner-reasoning-content', 'mistral-chat', 'llamacpp-tool-call', 'groq-x-groq-usage',
];

test('the fixture set holds the transcripts this suite is about', () => {
  const names = CASES.map((c) => c.name);
  for (const name of MUST_HAVE) assert.ok(names.includes(name), `${name} missing from ${FIXTURES}`);
});

function requestFor({ name, exp }) {
  const params = { model: `fake/${name}`, messages: USER };
  if (exp.choices.length > 1) params.n = exp.choices.length;
  const toolNames = [...new Set(exp.choices.flatMap((c) => c.tool_calls.map((t) => t.name)))];
  if (toolNames.length) {
    params.tools = toolNames.map((n) => ({ type: 'function', function: { name: n, parameters: { type: 'object', properties: {} } } }));
  }
  if (exp.choices.some((c) => c.logprobs_content_tokens || c.logprobs_refusal_tokens)) params.logprobs = true;
  return params;
}

/** The usage a client should end up with: the upstream's, or Groq's x_groq.usage, which the gateway normalises. */
/** The upstream's usage exactly; when it sent none, the gateway's tokenizer estimate, marked as such. */
function assertUsage(actual, exp, what) {
  const want = expectedUsage(exp);
  if (want !== null) {
    assert.deepEqual(actual ?? null, want, what);
    return;
  }
  assert.ok(actual, `${what}: an estimated usage when the upstream reported none`);
  assert.equal(actual.estimated, true, `${what}: marked estimated`);
  assert.equal(actual.total_tokens, actual.prompt_tokens + actual.completion_tokens, `${what}: totals add up`);
}

function expectedUsage(exp) {
  return exp.usage ?? exp.x_groq_usage ?? null;
}

function assertChoicesMatch(choices, exp, where) {
  assert.equal(choices.length, exp.choices.length, `${where}: number of choices`);
  for (const e of exp.choices) {
    const choice = choices.find((c) => c.index === e.index);
    assert.ok(choice, `${where}: choice ${e.index} present`);
    const m = choice.message;
    assert.equal(m.role, 'assistant', `${where}: role`);
    // `|| null`: whether text-less messages say null or "" is checked once, in its own test below.
    assert.equal(m.content || null, e.content, `${where}: choice ${e.index} content`);
    assert.equal(m.refusal || null, e.refusal, `${where}: choice ${e.index} refusal`);
    assert.equal(choice.finish_reason, e.finish_reason, `${where}: choice ${e.index} finish_reason`);
    const calls = (m.tool_calls ?? []).map((t) => ({ id: t.id, type: t.type, name: t.function.name, arguments: t.function.arguments }));
    assert.deepEqual(calls, e.tool_calls.map(({ id, type, name, arguments: args }) => ({ id, type, name, arguments: args })),
      `${where}: choice ${e.index} tool calls`);
    if (e.logprobs_content_tokens) {
      assert.deepEqual(choice.logprobs?.content?.map((l) => l.token), e.logprobs_content_tokens, `${where}: logprobs.content tokens`);
    }
    if (e.logprobs_refusal_tokens) {
      assert.deepEqual(choice.logprobs?.refusal?.map((l) => l.token), e.logprobs_refusal_tokens, `${where}: logprobs.refusal tokens`);
    }
  }
}

const sortStrings = (list) => [...list].sort();

describe('chat.completions.stream() helper over real transcripts', () => {
  for (const c of CASES) {
    test(c.name, async () => {
      const { exp } = c;
      const stream = client().chat.completions.stream({ ...requestFor(c), stream_options: { include_usage: true } });
      const seen = {
        chunks: [], contentDelta: [], contentDone: [], refusalDelta: [], refusalDone: [],
        argsDelta: [], argsDone: [], lpContentDelta: [], lpContentDone: [], lpRefusalDelta: [], lpRefusalDone: [],
      };
      stream.on('chunk', (chunk) => seen.chunks.push(chunk));
      stream.on('content.delta', (e) => seen.contentDelta.push(e.delta));
      stream.on('content.done', (e) => seen.contentDone.push(e.content));
      stream.on('refusal.delta', (e) => seen.refusalDelta.push(e.delta));
      stream.on('refusal.done', (e) => seen.refusalDone.push(e.refusal));
      stream.on('tool_calls.function.arguments.delta', (e) => seen.argsDelta.push(e));
      stream.on('tool_calls.function.arguments.done', (e) => seen.argsDone.push(e));
      stream.on('logprobs.content.delta', (e) => seen.lpContentDelta.push(...e.content));
      stream.on('logprobs.content.done', (e) => seen.lpContentDone.push(e.content));
      stream.on('logprobs.refusal.delta', (e) => seen.lpRefusalDelta.push(...e.refusal));
      stream.on('logprobs.refusal.done', (e) => seen.lpRefusalDone.push(e.refusal));
      const final = await stream.finalChatCompletion();

      // The completion the helper assembled.
      assertChoicesMatch(final.choices, exp, 'finalChatCompletion');
      assertUsage(final.usage, exp, 'finalChatCompletion usage');
      if (exp.id) assert.equal(final.id, exp.id, 'the upstream id is kept');
      if (exp.model) assert.equal(final.model, exp.model, 'the upstream model is reported');

      // The raw chunks: one id, each choice opened by its role.
      assert.equal(new Set(seen.chunks.map((ch) => ch.id)).size, 1, 'every chunk has the same id');
      for (const e of exp.choices) {
        const first = seen.chunks.flatMap((ch) => ch.choices).find((ch) => ch.index === e.index);
        assert.equal(first?.delta?.role, 'assistant', `choice ${e.index} opens with the role`);
      }

      // Reasoning is relayed as delta fields (reasoning_content or reasoning), in order.
      for (const e of exp.choices) {
        const reasoning = seen.chunks.flatMap((ch) => ch.choices.filter((x) => x.index === e.index))
          .map((x) => x.delta?.reasoning_content ?? x.delta?.reasoning ?? '').join('');
        assert.equal(reasoning || null, e.reasoning ?? null, `choice ${e.index} reasoning`);
      }

      // The helper's events.
      const contents = exp.choices.map((e) => e.content).filter((x) => x != null);
      if (exp.choices.length === 1 && contents.length) assert.equal(seen.contentDelta.join(''), contents[0], 'content.delta pieces');
      assert.deepEqual(sortStrings(seen.contentDone.filter((x) => x !== '')), sortStrings(contents), 'content.done per choice');

      const refusals = exp.choices.map((e) => e.refusal).filter((x) => x != null);
      assert.equal(seen.refusalDelta.join(''), refusals.join(''), 'refusal.delta pieces');
      assert.deepEqual(seen.refusalDone, refusals, 'refusal.done');

      const calls = exp.choices.flatMap((e) => e.tool_calls);
      assert.deepEqual(
        seen.argsDone.map((e) => ({ index: e.index, name: e.name, arguments: e.arguments })),
        calls.map((t) => ({ index: t.index, name: t.name, arguments: t.arguments })),
        'tool_calls.function.arguments.done once per call');
      for (const call of calls) {
        const pieces = seen.argsDelta.filter((e) => e.index === call.index).map((e) => e.arguments_delta).join('');
        assert.equal(pieces, call.arguments, `tool_calls.function.arguments.delta pieces of call ${call.index}`);
      }

      const lpContent = exp.choices.flatMap((e) => e.logprobs_content_tokens ?? []);
      assert.deepEqual(seen.lpContentDelta.map((l) => l.token), lpContent, 'logprobs.content.delta tokens');
      assert.deepEqual(seen.lpContentDone.map((list) => list.map((l) => l.token)), lpContent.length ? [lpContent] : [], 'logprobs.content.done');
      const lpRefusal = exp.choices.flatMap((e) => e.logprobs_refusal_tokens ?? []);
      assert.deepEqual(seen.lpRefusalDelta.map((l) => l.token), lpRefusal, 'logprobs.refusal.delta tokens');
      assert.deepEqual(seen.lpRefusalDone.map((list) => list.map((l) => l.token)), lpRefusal.length ? [lpRefusal] : [], 'logprobs.refusal.done');
    });
  }
});

describe('create() without stream over real transcripts', () => {
  for (const c of CASES) {
    test(c.name, async () => {
      const completion = await client().chat.completions.create(requestFor(c));
      assert.equal(completion.object, 'chat.completion');
      assertChoicesMatch(completion.choices, c.exp, 'create');
      assertUsage(completion.usage, c.exp, 'usage');
      if (c.exp.id) assert.equal(completion.id, c.exp.id, 'the upstream id is kept');
    });
  }
});

describe('a message without text', () => {
  // Talking to OpenAI directly, the SDK gives content === null for a tool-call-only or refusal answer
  // (OpenAI's role chunk says "content": null); through the gateway it should be the same.
  for (const name of ['openai-chat-parallel-tool-calls', 'openai-chat-refusal', 'llamacpp-tool-call']) {
    test(`${name}: finalChatCompletion content is null, as from the provider itself`, async () => {
      const c = CASES.find((x) => x.name === name);
      const final = await client().chat.completions.stream(requestFor(c)).finalChatCompletion();
      assert.equal(final.choices[0].message.content, null);
    });
    test(`${name}: create() content is null, as from the provider itself`, async () => {
      const c = CASES.find((x) => x.name === name);
      const completion = await client().chat.completions.create(requestFor(c));
      assert.equal(completion.choices[0].message.content, null);
    });
  }
});
