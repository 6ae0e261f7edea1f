package dev.sluice.bench;

import io.netty.bootstrap.ServerBootstrap;
import io.netty.buffer.ByteBuf;
import io.netty.buffer.ByteBufUtil;
import io.netty.buffer.Unpooled;
import io.netty.channel.Channel;
import io.netty.channel.ChannelFutureListener;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInitializer;
import io.netty.channel.ChannelOption;
import io.netty.channel.EventLoopGroup;
import io.netty.channel.ServerChannel;
import io.netty.channel.SimpleChannelInboundHandler;
import io.netty.channel.epoll.Epoll;
import io.netty.channel.epoll.EpollEventLoopGroup;
import io.netty.channel.epoll.EpollServerSocketChannel;
import io.netty.channel.nio.NioEventLoopGroup;
import io.netty.channel.socket.SocketChannel;
import io.netty.channel.socket.nio.NioServerSocketChannel;
import io.netty.handler.codec.http.FullHttpRequest;
import io.netty.handler.codec.http.HttpMethod;
import io.netty.handler.codec.http.HttpObjectAggregator;
import io.netty.handler.codec.http.HttpRequestDecoder;
import io.netty.handler.codec.http.HttpUtil;
import java.io.ByteArrayOutputStream;
import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ScheduledFuture;
import java.util.concurrent.TimeUnit;

/**
 * A fast fake OpenAI-compatible upstream for benchmarks: {@code POST /v1/chat/completions}, HTTP/1.1 keep-alive.
 *
 * <p>Requests are decoded by Netty; every response byte is pre-encoded once per (model, chunks, usage) and
 * written as a shared read-only buffer (status line, headers and the chunked body included), so the upstream
 * costs a few microseconds per request and is never what a benchmark measures.
 *
 * <p>Streams ({@code "stream": true}) are the usual OpenAI sequence: a role chunk ({@code "content":""}),
 * N content chunks of a couple of words, a finish chunk, a usage chunk when {@code stream_options.include_usage}
 * is set (the gateway always sets it), then {@code data: [DONE]}. Non-streaming requests get one
 * {@code chat.completion} object with the same text.
 *
 * <p>Pacing is chosen per request so one upstream serves every case:
 * <ul>
 *   <li>model {@code fast} (or anything not starting with {@code paced}): unpaced; the whole stream is written
 *       with a single flush (one writev), the "fastest possible model" case.</li>
 *   <li>model {@code paced}: the role chunk and first content chunk after {@code --ttft-ms} (default 50), then one
 *       content chunk every {@code --gap-ms} (default 2), each flushed on its own; finish, usage and [DONE] one gap
 *       after the last content chunk. {@code paced-T-G} sets T ms to first token and G ms between chunks.</li>
 *   <li>Headers {@code x-bench-ttft-ms}, {@code x-bench-gap-ms}, {@code x-bench-chunks} override (direct use only;
 *       proxies that rewrite requests may drop them).</li>
 * </ul>
 * A paced stream's role and first content chunk carry, in the digits of their {@code id}, the
 * {@link System#nanoTime()} at which they were written and then the one at which the request was taken
 * ({@link #STAMP_PREFIX}). nanoTime is CLOCK_MONOTONIC on Linux, so the load generator can split its time to
 * first chunk into the request's way to the upstream, the upstream's own wait (its ttft plus its timer's
 * lateness, which dominates an end-to-end TTFC percentile) and the chunk's way back: what a proxy adds is the
 * first and the last.
 * A non-streaming paced request is answered after ttft + chunks x gap.
 *
 * <p>Faults: a model name with a {@code +fP} suffix ({@code fast+f10}, {@code paced-50-2+f10}) fails P% of its
 * requests, chosen deterministically from {@code --fault-seed} (see {@link Faults}), with one of {@code --fault-kinds}:
 * 500, 503, 429 with {@code Retry-After: 0}, a connection reset before the first byte, or a reset after half the
 * answer. {@code GET /bench/stats} returns the counts.
 *
 * <p>Cancel trials: a request whose body contains {@code [trial:N]} (e.g. in a user message, which a proxy
 * forwards) is a trial; {@link #trial(long)} gives when it arrived, how many content chunks went out, and the
 * {@link System#nanoTime()} at which its connection was seen closed (channelInactive). nanoTime is CLOCK_MONOTONIC,
 * so a bench in the same JVM (or any process on the same Linux host) can compare it with its own stamps.
 *
 * <p>Usage: {@code java -cp sluice-bench.jar dev.sluice.bench.FakeUpstream [--port 0] [--threads 1]
 * [--chunks 32] [--ttft-ms 50] [--gap-ms 2] [--fault-seed 1] [--fault-kinds 500,503,429,reset,midreset]
 * [--port-file FILE]}. It listens on 127.0.0.1 only.
 */
public final class FakeUpstream implements AutoCloseable {

    private static final String[] WORDS = {
        "the", "river", "runs", "quietly", "under", "old", "stone", "bridges", "while", "light",
        "moves", "across", "water", "and", "small", "boats", "drift", "toward", "evening", "harbors"
    };

    private final EventLoopGroup group;
    private final Channel server;
    private final Settings settings;
    private final Map<String, Script> scripts = new ConcurrentHashMap<>();
    private final Faults faults;
    private final Map<Long, Trial> trials = new ConcurrentHashMap<>();

    /** What the upstream saw of one cancel trial; nanoTime stamps, 0 while not happened. */
    public static final class Trial {
        public volatile long arrivedNanos;
        public volatile long closedNanos;
        public volatile int chunksSent;
    }

    /** Defaults for the paced model and the number of content chunks. */
    public record Settings(int chunks, double ttftMs, double gapMs) {}

    public FakeUpstream(int port, int threads, Settings settings) throws InterruptedException {
        this(port, threads, settings, new Faults(1, Faults.ALL));
    }

    public FakeUpstream(int port, int threads, Settings settings, Faults faults) throws InterruptedException {
        this.settings = settings;
        this.faults = faults;
        boolean epoll = Epoll.isAvailable();
        this.group = epoll ? new EpollEventLoopGroup(threads) : new NioEventLoopGroup(threads);
        Class<? extends ServerChannel> channelClass = epoll ? EpollServerSocketChannel.class : NioServerSocketChannel.class;
        var bootstrap = new ServerBootstrap()
                .group(group)
                .channel(channelClass)
                .option(ChannelOption.SO_BACKLOG, 1024)
                .childOption(ChannelOption.TCP_NODELAY, true)
                .childHandler(new ChannelInitializer<SocketChannel>() {
                    @Override
                    protected void initChannel(SocketChannel ch) {
                        ch.pipeline()
                                .addLast(new HttpRequestDecoder(4096, 16 * 1024, 8192))
                                .addLast(new HttpObjectAggregator(8 * 1024 * 1024))
                                .addLast(new Handler());
                    }
                });
        this.server = bootstrap.bind("127.0.0.1", port).sync().channel();
        if (!epoll) {
            System.err.println("fake-upstream: epoll unavailable (" + Epoll.unavailabilityCause() + "); NIO timers round pacing to 1 ms");
        }
    }

    /** The trial with this id (created on first use, so a bench can hold it before the request arrives). */
    public Trial trial(long id) {
        return trials.computeIfAbsent(id, k -> new Trial());
    }

    public Faults faults() {
        return faults;
    }

    public int port() {
        return ((InetSocketAddress) server.localAddress()).getPort();
    }

    @Override
    public void close() {
        server.close().awaitUninterruptibly();
        group.shutdownGracefully(0, 1, TimeUnit.SECONDS).awaitUninterruptibly();
        // Nothing writes the pre-encoded answers any more: their direct memory goes back now, not never.
        for (var script : scripts.values()) script.free();
        scripts.clear();
    }

    public static void main(String[] args) throws Exception {
        int port = 0;
        int threads = 1;
        int chunks = 32;
        double ttft = 50;
        double gap = 2;
        String portFile = null;
        long faultSeed = 1;
        var faultKinds = Faults.ALL;
        for (int i = 0; i < args.length; i++) {
            String a = args[i];
            String v = i + 1 < args.length ? args[i + 1] : null;
            switch (a) {
                case "--port" -> { port = Integer.parseInt(v); i++; }
                case "--threads" -> { threads = Integer.parseInt(v); i++; }
                case "--chunks" -> { chunks = Integer.parseInt(v); i++; }
                case "--ttft-ms" -> { ttft = Double.parseDouble(v); i++; }
                case "--gap-ms" -> { gap = Double.parseDouble(v); i++; }
                case "--port-file" -> { portFile = v; i++; }
                case "--fault-seed" -> { faultSeed = Long.parseLong(v); i++; }
                case "--fault-kinds" -> { faultKinds = Faults.parseKinds(v); i++; }
                default -> {
                    System.err.println("usage: FakeUpstream [--port P] [--threads N] [--chunks N] [--ttft-ms MS] [--gap-ms MS] [--fault-seed N]"
                            + " [--fault-kinds 500,503,429,reset,midreset] [--port-file FILE]");
                    System.exit(2);
                }
            }
        }
        var upstream = new FakeUpstream(port, threads, new Settings(chunks, ttft, gap), new Faults(faultSeed, faultKinds));
        if (portFile != null) Files.writeString(Path.of(portFile), upstream.port() + "\n");
        System.out.println("fake-upstream listening on http://127.0.0.1:" + upstream.port() + "/v1 (" + (Epoll.isAvailable() ? "epoll" : "nio")
                + ", threads=" + threads + ", chunks=" + chunks + ", paced: ttft=" + ttft + "ms gap=" + gap + "ms, fault seed " + faultSeed + " kinds " + faultKinds + ")");
        System.out.flush();
        Runtime.getRuntime().addShutdownHook(new Thread(upstream::close));
        Thread.currentThread().join();
    }

    // ---------------------------------------------------------------------------------------------------------

    /** One request, reduced to what decides the answer. */
    private record Ask(boolean stream, boolean usage, String model, int chunks, long ttftNanos, long gapNanos, boolean paced, Faults.Kind fault, long trial) {}

    /**
     * Pre-encoded bytes of one kind of answer. {@code events} are complete HTTP chunks ({@code size CRLF data CRLF});
     * {@code streamFull} is the whole unpaced response; {@code jsonFull} the whole non-streaming response.
     */
    private record Script(ByteBuf streamHead, ByteBuf[] events, ByteBuf streamFull, ByteBuf jsonFull) {
        void free() {
            FakeUpstream.free(streamHead);
            for (var e : events) FakeUpstream.free(e);
            FakeUpstream.free(streamFull);
            FakeUpstream.free(jsonFull);
        }
    }

    private Script script(Ask ask) {
        String key = ask.model + '|' + ask.chunks + '|' + ask.usage;
        return scripts.computeIfAbsent(key, k -> build(ask.model, ask.chunks, ask.usage));
    }

    /** What precedes the 22 digits of a stream's id; in a paced stream's first chunks they are a send-time stamp. */
    static final String STAMP_PREFIX = "\"id\":\"chatcmpl-bench";
    static final byte[] STAMP_KEY = STAMP_PREFIX.getBytes(StandardCharsets.US_ASCII);
    static final int STAMP_DIGITS = 22;
    /** The id's digits: the send stamp, then the stamp of when the request was taken (zeros where not stamped). */
    static final String ID_DIGITS = "0".repeat(2 * STAMP_DIGITS);

    static List<String> sseEvents(String model, int chunks, boolean usage) {
        String prefix = "{\"id\":\"chatcmpl-bench" + ID_DIGITS + "\",\"object\":\"chat.completion.chunk\",\"created\":1700000000,\"model\":\""
                + model + "\",\"system_fingerprint\":\"fp_bench\",\"choices\":[";
        var out = new ArrayList<String>();
        out.add(prefix + "{\"index\":0,\"delta\":{\"role\":\"assistant\",\"content\":\"\",\"refusal\":null},\"logprobs\":null,\"finish_reason\":null}]}");
        for (int k = 0; k < chunks; k++) {
            out.add(prefix + "{\"index\":0,\"delta\":{\"content\":\"" + text(k) + "\"},\"logprobs\":null,\"finish_reason\":null}]}");
        }
        out.add(prefix + "{\"index\":0,\"delta\":{},\"logprobs\":null,\"finish_reason\":\"stop\"}]}");
        if (usage) out.add(prefix + "],\"usage\":" + usageJson(chunks) + "}");
        var frames = new ArrayList<String>();
        for (var e : out) frames.add("data: " + e + "\n\n");
        frames.add("data: [DONE]\n\n");
        return frames;
    }

    static String text(int k) {
        return " " + WORDS[k % WORDS.length] + " " + WORDS[(k * 7 + 3) % WORDS.length];
    }

    private static String usageJson(int chunks) {
        int completion = chunks * 2;
        return "{\"prompt_tokens\":24,\"completion_tokens\":" + completion + ",\"total_tokens\":" + (24 + completion)
                + ",\"prompt_tokens_details\":{\"cached_tokens\":0},\"completion_tokens_details\":{\"reasoning_tokens\":0}}";
    }

    private static Script build(String model, int chunks, boolean usage) {
        byte[] head = ("HTTP/1.1 200 OK\r\nContent-Type: text/event-stream; charset=utf-8\r\nCache-Control: no-cache\r\n"
                + "Transfer-Encoding: chunked\r\n\r\n").getBytes(StandardCharsets.US_ASCII);
        var frames = sseEvents(model, chunks, usage);
        var events = new ByteBuf[frames.size() + 1];
        var full = new ByteArrayOutputStream();
        full.writeBytes(head);
        for (int i = 0; i < frames.size(); i++) {
            byte[] data = frames.get(i).getBytes(StandardCharsets.UTF_8);
            var chunk = new ByteArrayOutputStream();
            chunk.writeBytes((Integer.toHexString(data.length) + "\r\n").getBytes(StandardCharsets.US_ASCII));
            chunk.writeBytes(data);
            chunk.writeBytes("\r\n".getBytes(StandardCharsets.US_ASCII));
            events[i] = shared(chunk.toByteArray());
            full.writeBytes(chunk.toByteArray());
        }
        byte[] last = "0\r\n\r\n".getBytes(StandardCharsets.US_ASCII);
        events[frames.size()] = shared(last);
        full.writeBytes(last);

        var content = new StringBuilder();
        for (int k = 0; k < chunks; k++) content.append(text(k));
        String json = "{\"id\":\"chatcmpl-bench" + ID_DIGITS + "\",\"object\":\"chat.completion\",\"created\":1700000000,\"model\":\"" + model
                + "\",\"system_fingerprint\":\"fp_bench\",\"choices\":[{\"index\":0,\"message\":{\"role\":\"assistant\",\"content\":\""
                + content + "\",\"refusal\":null},\"logprobs\":null,\"finish_reason\":\"stop\"}],\"usage\":" + usageJson(chunks) + "}";
        return new Script(shared(head), events, shared(full.toByteArray()), shared(fullResponse("200 OK", json)));
    }

    /** A copy of a pre-encoded event whose id digits are {@code sent} then {@code taken}, each zero-padded. */
    private static ByteBuf stamped(ByteBuf event, long sent, long taken) {
        byte[] bytes = ByteBufUtil.getBytes(event);
        int at = ResponseParser.indexOf(bytes, 0, bytes.length, STAMP_KEY);
        if (at < 0) throw new IllegalStateException("event without a stampable id");
        byte[] digits = String.format(Locale.ROOT, "%0" + STAMP_DIGITS + "d%0" + STAMP_DIGITS + "d", sent, taken).getBytes(StandardCharsets.US_ASCII);
        System.arraycopy(digits, 0, bytes, at + STAMP_KEY.length, 2 * STAMP_DIGITS);
        return Unpooled.wrappedBuffer(bytes);
    }

    /** A direct buffer that is written many times; writes cannot free it, only {@link #free} (static ones live as long as the process). */
    private static ByteBuf shared(byte[] bytes) {
        var buf = Unpooled.directBuffer(bytes.length);
        buf.writeBytes(bytes);
        return Unpooled.unreleasableBuffer(buf.asReadOnly());
    }

    /** Frees a {@link #shared} buffer: the read-only view under the unreleasable wrapper shares the buffer's count. */
    private static void free(ByteBuf shared) {
        shared.unwrap().release();
    }

    private static ByteBuf dup(ByteBuf shared) {
        return shared.duplicate();
    }

    private static final ByteBuf NOT_FOUND = shared(fullResponse("404 Not Found",
            "{\"error\":{\"message\":\"not found\",\"type\":\"invalid_request_error\",\"param\":null,\"code\":null}}"));

    private static ByteBuf error(String status, String extraHeaders, String type) {
        String json = "{\"error\":{\"message\":\"fault injected by the bench upstream\",\"type\":\"" + type + "\",\"param\":null,\"code\":null}}";
        byte[] body = json.getBytes(StandardCharsets.UTF_8);
        return shared(("HTTP/1.1 " + status + "\r\nContent-Type: application/json\r\n" + extraHeaders + "Content-Length: " + body.length + "\r\n\r\n" + json)
                .getBytes(StandardCharsets.UTF_8));
    }

    private static final ByteBuf ERR_500 = error("500 Internal Server Error", "", "server_error");
    private static final ByteBuf ERR_503 = error("503 Service Unavailable", "", "server_error");
    private static final ByteBuf ERR_429 = error("429 Too Many Requests", "Retry-After: 0\r\n", "rate_limit_error");

    private static final ByteBuf MODELS = shared(fullResponse("200 OK",
            "{\"object\":\"list\",\"data\":[{\"id\":\"fast\",\"object\":\"model\",\"created\":1700000000,\"owned_by\":\"bench\"},"
                    + "{\"id\":\"paced\",\"object\":\"model\",\"created\":1700000000,\"owned_by\":\"bench\"}]}"));

    private static byte[] fullResponse(String status, String json) {
        byte[] body = json.getBytes(StandardCharsets.UTF_8);
        var out = new ByteArrayOutputStream();
        out.writeBytes(("HTTP/1.1 " + status + "\r\nContent-Type: application/json\r\nContent-Length: " + body.length + "\r\n\r\n")
                .getBytes(StandardCharsets.US_ASCII));
        out.writeBytes(body);
        return out.toByteArray();
    }

    // ---------------------------------------------------------------------------------------------------------

    /** Request fields found by a cheap scan of the JSON body (no JSON library on the hot path). */
    Ask parse(FullHttpRequest request) {
        String body = request.content().toString(StandardCharsets.UTF_8);
        boolean stream = "true".equals(scalar(body, "\"stream\""));
        boolean usage = stream && "true".equals(scalar(body, "\"include_usage\""));
        String model = stringValue(body, "\"model\"");
        if (model == null) model = "fast";
        var mf = Faults.parseModel(model);
        model = mf.model();
        Faults.Kind fault = faults.next(mf.rate());
        long trial = -1;
        int t = body.indexOf("[trial:");
        if (t >= 0) {
            int e = body.indexOf(']', t);
            try {
                if (e > 0) trial = Long.parseLong(body.substring(t + "[trial:".length(), e));
            } catch (NumberFormatException ignored) {
                // not a trial
            }
        }
        int chunks = settings.chunks;
        double ttft = settings.ttftMs;
        double gap = settings.gapMs;
        boolean paced = model.startsWith("paced");
        if (paced && model.length() > "paced".length()) {
            // paced-T-G[-N]
            String[] parts = model.substring("paced-".length()).split("-");
            try {
                if (parts.length > 0) ttft = Double.parseDouble(parts[0]);
                if (parts.length > 1) gap = Double.parseDouble(parts[1]);
                if (parts.length > 2) chunks = Integer.parseInt(parts[2]);
            } catch (NumberFormatException ignored) {
                // keep the defaults
            }
        }
        var h = request.headers();
        if (h.contains("x-bench-ttft-ms")) { ttft = Double.parseDouble(h.get("x-bench-ttft-ms")); paced = true; }
        if (h.contains("x-bench-gap-ms")) { gap = Double.parseDouble(h.get("x-bench-gap-ms")); paced = true; }
        if (h.contains("x-bench-chunks")) chunks = Integer.parseInt(h.get("x-bench-chunks"));
        return new Ask(stream, usage, model, chunks, (long) (ttft * 1e6), (long) (gap * 1e6), paced, fault, trial);
    }

    /** The raw token after {@code "key":} (true, false, a number), or null. */
    static String scalar(String json, String key) {
        int i = json.indexOf(key);
        if (i < 0) return null;
        i = skipColon(json, i + key.length());
        if (i < 0) return null;
        int j = i;
        while (j < json.length() && Character.isLetterOrDigit(json.charAt(j))) j++;
        return json.substring(i, j);
    }

    /** The (unescaped, simple) string after {@code "key":}, or null. */
    static String stringValue(String json, String key) {
        int i = json.indexOf(key);
        if (i < 0) return null;
        i = skipColon(json, i + key.length());
        if (i < 0 || i >= json.length() || json.charAt(i) != '"') return null;
        int j = json.indexOf('"', i + 1);
        return j < 0 ? null : json.substring(i + 1, j);
    }

    private static int skipColon(String s, int i) {
        while (i < s.length() && Character.isWhitespace(s.charAt(i))) i++;
        if (i >= s.length() || s.charAt(i) != ':') return -1;
        i++;
        while (i < s.length() && Character.isWhitespace(s.charAt(i))) i++;
        return i;
    }

    /** One connection: answers its requests in order (a pipelined request waits for the previous answer). */
    private final class Handler extends SimpleChannelInboundHandler<FullHttpRequest> {
        private final ArrayDeque<Pending> queue = new ArrayDeque<>();
        private boolean busy;
        private ScheduledFuture<?> timer;
        private Trial currentTrial;

        private record Pending(Ask ask, boolean keepAlive, String uri, HttpMethod method) {}

        @Override
        protected void channelRead0(ChannelHandlerContext ctx, FullHttpRequest request) {
            Ask ask = null;
            String path = request.uri();
            int q = path.indexOf('?');
            if (q >= 0) path = path.substring(0, q);
            if (request.method() == HttpMethod.POST && path.endsWith("/chat/completions")) ask = parse(request);
            if (ask != null && ask.trial >= 0) {
                var trial = trial(ask.trial);
                trial.arrivedNanos = System.nanoTime();
                currentTrial = trial;
            }
            queue.add(new Pending(ask, HttpUtil.isKeepAlive(request) && request.decoderResult().isSuccess(), path, request.method()));
            if (!busy) next(ctx);
        }

        private void next(ChannelHandlerContext ctx) {
            Pending p = queue.poll();
            if (p == null) {
                busy = false;
                return;
            }
            busy = true;
            if (p.ask == null) {
                if (p.method == HttpMethod.GET && p.uri.equals("/bench/stats")) {
                    byte[] json = faults.statsJson().getBytes(StandardCharsets.UTF_8);
                    done(ctx, ctx.write(Unpooled.wrappedBuffer(fullResponse("200 OK", new String(json, StandardCharsets.UTF_8)))), p.keepAlive, true);
                    return;
                }
                boolean models = p.method == HttpMethod.GET && p.uri.endsWith("/models");
                done(ctx, ctx.write(dup(models ? MODELS : NOT_FOUND)), p.keepAlive, true);
                return;
            }
            Ask ask = p.ask;
            Script s = script(ask);
            if (ask.fault != null) {
                switch (ask.fault) {
                    case HTTP_500 -> done(ctx, ctx.write(dup(ERR_500)), p.keepAlive, true);
                    case HTTP_503 -> done(ctx, ctx.write(dup(ERR_503)), p.keepAlive, true);
                    case HTTP_429 -> done(ctx, ctx.write(dup(ERR_429)), p.keepAlive, true);
                    case RESET -> reset(ctx);
                    case MID_RESET -> {
                        if (ask.stream && ask.paced) break; // PacedStream resets itself half way
                        if (ask.stream) {
                            ctx.write(dup(s.streamHead));
                            for (int i = 0; i < 1 + Math.max(1, ask.chunks / 2) && i < s.events.length; i++) ctx.write(dup(s.events[i]));
                        } else {
                            var half = s.jsonFull.duplicate();
                            half.writerIndex(half.readerIndex() + half.readableBytes() / 2);
                            ctx.write(half);
                        }
                        ctx.flush();
                        // A moment later, so the half answer has certainly been read by the peer when the RST lands.
                        timer = ctx.executor().schedule(() -> reset(ctx), 2, TimeUnit.MILLISECONDS);
                    }
                }
                if (!(ask.fault == Faults.Kind.MID_RESET && ask.stream && ask.paced)) return;
            }
            if (!ask.stream) {
                long delay = ask.paced ? ask.ttftNanos + ask.chunks * ask.gapNanos : 0;
                if (delay <= 0) {
                    done(ctx, ctx.write(dup(s.jsonFull)), p.keepAlive, true);
                } else {
                    timer = ctx.executor().schedule(() -> done(ctx, ctx.write(dup(s.jsonFull)), p.keepAlive, true), delay, TimeUnit.NANOSECONDS);
                }
                return;
            }
            if (!ask.paced) {
                done(ctx, ctx.write(dup(s.streamFull)), p.keepAlive, true);
                return;
            }
            ctx.writeAndFlush(dup(s.streamHead));
            new PacedStream(ctx, s, ask, p.keepAlive).start();
        }

        /** Ends the connection with an RST (SO_LINGER 0), as a crashed server or a middlebox does. */
        private void reset(ChannelHandlerContext ctx) {
            timer = null;
            queue.clear();
            busy = true; // nothing more on this connection
            if (!ctx.channel().isActive()) return;
            ctx.channel().config().setOption(ChannelOption.SO_LINGER, 0);
            ctx.close();
        }

        private void done(ChannelHandlerContext ctx, io.netty.channel.ChannelFuture write, boolean keepAlive, boolean flush) {
            timer = null;
            currentTrial = null;
            if (flush) ctx.flush();
            if (!keepAlive) {
                write.addListener(ChannelFutureListener.CLOSE);
                queue.clear();
                busy = true; // nothing more on this connection
                return;
            }
            next(ctx);
        }

        /**
         * Writes events[0] (role) and events[1] (first content) at ttft, each further content chunk one gap later,
         * then finish, usage, [DONE] and the terminating chunk one gap after the last content. Deadlines are absolute
         * so scheduling delays do not accumulate.
         */
        private final class PacedStream implements Runnable {
            private final ChannelHandlerContext ctx;
            private final Script s;
            private final Ask ask;
            private final boolean keepAlive;
            private final long start = System.nanoTime();
            private int step; // 0: role + first content; 1..chunks-1: content; chunks: the tail

            PacedStream(ChannelHandlerContext ctx, Script s, Ask ask, boolean keepAlive) {
                this.ctx = ctx;
                this.s = s;
                this.ask = ask;
                this.keepAlive = keepAlive;
            }

            void start() {
                schedule();
            }

            private void schedule() {
                long deadline = start + ask.ttftNanos + step * ask.gapNanos;
                long delay = deadline - System.nanoTime();
                if (delay <= 0) {
                    run();
                } else {
                    timer = ctx.executor().schedule(this, delay, TimeUnit.NANOSECONDS);
                }
            }

            @Override
            public void run() {
                if (!ctx.channel().isActive()) return;
                int chunks = ask.chunks;
                if (ask.fault == Faults.Kind.MID_RESET && step == Math.max(1, chunks / 2)) {
                    reset(ctx);
                    return;
                }
                if (currentTrial != null && step < chunks) currentTrial.chunksSent = step + 1;
                if (step == 0) {
                    long now = System.nanoTime();
                    ctx.write(stamped(s.events[0], now, start));
                    if (chunks > 0) ctx.write(stamped(s.events[1], now, start));
                    if (chunks > 0) {
                        ctx.flush();
                        step = 1;
                        schedule();
                        return;
                    }
                    step = chunks; // no content: fall through to the tail
                }
                if (step < chunks) {
                    ctx.writeAndFlush(dup(s.events[1 + step]));
                    step++;
                    schedule();
                    return;
                }
                io.netty.channel.ChannelFuture last = null;
                for (int i = 1 + chunks; i < s.events.length; i++) last = ctx.write(dup(s.events[i]));
                done(ctx, last, keepAlive, true);
            }
        }

        @Override
        public void channelInactive(ChannelHandlerContext ctx) throws Exception {
            long now = System.nanoTime();
            if (currentTrial != null) currentTrial.closedNanos = now;
            if (timer != null) timer.cancel(false);
            queue.clear();
            super.channelInactive(ctx);
        }

        @Override
        public void exceptionCaught(ChannelHandlerContext ctx, Throwable cause) {
            ctx.close();
        }
    }
}
