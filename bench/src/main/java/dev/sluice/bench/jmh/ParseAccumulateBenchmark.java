package dev.sluice.bench.jmh;

import com.openai.client.OpenAIClient;
import com.openai.client.OpenAIClientImpl;
import com.openai.core.ClientOptions;
import com.openai.core.RequestOptions;
import com.openai.core.http.Headers;
import com.openai.core.http.HttpClient;
import com.openai.core.http.HttpRequest;
import com.openai.core.http.HttpResponse;
import com.openai.helpers.ChatCompletionAccumulator;
import com.openai.models.ChatModel;
import com.openai.models.chat.completions.ChatCompletionCreateParams;
import dev.sluice.wire.chat.ChatAccumulator;
import dev.sluice.wire.chat.ChatCompletion;
import dev.sluice.wire.chat.ChatStreamParser;
import java.io.ByteArrayInputStream;
import java.io.InputStream;
import java.nio.ByteBuffer;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Fork;
import org.openjdk.jmh.annotations.Measurement;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Param;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.TearDown;
import org.openjdk.jmh.annotations.Warmup;
import org.openjdk.jmh.infra.Blackhole;

/**
 * Parse + accumulate of one whole chat completions stream, from bytes in memory to the final completion:
 * Sluice's client path against openai-java's. One operation is one stream; chunks/s is ops/s times
 * {@link RecordedStreams.Stream#chunks()} (bench/scripts/jmh.sh prints that table).
 *
 * <p>Sluice: the bytes go, in {@code piece}-sized heap {@link ByteBuffer}s as the JDK HTTP client hands them to
 * {@code EventStream}, into wire's {@link ChatStreamParser} (SSE decoding and chunk decoding, exactly what
 * {@code EventStream} runs), whose events feed the {@link ChatAccumulator} that {@code ChatStream} uses.
 *
 * <p>openai-java: its public client, {@code chat().completions().createStreaming(...)}, on an
 * {@link HttpClient} that answers every request with the same bytes from a {@link ByteArrayInputStream}
 * (at most {@code piece} bytes per read), so the SDK's own response handling, SSE handler and chunk mapping
 * run unchanged; each chunk goes into its {@link ChatCompletionAccumulator}. The per-call request building
 * this includes is small next to hundreds of chunks.
 */
@State(Scope.Benchmark)
@BenchmarkMode(Mode.Throughput)
@OutputTimeUnit(TimeUnit.SECONDS)
@Fork(value = 1, jvmArgsAppend = {"-Xms1g", "-Xmx1g"})
@Warmup(iterations = 4, time = 2)
@Measurement(iterations = 5, time = 2)
public class ParseAccumulateBenchmark {

    @Param({"text", "tools", "logprobs"})
    public String stream;

    /** Bytes per network read. */
    @Param({"8192"})
    public int piece;

    private byte[] bytes;
    private OpenAIClient openai;
    private ChatCompletionCreateParams params;

    @Setup
    public void setup() {
        bytes = RecordedStreams.get(stream).bytes();
        openai = openAiClient(bytes, piece);
        params = ChatCompletionCreateParams.builder()
                .model(ChatModel.GPT_4O)
                .addUserMessage("benchmark")
                .build();
        // Both sides must rebuild the same answer, or the numbers would measure a broken parse.
        var sluice = Summary.of(sluice(bytes, piece, new Blackhole(BLACKHOLE_PASSWORD)));
        var official = Summary.of(openAiJava(openai, params, new Blackhole(BLACKHOLE_PASSWORD)));
        if (!sluice.equals(official)) {
            throw new IllegalStateException("results differ for " + stream + ":\n sluice:      " + sluice + "\n openai-java: " + official);
        }
        if (sluice.content().isEmpty() && sluice.toolArguments().isEmpty()) {
            throw new IllegalStateException("empty result for " + stream);
        }
    }

    @TearDown
    public void tearDown() {
        openai.close();
    }

    @Benchmark
    public ChatCompletion sluice(Blackhole bh) {
        return sluice(bytes, piece, bh);
    }

    @Benchmark
    public com.openai.models.chat.completions.ChatCompletion openaiJava(Blackhole bh) {
        return openAiJava(openai, params, bh);
    }

    static ChatCompletion sluice(byte[] bytes, int piece, Blackhole bh) {
        var accumulator = new ChatAccumulator();
        var parser = new ChatStreamParser(event -> {
            accumulator.accept(event);
            bh.consume(event);
        });
        for (int off = 0; off < bytes.length; off += piece) {
            parser.feed(ByteBuffer.wrap(bytes, off, Math.min(piece, bytes.length - off)));
        }
        if (!parser.end()) throw new IllegalStateException("stream incomplete");
        return accumulator.result();
    }

    static com.openai.models.chat.completions.ChatCompletion openAiJava(
            OpenAIClient client, ChatCompletionCreateParams params, Blackhole bh) {
        var accumulator = ChatCompletionAccumulator.create();
        try (var chunks = client.chat().completions().createStreaming(params)) {
            chunks.stream().forEach(chunk -> {
                accumulator.accumulate(chunk);
                bh.consume(chunk);
            });
        }
        return accumulator.chatCompletion();
    }

    /** An openai-java client whose every request is answered with {@code body}, read {@code piece} bytes at a time. */
    static OpenAIClient openAiClient(byte[] body, int piece) {
        var options = ClientOptions.builder()
                .httpClient(new RecordedHttpClient(body, piece))
                .apiKey("sk-benchmark")
                .maxRetries(0)
                .build();
        return new OpenAIClientImpl(options);
    }

    private static final class RecordedHttpClient implements HttpClient {
        private static final Headers HEADERS = Headers.builder().put("content-type", "text/event-stream").build();
        private final byte[] body;
        private final int piece;

        RecordedHttpClient(byte[] body, int piece) {
            this.body = body;
            this.piece = piece;
        }

        @Override
        public HttpResponse execute(HttpRequest request, RequestOptions requestOptions) {
            InputStream in = new ByteArrayInputStream(body) {
                @Override
                public synchronized int read(byte[] b, int off, int len) {
                    return super.read(b, off, Math.min(len, piece)); // a network read returns at most one piece
                }
            };
            return new HttpResponse() {
                @Override
                public int statusCode() {
                    return 200;
                }

                @Override
                public Headers headers() {
                    return HEADERS;
                }

                @Override
                public InputStream body() {
                    return in;
                }

                @Override
                public void close() {}
            };
        }

        @Override
        public CompletableFuture<HttpResponse> executeAsync(HttpRequest request, RequestOptions requestOptions) {
            return CompletableFuture.completedFuture(execute(request, requestOptions));
        }

        @Override
        public void close() {}
    }

    /** What both results must agree on: the text, every tool call's arguments, logprob tokens, usage, finish. */
    record Summary(String content, List<String> toolArguments, int logprobTokens, long totalTokens, String finish) {

        static Summary of(ChatCompletion c) {
            var choice = c.choices().getFirst();
            var args = new ArrayList<String>();
            for (var call : choice.message().toolCalls()) args.add(call.arguments());
            int tokens = choice.logprobs() == null ? 0 : choice.logprobs().path("content").size();
            return new Summary(
                    choice.message().content() == null ? "" : choice.message().content(),
                    args,
                    tokens,
                    c.usage().path("total_tokens").asLong(),
                    choice.finishReason());
        }

        static Summary of(com.openai.models.chat.completions.ChatCompletion c) {
            var choice = c.choices().getFirst();
            var args = new ArrayList<String>();
            choice.message().toolCalls().ifPresent(calls -> calls.forEach(call -> args.add(call.asFunction().function().arguments())));
            int tokens = choice.logprobs().flatMap(l -> l.content()).map(List::size).orElse(0);
            return new Summary(
                    choice.message().content().orElse(""),
                    args,
                    tokens,
                    c.usage().orElseThrow().totalTokens(),
                    choice.finishReason().asString());
        }
    }

    /** JMH's Blackhole constructor demands this phrase: outside a benchmark it must be created by hand. */
    private static final String BLACKHOLE_PASSWORD =
            "Today's password is swordfish. I understand instantiating Blackholes directly is dangerous.";
}
