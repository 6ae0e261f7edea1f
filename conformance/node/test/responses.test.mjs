// The Responses API through the official `openai` npm client: create with and without streaming, the
// responses.stream() helper, a function-calling round trip, previous_response_id chains, and background
// responses resumed with starting_after. Each runs over the sim provider and over the fake upstream.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { client } from './helpers.mjs';

const openai = client();

// sim: sim/echo repeats the last user message; a `sim` body field scripts tool calls.
// fake: gpt-fake replays a real OpenAI chat text stream, fake-tools a real parallel-tool-calls stream.
const PROVIDERS = [
  { name: 'sim', text: { model: 'sim/echo' }, tools: { model: 'sim/echo', sim: { tool_calls: [{ name: 'get_weather', arguments: '{"city":"Paris"}' }] } } },
  { name: 'fake', text: { model: 'gpt-fake' }, tools: { model: 'fake-tools' } },
];

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
