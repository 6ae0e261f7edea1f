// chat.completions.create, with and without stream, against the built-in simulator and the fake upstream.
import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { client, expected, fakeRequests, tag, USER } from './helpers.mjs';

const FAST = { ttft_ms: 0, tokens_per_second: 0 };
const LOREM_12 = 'Lorem ipsum dolor sit amet, consectetur adipiscing elit, sed do eiusmod tempor';

function assertUsage(usage, completionTokens) {
  assert.ok(usage, 'usage is present');
  assert.equal(typeof usage.prompt_tokens, 'number');
  if (completionTokens != null) assert.equal(usage.completion_tokens, completionTokens);
  assert.equal(usage.total_tokens, usage.prompt_tokens + usage.completion_tokens);
}

async function collect(stream) {
  const chunks = [];
  for await (const chunk of stream) chunks.push(chunk);
  return chunks;
}

function contentOf(chunks, index = 0) {
  return chunks.flatMap((c) => c.choices.filter((ch) => ch.index === index).map((ch) => ch.delta?.content ?? '')).join('');
}

describe('create, not streamed', () => {
  test('sim/echo answers with the last user message, as a chat.completion', async () => {
    const completion = await client().chat.completions.create({
      model: 'sim/echo',
      messages: [{ role: 'system', content: 'Be brief.' }, { role: 'user', content: 'Hello, gateway! ünïcödé 👋' }],
      sim: FAST,
    });
    assert.equal(completion.object, 'chat.completion');
    assert.match(completion.id, /^chatcmpl-/);
    assert.equal(completion.model, 'sim/echo');
    assert.equal(typeof completion.created, 'number');
    assert.equal(completion.choices.length, 1);
    const [choice] = completion.choices;
    assert.equal(choice.index, 0);
    assert.equal(choice.message.role, 'assistant');
    assert.equal(choice.message.content, 'Hello, gateway! ünïcödé 👋');
    assert.equal(choice.finish_reason, 'stop');
    assertUsage(completion.usage);
  });

  test('max_completion_tokens cuts the answer with finish_reason "length"', async () => {
    const completion = await client().chat.completions.create({
      model: 'sim/lorem', messages: USER, max_completion_tokens: 3, sim: { ...FAST, length: 20 },
    });
    assert.equal(completion.choices[0].finish_reason, 'length');
    assert.equal(completion.choices[0].message.content, 'Lorem ipsum dolor');
    assertUsage(completion.usage, 3);
  });

  test('a fixture from the fake upstream comes back as one chat.completion equal to the transcript', async () => {
    const t = tag();
    const exp = expected('openai-chat-text-include-usage');
    const completion = await client().chat.completions.create({ model: `fake/openai-chat-text-include-usage~${t}`, messages: USER });
    assert.equal(completion.object, 'chat.completion');
    assert.equal(completion.id, exp.id);
    assert.equal(completion.model, exp.model);
    assert.equal(completion.choices[0].message.role, 'assistant');
    assert.equal(completion.choices[0].message.content, exp.choices[0].content);
    assert.equal(completion.choices[0].finish_reason, exp.choices[0].finish_reason);
    assert.deepEqual(completion.usage, exp.usage);

    // What the upstream was sent: its own model name, the provider's key, and a request not streamed, as the
    // client's was (stream_options is refused by OpenAI without a stream). This fake streams anyway, as some
    // servers do; the gateway reads that whole too.
    const [sent] = await fakeRequests(t);
    assert.equal(sent.body.model, `openai-chat-text-include-usage~${t}`);
    assert.equal(sent.authorization, 'Bearer test-key');
    assert.equal(sent.body.stream, false);
    assert.equal(sent.body.stream_options, undefined);
    assert.deepEqual(sent.body.messages, USER);
  });

  test('a configured model name routes to its deployment', async () => {
    const exp = expected('openai-chat-text-include-usage');
    const completion = await client().chat.completions.create({ model: 'gpt-fake', messages: USER });
    assert.equal(completion.choices[0].message.content, exp.choices[0].content);
    assert.deepEqual(completion.usage, exp.usage);
  });

  test('n=2 with sim gives two complete choices', async () => {
    const completion = await client().chat.completions.create({
      model: 'sim/echo', n: 2, messages: [{ role: 'user', content: 'twice' }], sim: FAST,
    });
    assert.deepEqual(completion.choices.map((c) => c.index), [0, 1]);
    for (const choice of completion.choices) {
      assert.equal(choice.message.content, 'twice');
      assert.equal(choice.finish_reason, 'stop');
    }
  });
});

describe('create({stream: true})', () => {
  test('chunks share one id, open with the role, end with finish_reason, then the usage chunk', async () => {
    const stream = await client().chat.completions.create({
      model: 'sim/lorem', messages: USER, stream: true, stream_options: { include_usage: true }, sim: { ...FAST, length: 12 },
    });
    const chunks = await collect(stream);
    assert.ok(chunks.length >= 14, `got ${chunks.length} chunks`);
    const ids = new Set(chunks.map((c) => c.id));
    assert.equal(ids.size, 1, `one id for the whole stream, got ${[...ids]}`);
    assert.match(chunks[0].id, /^chatcmpl-/);
    assert.equal(new Set(chunks.map((c) => c.created)).size, 1);
    assert.equal(new Set(chunks.map((c) => c.model)).size, 1);
    for (const c of chunks) assert.equal(c.object, 'chat.completion.chunk');

    assert.equal(chunks[0].choices[0].delta.role, 'assistant', 'the first chunk carries the role');
    assert.equal(contentOf(chunks), LOREM_12);

    const finishes = chunks.flatMap((c) => c.choices.filter((ch) => ch.finish_reason != null));
    assert.deepEqual(finishes.map((f) => f.finish_reason), ['stop']);

    const last = chunks.at(-1);
    assert.deepEqual(last.choices, [], 'the usage chunk has no choices');
    assertUsage(last.usage, 12);
    for (const c of chunks.slice(0, -1)) assert.equal(c.usage, null, 'usage is null on every other chunk');
    const finishIndex = chunks.findIndex((c) => c.choices.some((ch) => ch.finish_reason));
    assert.equal(finishIndex, chunks.length - 2, 'the finish chunk comes right before the usage chunk');
  });

  test('without include_usage there is no usage chunk', async () => {
    const stream = await client().chat.completions.create({ model: 'sim/lorem', messages: USER, stream: true, sim: { ...FAST, length: 5 } });
    const chunks = await collect(stream);
    assert.ok(chunks.every((c) => c.choices.length > 0));
    assert.ok(chunks.every((c) => c.usage == null));
    assert.equal(chunks.at(-1).choices[0].finish_reason, 'stop');
  });

  test('a fixture from the fake upstream streams with the upstream id and the same content', async () => {
    const exp = expected('openai-chat-text-include-usage');
    const stream = await client().chat.completions.create({
      model: 'fake/openai-chat-text-include-usage', messages: USER, stream: true, stream_options: { include_usage: true },
    });
    const chunks = await collect(stream);
    assert.deepEqual([...new Set(chunks.map((c) => c.id))], [exp.id]);
    assert.equal(chunks[0].choices[0].delta.role, 'assistant');
    assert.equal(contentOf(chunks), exp.choices[0].content);
    assert.deepEqual(chunks.at(-1).usage, exp.usage);
  });

  test('n=2 with sim streams both choices, each with its role and finish_reason', async () => {
    const stream = await client().chat.completions.create({
      model: 'sim/echo', n: 2, messages: [{ role: 'user', content: 'one two three' }], stream: true,
      stream_options: { include_usage: true }, sim: FAST,
    });
    const chunks = await collect(stream);
    assert.equal(new Set(chunks.map((c) => c.id)).size, 1);
    for (const index of [0, 1]) {
      const mine = chunks.flatMap((c) => c.choices.filter((ch) => ch.index === index));
      assert.equal(mine[0].delta.role, 'assistant', `choice ${index} opens with the role`);
      assert.equal(contentOf(chunks, index), 'one two three');
      assert.deepEqual(mine.filter((ch) => ch.finish_reason).map((ch) => ch.finish_reason), ['stop']);
    }
    assertUsage(chunks.at(-1).usage);
  });
});

describe('models', () => {
  test('models.list names the simulator and the configured models', async () => {
    const ids = [];
    for await (const model of client().models.list()) ids.push(model.id);
    assert.ok(ids.includes('sim/echo'), `got ${ids}`);
    assert.ok(ids.includes('gpt-fake'), `got ${ids}`);
  });
});
