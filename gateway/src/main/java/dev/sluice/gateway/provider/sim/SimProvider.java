package dev.sluice.gateway.provider.sim;

import com.fasterxml.jackson.databind.JsonNode;
import dev.sluice.gateway.provider.Provider;
import dev.sluice.gateway.provider.UpstreamException;
import dev.sluice.gateway.provider.UpstreamRequest;
import dev.sluice.gateway.provider.UpstreamStream;
import dev.sluice.wire.chat.StreamError;
import dev.sluice.wire.chat.StreamEvent;
import dev.sluice.wire.json.Json;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.TimeUnit;
import java.util.regex.Pattern;

/**
 * A built-in simulated model, for demos, load tests and CI where no real model is at hand. It is not a
 * language model: {@code sim/echo} answers with the last user message, any other {@code sim/...} model
 * with lorem-ipsum text, at a configurable pace, with scripted tool calls and injected failures
 * ({@link SimSettings}).
 */
public final class SimProvider implements Provider {

    private static final Pattern TOKEN = Pattern.compile("\\s*\\S+|\\s+");
    private static final String LOREM = "Lorem ipsum dolor sit amet, consectetur adipiscing elit, sed do eiusmod tempor "
            + "incididunt ut labore et dolore magna aliqua. Ut enim ad minim veniam, quis nostrud exercitation ullamco "
            + "laboris nisi ut aliquip ex ea commodo consequat.";

    private final String name;

    public SimProvider(String name) {
        this.name = name;
    }

    @Override
    public String name() {
        return name;
    }

    @Override
    public UpstreamStream open(UpstreamRequest request) throws UpstreamException {
        var body = request.body();
        var overrides = body.get("sim");
        if (overrides != null && !overrides.isNull()) {
            if (!overrides.isObject()) throw invalid("sim", "must be an object of simulator settings (" + String.join(", ", SimSettings.KEYS) + ")");
            for (var it = overrides.properties().iterator(); it.hasNext(); ) {
                var e = it.next();
                var problem = SimSettings.problem(e.getKey(), e.getValue());
                if (problem != null) throw invalid("sim." + e.getKey(), problem);
            }
        }
        var settings = SimSettings.from(request.options(), overrides);
        var random = ThreadLocalRandom.current();
        boolean failing = settings.failRate() >= 1 || random.nextDouble() < settings.failRate();
        if (failing && settings.failStatus() > 0) {
            var error = Json.object();
            var e = error.putObject("error");
            e.put("message", "Simulated failure (status " + settings.failStatus() + ")");
            e.put("type", settings.failStatus() == 429 ? "rate_limit_error" : "server_error");
            e.putNull("param");
            e.put("code", "sim_injected_failure");
            throw UpstreamException.http(settings.failStatus(), "simulated failure", Json.bytes(error), "application/json",
                    settings.retryAfterSeconds() > 0 ? Duration.ofSeconds(settings.retryAfterSeconds()) : null);
        }
        return new SimStream(script(request, settings, failing), settings);
    }

    /** A 400 as OpenAI words it, naming the setting: the simulator is the upstream that refuses. */
    private static UpstreamException invalid(String param, String problem) {
        var error = Json.object();
        var e = error.putObject("error");
        e.put("message", "Invalid '" + param + "': " + problem + ".");
        e.put("type", "invalid_request_error");
        e.put("param", param);
        e.putNull("code");
        return UpstreamException.http(400, "invalid simulator setting", Json.bytes(error), "application/json", null);
    }

    private List<StreamEvent> script(UpstreamRequest request, SimSettings settings, boolean failing) throws UpstreamException {
        var body = request.body();
        var events = new ArrayList<StreamEvent>();
        var model = "sim/" + request.model();
        var id = "chatcmpl-sim-" + Long.toHexString(ThreadLocalRandom.current().nextLong() & Long.MAX_VALUE);
        events.add(new StreamEvent.Metadata(id, model, System.currentTimeMillis() / 1000, "fp_sim", null));
        int n = Math.max(1, body.path("n").asInt(1));
        long maxTokens = body.has("max_completion_tokens") ? body.get("max_completion_tokens").asLong()
                : body.has("max_tokens") ? body.get("max_tokens").asLong() : Long.MAX_VALUE;
        boolean logprobs = body.path("logprobs").asBoolean(false);
        var messages = body.path("messages");
        var lastRole = messages.isArray() && !messages.isEmpty() ? messages.get(messages.size() - 1).path("role").asText() : "";
        boolean callTools = !settings.toolCalls().isEmpty() && body.path("tools").isArray() && !body.path("tools").isEmpty()
                && !lastRole.equals("tool") && !"none".equals(body.path("tool_choice").asText());
        var text = request.model().startsWith("echo") ? echoText(messages) : lorem(settings.length());
        // A trailing assistant message is a prefill: carry on from where it stops, as real models do.
        var last = messages.isArray() && !messages.isEmpty() ? messages.get(messages.size() - 1) : null;
        if (last != null && last.path("role").asText().equals("assistant") && last.path("content").isTextual()) {
            var prefill = last.get("content").asText();
            if (text.startsWith(prefill)) text = text.substring(prefill.length());
        }
        var tokens = tokenize(text);
        long tokensPerChoice = 0;
        if (callTools) {
            for (var call : settings.toolCalls()) tokensPerChoice += tokenize(call.arguments()).size();
        } else {
            tokensPerChoice = Math.min(tokens.size(), maxTokens);
        }
        if (n * tokensPerChoice > SimSettings.MAX_ANSWER_TOKENS) {
            var param = n > 1 ? "n" : callTools ? "sim.tool_calls" : request.model().startsWith("echo") ? "messages" : "sim.length";
            throw invalid(param, "the simulator answers at most " + SimSettings.MAX_ANSWER_TOKENS + " tokens per request, and this asks for "
                    + n + " × " + tokensPerChoice);
        }
        for (int c = 0; c < n; c++) events.add(new StreamEvent.Role(c, "assistant"));
        // Choices are generated side by side and interleaved token by token, as real n>1 streams are; then
        // every choice finishes. (A client such as openai-java's accumulator treats "all choices seen so far
        // finished" as the end of the answer.)
        var perChoice = new ArrayList<List<StreamEvent>>();
        var finishes = new ArrayList<StreamEvent>();
        int completionTokens = 0;
        StreamEvent failure = null;
        for (int c = 0; c < n; c++) {
            var mine = new ArrayList<StreamEvent>();
            perChoice.add(mine);
            if (callTools) {
                for (int i = 0; i < settings.toolCalls().size(); i++) {
                    var call = settings.toolCalls().get(i);
                    var callId = "call_sim_" + c + "_" + i + "_" + Long.toHexString(ThreadLocalRandom.current().nextInt() & 0xffffffffL);
                    mine.add(new StreamEvent.ToolCallStart(c, i, callId, "function", call.name()));
                    for (var piece : tokenize(call.arguments())) {
                        mine.add(new StreamEvent.ToolCallArguments(c, i, piece));
                        completionTokens++;
                    }
                }
                finishes.add(new StreamEvent.Finish(c, "tool_calls"));
                continue;
            }
            String finish = "stop";
            int emitted = 0;
            for (var token : tokens) {
                if (emitted >= maxTokens) {
                    finish = "length";
                    break;
                }
                if (failing && settings.failAfterTokens() >= 0 && completionTokens >= settings.failAfterTokens()) {
                    failure = new StreamEvent.Error(StreamError.of("Simulated failure after " + completionTokens + " tokens", "server_error", "sim_injected_failure"));
                    break;
                }
                // Logprobs go just before the text they describe, as the canonical model orders them.
                if (logprobs) mine.add(new StreamEvent.Logprobs(c, logprob(token), null));
                mine.add(new StreamEvent.TextDelta(c, token));
                emitted++;
                completionTokens++;
            }
            finishes.add(new StreamEvent.Finish(c, finish));
        }
        var cursors = new int[n];
        for (boolean any = true; any; ) {
            any = false;
            for (int c = 0; c < n; c++) {
                var mine = perChoice.get(c);
                // One token (with its logprobs, or one tool-call fragment with its start) per choice per round.
                while (cursors[c] < mine.size()) {
                    var e = mine.get(cursors[c]++);
                    events.add(e);
                    any = true;
                    if (e instanceof StreamEvent.TextDelta || e instanceof StreamEvent.ToolCallArguments) break;
                }
            }
        }
        if (failure != null) {
            events.add(failure);
            return events;
        }
        events.addAll(finishes);
        // A rough count in the spirit of OpenAI's: words of every message plus a few tokens of framing each.
        int promptTokens = 0;
        for (var m : messages) promptTokens += 4 + tokenize(textOf(m.get("content"))).size();
        var usage = Json.object();
        usage.put("prompt_tokens", promptTokens);
        usage.put("completion_tokens", completionTokens);
        usage.put("total_tokens", promptTokens + completionTokens);
        events.add(new StreamEvent.Usage(usage));
        return events;
    }

    private static JsonNode logprob(String token) {
        var array = Json.NODES.arrayNode();
        var entry = array.addObject();
        entry.put("token", token);
        entry.put("logprob", -0.01);
        var bytes = entry.putArray("bytes");
        for (byte b : token.getBytes(StandardCharsets.UTF_8)) bytes.add(b & 0xff);
        entry.putArray("top_logprobs");
        return array;
    }

    private static String textOf(JsonNode content) {
        if (content == null || content.isNull()) return "";
        if (content.isTextual()) return content.asText();
        var out = new StringBuilder();
        for (var part : content) if (part.has("text")) out.append(part.path("text").asText()).append(' ');
        return out.toString();
    }

    private static String echoText(JsonNode messages) {
        for (int i = messages.size() - 1; i >= 0; i--) {
            var m = messages.get(i);
            if (!m.path("role").asText().equals("user")) continue;
            var content = m.get("content");
            if (content == null) break;
            if (content.isTextual()) return content.asText().isEmpty() ? "(empty message)" : content.asText();
            var out = new StringBuilder();
            for (var part : content) if (part.path("type").asText().equals("text")) out.append(part.path("text").asText());
            return out.isEmpty() ? "(no text)" : out.toString();
        }
        return "Hello from the Sluice simulator.";
    }

    private static String lorem(int tokens) {
        var words = LOREM.split(" ");
        var out = new StringBuilder();
        for (int i = 0; i < tokens; i++) {
            if (i > 0) out.append(' ');
            out.append(words[i % words.length]);
        }
        return out.toString();
    }

    static List<String> tokenize(String text) {
        var out = new ArrayList<String>();
        var m = TOKEN.matcher(text);
        while (m.find()) out.add(m.group());
        return out;
    }

    /** Replays the script with the configured timing; close() wakes a waiting reader at once. */
    private static final class SimStream implements UpstreamStream {
        private final List<StreamEvent> events;
        private final SimSettings settings;
        private final CountDownLatch closed = new CountDownLatch(1);
        private int position;
        private boolean firstTokenSent;

        SimStream(List<StreamEvent> events, SimSettings settings) {
            this.events = events;
            this.settings = settings;
        }

        @Override
        public StreamEvent next() throws java.io.IOException {
            if (closed.getCount() == 0 || position >= events.size()) return null;
            var event = events.get(position);
            if (isToken(event)) {
                long delayNanos = !firstTokenSent ? TimeUnit.MILLISECONDS.toNanos(settings.ttftMillis())
                        : settings.tokensPerSecond() > 0 ? (long) (1e9 / settings.tokensPerSecond()) : 0;
                firstTokenSent = true;
                if (delayNanos > 0) {
                    try {
                        if (closed.await(delayNanos, TimeUnit.NANOSECONDS)) return null;
                    } catch (InterruptedException e) {
                        Thread.currentThread().interrupt();
                        throw new java.io.InterruptedIOException("cancelled");
                    }
                }
            }
            position++;
            return event;
        }

        private static boolean isToken(StreamEvent e) {
            return e instanceof StreamEvent.TextDelta || e instanceof StreamEvent.ToolCallArguments || e instanceof StreamEvent.Error;
        }

        @Override
        public boolean completed() {
            return position >= events.size();
        }

        @Override
        public void close() {
            closed.countDown();
        }
    }
}
