// The Responses API through the official `openai` npm client: create with and without streaming, the
// responses.stream() helper, a function-calling round trip, previous_response_id chains, and background
// responses resumed with starting_after, json_schema output, max_output_tokens, usage, failover. Each runs
// over the sim provider and over the fake upstream (reasoning only over the fake: sim streams none).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { client, fakeRequests, tag } from './helpers.mjs';

const openai = client();

// sim: sim/echo repeats the last user message; a `sim` body field scripts tool calls.
// fake: gpt-fake replays a real OpenAI chat text stream, fake-tools a real parallel-tool-calls stream.
const PROVIDERS = [
  { name: 'sim', text: { model: 'sim/echo' }, tools: { model: 'sim/echo', sim: { tool_calls: [{ name: 'get_weather', arguments: '{"city":"Paris"}' }] } } },
  { name: 'fake', text: { model: 'gpt-fake' }, tools: { model: 'fake-tools' } },
];

const SCHEMA = {
  type: 'json_schema', name: 'thing', strict: true,
  schema: { type: 'object', properties: { a: { type: 'integer' } }, required: ['a'], additionalProperties: false },
};

const TOOLS = [{
  type: 'function', name: 'get_weather', strict: false,
  parameters: { type: 'object', properties: { city: { type: 'string' } }, required: ['city'] },
}];

for (const p of PROVIDERS) {
  test(`${p.name}: responses.create without and with stream`, async () => {
    const r = await openai.responses.create({ ...p.text, input: 'Say hello', instructions: 'Be brief.' });
    assert.match(r.id, /^resp_/);
    assert.equal(r.object, 'response');
    assert.equal(r.status, 'completed');
    assert.ok(r.output_text.length > 0);
    assert.ok(r.usage.input_tokens > 0 && r.usage.output_tokens > 0);
    const again = await openai.responses.retrieve(r.id);
    assert.equal(again.output_text, r.output_text);
    const items = await openai.responses.inputItems.list(r.id);
    assert.equal(items.data[0].content[0].text, 'Say hello');

    const stream = await openai.responses.create({ ...p.text, input: 'Say hello', stream: true });
    const types = [];
    let text = '';
    let last;
    for await (const event of stream) {
      assert.equal(event.sequence_number, types.length);
      types.push(event.type);
      if (event.type === 'response.output_text.delta') text += event.delta;
      last = event;
    }
    assert.deepEqual(types.slice(0, 2), ['response.created', 'response.in_progress']);
    assert.equal(last.type, 'response.completed');
    assert.equal(text, last.response.output_text ?? last.response.output[0].content[0].text);
    assert.ok(text.length > 0);
  });

  test(`${p.name}: responses.stream() helper and finalResponse()`, async () => {
    const stream = openai.responses.stream({ ...p.text, input: 'Stream me' });
    let deltas = '';
    stream.on('response.output_text.delta', (e) => { deltas += e.delta; });
    const final = await stream.finalResponse();
    assert.equal(final.status, 'completed');
    assert.equal(final.output_text, deltas);
  });

  test(`${p.name}: function calling round trip with function_call_output, chained`, async () => {
    const first = await openai.responses.create({ ...p.tools, input: 'Weather in Paris?', tools: TOOLS });
    const calls = first.output.filter((o) => o.type === 'function_call');
    assert.ok(calls.length >= 1);
    assert.match(calls[0].id, /^fc_/);
    assert.ok(calls[0].call_id);
    JSON.parse(calls[0].arguments);
    const second = await openai.responses.create({
      ...p.text,
      previous_response_id: first.id,
      input: calls.map((c) => ({ type: 'function_call_output', call_id: c.call_id, output: 'sunny' })),
    });
    assert.equal(second.status, 'completed');
    assert.equal(second.previous_response_id, first.id);
    assert.ok(second.output_text.length > 0);
    // A chain of text turns: echo answers with the newest user message.
    const third = await openai.responses.create({ ...p.text, previous_response_id: second.id, input: 'And tomorrow?' });
    assert.equal(third.status, 'completed');
    if (p.name === 'sim') assert.equal(third.output_text, 'And tomorrow?');
  });

  test(`${p.name}: errors name the param`, async () => {
    await assert.rejects(openai.responses.create({ ...p.text, input: 'x', previous_response_id: 'resp_missing' }),
      (e) => e.status === 404 && e.param === 'previous_response_id');
    await assert.rejects(openai.responses.create({ ...p.text, input: [{ type: 'item_reference', id: 'msg_1' }] }),
      (e) => e.status === 400 && e.param === 'input[0].type');
    await assert.rejects(openai.responses.create({ ...p.text, input: 'x', text: { format: { type: 'json_schema', name: 'x', schema: 'bad' } } }),
      (e) => e.status === 400 && e.param === 'text.format.schema');
    const unstored = await openai.responses.create({ ...p.text, input: 'x', store: false });
    await assert.rejects(openai.responses.retrieve(unstored.id), (e) => e.status === 404);
  });
}

for (const p of PROVIDERS) {
  test(`${p.name}: text.format json_schema reaches the upstream and comes back on the response`, async () => {
    const t = tag();
    const model = p.name === 'sim' ? 'sim/echo' : `fake/openai-chat-text-include-usage~${t}`;
    const r = await openai.responses.create({ model, input: '{"a":1}', text: { format: SCHEMA } });
    assert.equal(r.status, 'completed');
    assert.equal(r.text.format.type, 'json_schema');
    assert.equal(r.text.format.name, 'thing');
    assert.equal(r.text.format.strict, true);
    assert.deepEqual(r.text.format.schema, SCHEMA.schema);
    if (p.name === 'sim') {
      assert.deepEqual(JSON.parse(r.output_text), { a: 1 });
    } else {
      const [seen] = await fakeRequests(t);
      assert.equal(seen.body.response_format.type, 'json_schema');
      assert.equal(seen.body.response_format.json_schema.name, 'thing');
      assert.deepEqual(seen.body.response_format.json_schema.schema, SCHEMA.schema);
    }
  });

  test(`${p.name}: max_output_tokens cuts the answer: incomplete, reason max_output_tokens`, async () => {
    // sim/lorem stops at the limit; the fake replays a real OpenAI stream that ended with finish_reason "length".
    const model = p.name === 'sim' ? 'sim/lorem' : 'fake/openai-chat-reasoning-model-length-usage-details';
    const r = await openai.responses.create({ model, input: 'Write a long essay.', max_output_tokens: 16, sim: { tokens_per_second: 0, length: 200 } });
    assert.equal(r.status, 'incomplete');
    assert.equal(r.incomplete_details.reason, 'max_output_tokens');
    assert.equal(r.max_output_tokens, 16);
    if (p.name === 'fake') assert.equal(r.usage.output_tokens_details.reasoning_tokens, 100);
    const stream = openai.responses.stream({ model, input: 'Write a long essay.', max_output_tokens: 16, sim: { tokens_per_second: 0, length: 200 } });
    let terminal;
    stream.on('response.incomplete', (e) => { terminal = e; });
    const final = await stream.finalResponse();
    assert.equal(terminal.response.incomplete_details.reason, 'max_output_tokens');
    assert.equal(final.status, 'incomplete');
  });

  test(`${p.name}: a background response resumes with starting_after, in order`, async () => {
    const bg = await openai.responses.create({ ...p.text, input: 'Background please', background: true });
    assert.equal(bg.status, 'queued');
    const seen = [];
    const first = await openai.responses.retrieve(bg.id, { stream: true });
    for await (const event of first) {
      seen.push(event);
      if (seen.length === 4) break;
    }
    const rest = await openai.responses.retrieve(bg.id, { stream: true, starting_after: seen.at(-1).sequence_number });
    for await (const event of rest) seen.push(event);
    assert.deepEqual(seen.map((e) => e.sequence_number), seen.map((_, i) => i));
    assert.equal(seen.at(-1).type, 'response.completed');
    const text = seen.filter((e) => e.type === 'response.output_text.delta').map((e) => e.delta).join('');
    assert.equal(text, (await openai.responses.retrieve(bg.id)).output_text);
  });
}

test('fake: reasoning streams as reasoning summary events before the answer', async () => {
  const stream = openai.responses.stream({ model: 'fake/deepseek-reasoner-reasoning-content', input: 'Hello' });
  const types = [];
  let summary = '';
  let summaryDone;
  stream.on('event', (e) => types.push(e.type));
  stream.on('response.reasoning_summary_text.delta', (e) => { summary += e.delta; });
  stream.on('response.reasoning_summary_text.done', (e) => { summaryDone = e.text; });
  const final = await stream.finalResponse();
  assert.ok(types.indexOf('response.reasoning_summary_part.added') < types.indexOf('response.reasoning_summary_text.delta'));
  assert.ok(types.indexOf('response.reasoning_summary_part.done') < types.indexOf('response.output_text.delta'));
  assert.match(summary, /^Hmm, the user just said "Hello"/);
  assert.equal(summaryDone, summary);
  assert.equal(final.output[0].type, 'reasoning');
  assert.equal(final.output[0].summary[0].text, summary);
  assert.equal(final.output_text, 'Hello there! 😊 How can I help you today?');
  assert.equal(final.usage.output_tokens_details.reasoning_tokens, 198);
});

test('fake: a refusal streams as a refusal content part', async () => {
  const stream = openai.responses.stream({ model: 'fake/openai-chat-refusal', input: 'Something bad' });
  let deltas = '';
  stream.on('response.refusal.delta', (e) => { deltas += e.delta; });
  const final = await stream.finalResponse();
  assert.equal(final.status, 'completed');
  const part = final.output[0].content[0];
  assert.equal(part.type, 'refusal');
  assert.equal(part.refusal, "I'm sorry, I can't assist with that request.");
  assert.equal(deltas, part.refusal);
});

test('fake: usage is estimated, and marked so, when the upstream reports none', async () => {
  const r = await openai.responses.create({ model: 'fake/vllm-chat-opt125m', input: 'Hi' });
  assert.equal(r.usage.estimated, true);
  assert.ok(r.usage.input_tokens > 0 && r.usage.output_tokens > 0);
  assert.equal(r.usage.total_tokens, r.usage.input_tokens + r.usage.output_tokens);
  const exact = await openai.responses.create({ model: 'gpt-fake', input: 'Hi' });
  assert.equal(exact.usage.estimated, undefined);
  assert.equal(exact.usage.input_tokens, 14);
  assert.equal(exact.usage.output_tokens, 30);
});

test('fake: a failing deployment falls back to the next, before and after the first byte', async () => {
  const refused = await openai.responses.create({ model: 'chaos-fallback-status-503', input: 'Hi' });
  assert.equal(refused.status, 'completed');
  assert.ok(refused.output_text.length > 0);
  const reset = await openai.responses.create({ model: 'chaos-fallback-reset-mid-stream', input: 'Hi', stream: true });
  let text = '';
  let last;
  for await (const event of reset) {
    if (event.type === 'response.output_text.delta') text += event.delta;
    last = event;
  }
  assert.equal(last.type, 'response.completed');
  assert.equal(text, last.response.output[0].content[0].text);
  assert.equal(text, refused.output_text); // the whole answer once, nothing repeated
});

test('background response: resume with starting_after misses nothing; cancel', async () => {
  const bg = await openai.responses.create({ model: 'sim/lorem', input: 'go', background: true, sim: { ttft_ms: 0, tokens_per_second: 200, length: 40 } });
  assert.equal(bg.status, 'queued');
  // Read a few events, drop the connection, then resume after the last one seen.
  const seen = [];
  const first = await openai.responses.retrieve(bg.id, { stream: true, starting_after: -1 });
  for await (const event of first) {
    seen.push(event);
    if (seen.length === 6) break;
  }
  const resumed = await openai.responses.retrieve(bg.id, { stream: true, starting_after: seen.at(-1).sequence_number });
  for await (const event of resumed) seen.push(event);
  assert.deepEqual(seen.map((e) => e.sequence_number), seen.map((_, i) => i));
  assert.equal(seen.at(-1).type, 'response.completed');
  const text = seen.filter((e) => e.type === 'response.output_text.delta').map((e) => e.delta).join('');
  assert.equal(text, seen.at(-1).response.output[0].content[0].text);
  assert.equal((await openai.responses.retrieve(bg.id)).status, 'completed');

  const long = await openai.responses.create({ model: 'sim/lorem', input: 'go', background: true, sim: { ttft_ms: 0, tokens_per_second: 50, length: 400 } });
  const cancelled = await openai.responses.cancel(long.id);
  assert.equal(cancelled.status, 'cancelled');
  const sync = await openai.responses.create({ model: 'sim/echo', input: 'x' });
  await assert.rejects(openai.responses.cancel(sync.id), (e) => e.status === 400);
});
