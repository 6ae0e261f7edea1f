// The SDK's higher-level helpers against the built-in simulator: n=2 and a tool round trip.
import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { client } from './helpers.mjs';

const FAST = { ttft_ms: 0, tokens_per_second: 0 };
const WEATHER_TOOL = {
  type: 'function',
  function: {
    name: 'get_weather',
    description: 'The weather in a city',
    parameters: { type: 'object', properties: { city: { type: 'string' } }, required: ['city'] },
  },
};
const QUESTION = 'What is the weather in Paris?';

describe('stream() helper with sim', () => {
  test('n=2: finalChatCompletion has both choices and content.done fires for each', async () => {
    const stream = client().chat.completions.stream({
      model: 'sim/echo', n: 2, messages: [{ role: 'user', content: 'same for both' }], stream_options: { include_usage: true }, sim: FAST,
    });
    const done = [];
    stream.on('content.done', (e) => done.push(e.content));
    const final = await stream.finalChatCompletion();
    assert.deepEqual(final.choices.map((c) => [c.index, c.message.content, c.finish_reason]),
      [[0, 'same for both', 'stop'], [1, 'same for both', 'stop']]);
    assert.deepEqual(done, ['same for both', 'same for both']);
    assert.equal(final.usage.total_tokens, final.usage.prompt_tokens + final.usage.completion_tokens);
  });

  test('logprobs=true: logprobs.content events carry one token per content piece', async () => {
    const stream = client().chat.completions.stream({
      model: 'sim/echo', logprobs: true, messages: [{ role: 'user', content: 'alpha beta gamma' }], sim: FAST,
    });
    const deltas = [];
    let doneTokens = null;
    stream.on('logprobs.content.delta', (e) => deltas.push(...e.content.map((l) => l.token)));
    stream.on('logprobs.content.done', (e) => { doneTokens = e.content.map((l) => l.token); });
    const final = await stream.finalChatCompletion();
    assert.equal(final.choices[0].message.content, 'alpha beta gamma');
    assert.equal(deltas.join(''), 'alpha beta gamma');
    assert.deepEqual(doneTokens, deltas);
    assert.deepEqual(final.choices[0].logprobs.content.map((l) => l.token), deltas);
  });

  test('tool round trip: tool_calls, then a tool message, then a text answer', async () => {
    const c = client();
    const sim = { ...FAST, tool_calls: [{ name: 'get_weather', arguments: '{"city": "Paris", "unit": "c"}' }] };
    const messages = [{ role: 'user', content: QUESTION }];

    const stream = c.chat.completions.stream({ model: 'sim/echo', messages, tools: [WEATHER_TOOL], sim });
    const argDeltas = [];
    const argsDone = [];
    stream.on('tool_calls.function.arguments.delta', (e) => argDeltas.push(e.arguments_delta));
    stream.on('tool_calls.function.arguments.done', (e) => argsDone.push(e));
    const first = await stream.finalChatCompletion();
    const choice = first.choices[0];
    assert.equal(choice.finish_reason, 'tool_calls');
    assert.equal(choice.message.tool_calls.length, 1);
    const call = choice.message.tool_calls[0];
    assert.equal(call.type, 'function');
    assert.match(call.id, /^call_/);
    assert.equal(call.function.name, 'get_weather');
    assert.equal(call.function.arguments, '{"city": "Paris", "unit": "c"}');
    assert.ok(argDeltas.length > 1, 'arguments arrive in pieces');
    assert.equal(argDeltas.join(''), '{"city": "Paris", "unit": "c"}');
    assert.deepEqual(argsDone.map((e) => [e.index, e.name, e.arguments]), [[0, 'get_weather', '{"city": "Paris", "unit": "c"}']]);

    // Send the assistant message back as the SDK gave it, plus the tool's result.
    messages.push(choice.message, { role: 'tool', tool_call_id: call.id, content: '{"temperature": 21}' });
    const second = await c.chat.completions.create({ model: 'sim/echo', messages, tools: [WEATHER_TOOL], sim });
    assert.equal(second.choices[0].finish_reason, 'stop');
    assert.equal(second.choices[0].message.content, QUESTION);
    assert.equal(second.choices[0].message.tool_calls ?? null, null);
  });

  test('runTools() runs the whole loop: the function is called with the parsed arguments', async () => {
    const calls = [];
    const runner = client().chat.completions.runTools({
      model: 'sim/echo',
      stream: true,
      messages: [{ role: 'user', content: QUESTION }],
      tools: [{
        type: 'function',
        function: {
          name: 'get_weather',
          description: 'The weather in a city',
          parameters: WEATHER_TOOL.function.parameters,
          parse: JSON.parse,
          function: (args) => {
            calls.push(args);
            return { temperature: 21 };
          },
        },
      }],
      sim: { ...FAST, tool_calls: [{ name: 'get_weather', arguments: '{"city":"Paris"}' }] },
    });
    const content = await runner.finalContent();
    assert.deepEqual(calls, [{ city: 'Paris' }]);
    assert.equal(content, QUESTION);
    const roles = runner.messages.map((m) => m.role);
    assert.deepEqual(roles.slice(-3), ['assistant', 'tool', 'assistant']);
  });
});
