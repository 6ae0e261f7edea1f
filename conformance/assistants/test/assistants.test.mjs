// The openai npm SDK 4.x, unmodified, against Sluice's own Assistants API (sim models, SQLite storage).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import OpenAI from 'openai';

const client = new OpenAI({ baseURL: process.env.SLUICE_BASE_URL, apiKey: 'unused', maxRetries: 0 });
const threads = client.beta.threads;

async function assistant(model, extra = {}) {
  return client.beta.assistants.create({ model, name: 'conformance', instructions: 'Be brief.', ...extra });
}

const weatherTools = [
  { type: 'function', function: { name: 'get_weather', parameters: { type: 'object', properties: { city: { type: 'string' } } } } },
  { type: 'function', function: { name: 'get_time', parameters: { type: 'object', properties: { tz: { type: 'string' } } } } },
];

test('runs.stream: textDelta, messageDone and finalRun', async () => {
  const a = await assistant('sim-echo');
  const thread = await threads.create({ messages: [{ role: 'user', content: 'Echo me, please' }] });
  let text = '';
  const done = [];
  const events = [];
  const stream = threads.runs
    .stream(thread.id, { assistant_id: a.id })
    .on('textDelta', (delta) => { text += delta.value; })
    .on('messageDone', (message) => done.push(message))
    .on('event', (e) => events.push(e.event));
  const run = await stream.finalRun();
  assert.equal(run.status, 'completed');
  assert.equal(text, 'Echo me, please');
  assert.equal(done.length, 1);
  assert.equal(done[0].content[0].text.value, 'Echo me, please');
  assert.equal(done[0].status, 'completed');
  assert.deepEqual(events.slice(0, 3), ['thread.run.created', 'thread.run.queued', 'thread.run.in_progress']);
  assert.equal(events.at(-1), 'thread.run.completed');
  assert.ok(run.usage.total_tokens > 0);
  const messages = await threads.messages.list(thread.id);
  assert.equal(messages.data[0].role, 'assistant');
  assert.equal(messages.data[0].content[0].text.value, 'Echo me, please');
});

test('a run falls back to the second deployment when the first refuses', async () => {
  const a = await assistant('sim-flaky');
  const thread = await threads.create({ messages: [{ role: 'user', content: 'From the fallback' }] });
  let text = '';
  const run = await threads.runs.stream(thread.id, { assistant_id: a.id }).on('textDelta', (d) => { text += d.value; }).finalRun();
  assert.equal(run.status, 'completed');
  assert.equal(text, 'From the fallback');
});

test('a run whose every deployment fails ends failed with server_error', async () => {
  const a = await assistant('sim-down');
  const thread = await threads.create({ messages: [{ role: 'user', content: 'x' }] });
  const events = [];
  const run = await threads.runs.stream(thread.id, { assistant_id: a.id }).on('event', (e) => events.push(e.event)).finalRun();
  assert.equal(run.status, 'failed');
  assert.equal(run.last_error.code, 'server_error');
  assert.match(run.last_error.message, /502/);
  assert.equal(events.at(-1), 'thread.run.failed');
});

test('a prompt over max_prompt_tokens ends incomplete', async () => {
  const a = await assistant('sim-echo');
  const thread = await threads.create({ messages: [{ role: 'user', content: '31415926535897932384626433832795'.repeat(40) }] });
  const run = await threads.runs.createAndPoll(thread.id, { assistant_id: a.id, max_prompt_tokens: 256 }, { pollIntervalMs: 50 });
  assert.equal(run.status, 'incomplete');
  assert.equal(run.incomplete_details.reason, 'max_prompt_tokens');
});

test('createAndPoll and auto-pagination', async () => {
  const a = await assistant('sim-fast');
  const thread = await threads.create({ messages: [{ role: 'user', content: 'one' }, { role: 'user', content: 'two' }] });
  for (const n of ['three', 'four', 'five']) await threads.messages.create(thread.id, { role: 'user', content: n });
  const run = await threads.runs.createAndPoll(thread.id, { assistant_id: a.id, metadata: { source: 'npm' } }, { pollIntervalMs: 50 });
  assert.equal(run.status, 'completed');
  assert.equal(run.metadata.source, 'npm');
  const seen = [];
  for await (const m of threads.messages.list(thread.id, { limit: 2, order: 'asc' })) seen.push(m);
  assert.equal(seen.length, 6);
  assert.deepEqual(seen.slice(0, 5).map((m) => m.content[0].text.value), ['one', 'two', 'three', 'four', 'five']);
  assert.equal(seen[5].role, 'assistant');
  const page = await threads.messages.list(thread.id, { limit: 2 });
  assert.equal(page.data.length, 2);
  assert.ok(page.hasNextPage());
  const steps = await threads.runs.steps.list(thread.id, run.id);
  assert.equal(steps.data[0].step_details.type, 'message_creation');
  const runs = await threads.runs.list(thread.id);
  assert.equal(runs.data[0].id, run.id);
});

test('tool calls: toolCallDone, requires_action, submitToolOutputsStream', async () => {
  const a = await assistant('sim-tools', { tools: weatherTools });
  const thread = await threads.create({ messages: [{ role: 'user', content: 'Weather and time in Paris?' }] });
  const calls = [];
  const first = threads.runs.stream(thread.id, { assistant_id: a.id }).on('toolCallDone', (call) => calls.push(call));
  const waiting = await first.finalRun();
  assert.equal(waiting.status, 'requires_action');
  assert.deepEqual(calls.map((c) => c.function.name), ['get_weather', 'get_time']);
  assert.equal(calls[0].function.arguments, '{"city":"Paris"}');
  const required = waiting.required_action.submit_tool_outputs.tool_calls;
  assert.deepEqual(required.map((c) => c.id), calls.map((c) => c.id));

  let text = '';
  const second = threads.runs
    .submitToolOutputsStream(thread.id, waiting.id, {
      tool_outputs: [
        { tool_call_id: required[0].id, output: 'sunny' },
        { tool_call_id: required[1].id, output: 'noon' },
      ],
    })
    .on('textDelta', (d) => { text += d.value; });
  const run = await second.finalRun();
  assert.equal(run.status, 'completed');
  assert.equal(text, 'Weather and time in Paris?');
  const steps = await threads.runs.steps.list(thread.id, run.id, { order: 'asc' });
  assert.equal(steps.data[0].type, 'tool_calls');
  assert.equal(steps.data[0].step_details.tool_calls[0].function.output, 'sunny');
});

test('submitToolOutputsAndPoll after createAndPoll', async () => {
  const a = await assistant('sim-tools', { tools: weatherTools });
  const run = await threads.createAndRunPoll({ assistant_id: a.id, thread: { messages: [{ role: 'user', content: 'hi' }] } }, { pollIntervalMs: 50 });
  assert.equal(run.status, 'requires_action');
  const outputs = run.required_action.submit_tool_outputs.tool_calls.map((c) => ({ tool_call_id: c.id, output: 'ok' }));
  const done = await threads.runs.submitToolOutputsAndPoll(run.thread_id, run.id, { tool_outputs: outputs }, { pollIntervalMs: 50 });
  assert.equal(done.status, 'completed');
});

test('createAndRunStream emits thread.created first', async () => {
  const a = await assistant('sim-fast');
  const names = [];
  const stream = threads.createAndRunStream({ assistant_id: a.id, thread: { messages: [{ role: 'user', content: 'x' }] } })
    .on('event', (e) => names.push(e.event));
  const run = await stream.finalRun();
  assert.equal(run.status, 'completed');
  assert.equal(names[0], 'thread.created');
});

test('cancel a running run', async () => {
  const a = await assistant('sim-slow');
  const thread = await threads.create({ messages: [{ role: 'user', content: 'long story' }] });
  const run = await threads.runs.create(thread.id, { assistant_id: a.id });
  await new Promise((r) => setTimeout(r, 300));
  const cancelling = await threads.runs.cancel(thread.id, run.id);
  assert.ok(['cancelling', 'cancelled'].includes(cancelling.status));
  const final = await threads.runs.poll(thread.id, run.id, { pollIntervalMs: 50 });
  assert.equal(final.status, 'cancelled');
});

test('errors: 404 for unknown ids, 400 for invalid state', async () => {
  await assert.rejects(threads.retrieve('thread_missing'), (e) => e instanceof OpenAI.NotFoundError && e.status === 404);
  await assert.rejects(client.beta.assistants.retrieve('asst_missing'), OpenAI.NotFoundError);
  const a = await assistant('sim-slow');
  const thread = await threads.create({ messages: [{ role: 'user', content: 'busy' }] });
  await assert.rejects(threads.runs.retrieve(thread.id, 'run_missing'), OpenAI.NotFoundError);
  const run = await threads.runs.create(thread.id, { assistant_id: a.id });
  await assert.rejects(threads.messages.create(thread.id, { role: 'user', content: 'more' }), (e) => e instanceof OpenAI.BadRequestError && /active/.test(e.message));
  await assert.rejects(threads.runs.submitToolOutputs(thread.id, run.id, { tool_outputs: [] }), OpenAI.BadRequestError);
  await threads.runs.cancel(thread.id, run.id);
  await threads.runs.poll(thread.id, run.id, { pollIntervalMs: 50 });
});

test('assistants list, update, delete', async () => {
  const a = await assistant('sim-fast', { metadata: { k: 'v' } });
  const updated = await client.beta.assistants.update(a.id, { name: 'renamed' });
  assert.equal(updated.name, 'renamed');
  const ids = [];
  for await (const x of client.beta.assistants.list({ limit: 3 })) ids.push(x.id);
  assert.ok(ids.includes(a.id));
  const deleted = await client.beta.assistants.del(a.id);
  assert.equal(deleted.deleted, true);
});
