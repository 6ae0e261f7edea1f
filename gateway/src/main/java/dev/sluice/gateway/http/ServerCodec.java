package dev.sluice.gateway.http;

import io.netty.buffer.ByteBuf;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.CombinedChannelDuplexHandler;
import io.netty.handler.codec.DecoderResult;
import io.netty.handler.codec.http.HttpDecoderConfig;
import io.netty.handler.codec.http.HttpHeaderNames;
import io.netty.handler.codec.http.HttpMessage;
import io.netty.handler.codec.http.HttpMethod;
import io.netty.handler.codec.http.HttpRequest;
import io.netty.handler.codec.http.HttpRequestDecoder;
import io.netty.handler.codec.http.HttpResponse;
import io.netty.handler.codec.http.HttpResponseEncoder;
import io.netty.handler.codec.http.HttpStatusClass;
import java.util.ArrayDeque;
import java.util.List;
import java.util.Locale;
import java.util.Set;

/**
 * Netty's HttpServerCodec, plus the refusal of request framings that smuggling relies on (RFC 9112 §6): a request
 * with both Content-Length and Transfer-Encoding, a Transfer-Encoding whose last coding is not chunked, or one
 * with a coding this server does not know. Netty's codec silently drops the Content-Length and reads the body as
 * chunked, so a proxy in front that honoured the Content-Length would see a different request boundary; and its
 * decoder gives no other hook for it, hence this copy of the (small) codec. Such a request reaches the pipeline
 * marked failed with a {@link BadFraming} cause; it is answered with an error and the connection closes.
 */
final class ServerCodec extends CombinedChannelDuplexHandler<HttpRequestDecoder, HttpResponseEncoder> {

    /**
     * A request refused before it is read whole (its framing, its head's size, its HTTP version): answered
     * {@code status} with {@code message} and {@code code}, then the connection closes.
     */
    static final class BadFraming extends Exception {
        final int status;
        final String code;

        BadFraming(int status, String message) {
            this(status, message, status == 501 ? "unsupported_transfer_encoding" : "invalid_framing");
        }

        BadFraming(int status, String message, String code) {
            super(message, null, false, false);
            this.status = status;
            this.code = code;
        }
    }

    /** Transfer codings of the IANA registry; any other is not implemented (501). */
    private static final Set<String> KNOWN_CODINGS = Set.of("chunked", "compress", "deflate", "gzip", "x-compress", "x-gzip");

    /** The methods of requests whose responses are still to be encoded, oldest first: a HEAD's response has no body. */
    private final ArrayDeque<HttpMethod> methods = new ArrayDeque<>();

    private final int maxInitialLineLength;
    private final int maxHeaderSize;

    ServerCodec(int maxInitialLineLength, int maxHeaderSize, int maxChunkSize) {
        this.maxInitialLineLength = maxInitialLineLength;
        this.maxHeaderSize = maxHeaderSize;
        init(new Decoder(new HttpDecoderConfig().setMaxInitialLineLength(maxInitialLineLength).setMaxHeaderSize(maxHeaderSize)
                .setMaxChunkSize(maxChunkSize)), new Encoder());
    }

    private final class Decoder extends HttpRequestDecoder {
        /** Set while the message being decoded had both framings (Netty has removed its Content-Length by then). */
        private boolean bothFramings;
        /** Whether anything was read on this connection yet: its first bytes tell a TLS client apart. */
        private boolean started;
        /** Set once the connection's bytes are known not to be HTTP/1.x: the rest is dropped unread. */
        private boolean refusedAll;

        Decoder(HttpDecoderConfig config) {
            super(config);
        }

        @Override
        protected void decode(ChannelHandlerContext ctx, ByteBuf buffer, List<Object> out) throws Exception {
            if (refusedAll) {
                buffer.skipBytes(buffer.readableBytes());
                return;
            }
            if (!started && buffer.isReadable()) {
                started = true;
                // A TLS handshake record (0x16, then version 3.x): a client speaking https:// to this plain port. Netty's
                // decoder would wait for a line end that never comes until the request timeout (a minute of a hung
                // client); answering at once makes its TLS library fail at once ("wrong version number").
                if (buffer.getByte(buffer.readerIndex()) == 0x16 && (buffer.readableBytes() < 2 || buffer.getByte(buffer.readerIndex() + 1) == 0x03)) {
                    refuseAll(buffer, out, new BadFraming(400, "This port serves plain HTTP, not TLS: use an http:// URL.", "tls_on_plain_http_port"));
                    return;
                }
            }
            int before = out.size();
            super.decode(ctx, buffer, out);
            for (int i = before; i < out.size(); i++) {
                if (out.get(i) instanceof HttpRequest request) {
                    methods.add(request.method());
                    // RFC 9112 §6.1: an HTTP/1.0 message with Transfer-Encoding has faulty framing (1.0 knows no chunked
                    // coding, a hop before may have read it otherwise): answered, then the connection closes, so nothing
                    // after it is taken as a next request. Before the keep-alive handler sees the request.
                    if (request.protocolVersion().equals(io.netty.handler.codec.http.HttpVersion.HTTP_1_0)
                            && request.headers().contains(HttpHeaderNames.TRANSFER_ENCODING)) {
                        io.netty.handler.codec.http.HttpUtil.setKeepAlive(request, false);
                    }
                    var refused = request.decoderResult().isSuccess() ? refused(request, bothFramings) : refusedHead(request.decoderResult().cause());
                    if (refused != null) request.setDecoderResult(DecoderResult.failure(refused));
                    bothFramings = false;
                }
            }
        }

        /** Answers the connection's bytes with one refused request and drops everything after them. */
        private void refuseAll(ByteBuf buffer, List<Object> out, BadFraming refusal) {
            refusedAll = true;
            buffer.skipBytes(buffer.readableBytes());
            var request = new io.netty.handler.codec.http.DefaultFullHttpRequest(io.netty.handler.codec.http.HttpVersion.HTTP_1_0, HttpMethod.GET, "/");
            request.setDecoderResult(DecoderResult.failure(refusal));
            methods.add(request.method());
            out.add(request);
        }

        /**
         * Netty's failure for a request line or header section over the limit, as the status RFC 9110 has for it
         * (414, 431) instead of a bare 400. Only a request's head fails with them here: a chunk-size line too long
         * fails the body's chunk, not the request.
         */
        private BadFraming refusedHead(Throwable cause) {
            return switch (cause) {
                case io.netty.handler.codec.http.TooLongHttpLineException line -> new BadFraming(414,
                        "Request line too long: the limit is " + maxInitialLineLength + " bytes for the method, URL and version.", "uri_too_long");
                case io.netty.handler.codec.http.TooLongHttpHeaderException head -> new BadFraming(431,
                        "Request header fields too large: the limit is " + maxHeaderSize + " bytes for all headers together.", "request_header_fields_too_large");
                case null, default -> null;
            };
        }

        @Override
        protected void handleTransferEncodingChunkedWithContentLength(HttpMessage message) {
            bothFramings = true;
            super.handleTransferEncodingChunkedWithContentLength(message); // still read the body as chunked, to be dropped
        }
    }

    /**
     * A request this server cannot take as HTTP/1.x: another major version (the HTTP/2 connection preface
     * {@code PRI * HTTP/2.0}, a client speaking HTTP/2 or 3 with prior knowledge) is 505 (RFC 9110 §15.6.6); a
     * minor version above 1 is served as HTTP/1.1, as RFC 9110 §2.5 says. Else its framing, as below.
     */
    static BadFraming refused(HttpRequest request, boolean bothFramings) {
        if (request.protocolVersion().majorVersion() != 1) {
            return new BadFraming(505, "HTTP version " + request.protocolVersion().text() + " is not supported: this server speaks HTTP/1.1.",
                    "http_version_not_supported");
        }
        return refusedFraming(request, bothFramings);
    }

    static BadFraming refusedFraming(HttpRequest request, boolean bothFramings) {
        var headers = request.headers();
        if (!headers.contains(HttpHeaderNames.TRANSFER_ENCODING)) return null;
        if (bothFramings || headers.contains(HttpHeaderNames.CONTENT_LENGTH)) {
            return new BadFraming(400, "A request may not have both Content-Length and Transfer-Encoding.");
        }
        var codings = headers.getAll(HttpHeaderNames.TRANSFER_ENCODING).stream()
                .flatMap(v -> java.util.Arrays.stream(v.split(",")))
                .map(c -> c.trim().toLowerCase(Locale.ROOT))
                .filter(c -> !c.isEmpty())
                .toList();
        for (var coding : codings) {
            var name = coding.contains(";") ? coding.substring(0, coding.indexOf(';')).trim() : coding;
            if (!KNOWN_CODINGS.contains(name)) {
                return new BadFraming(501, "Transfer-Encoding '" + name + "' is not implemented: only chunked request bodies are accepted.");
            }
        }
        if (codings.isEmpty() || !codings.getLast().equals("chunked") || codings.indexOf("chunked") != codings.size() - 1) {
            return new BadFraming(400, "Transfer-Encoding must end with chunked, applied once: the request body's length cannot be determined.");
        }
        if (codings.size() > 1) {
            // gzip or deflate under chunked: a compressed body this server does not decode.
            return new BadFraming(501, "Transfer-Encoding '" + String.join(", ", codings) + "' is not implemented: only chunked request bodies are accepted.");
        }
        return null;
    }

    private final class Encoder extends HttpResponseEncoder {
        private HttpMethod method;

        @Override
        public void write(ChannelHandlerContext ctx, Object msg, io.netty.channel.ChannelPromise promise) throws Exception {
            if (msg instanceof EncodedResponse r) {
                // Already bytes: it takes its request's place in the order like any response; to a HEAD, the head alone.
                method = methods.poll();
                var bytes = r.content();
                if (HttpMethod.HEAD.equals(method)) bytes.writerIndex(bytes.readerIndex() + r.headLength());
                ctx.write(bytes, promise);
                return;
            }
            super.write(ctx, msg, promise);
        }

        @Override
        protected boolean isContentAlwaysEmpty(HttpResponse response) {
            // An interim answer (100 Continue) belongs to the request still being read, whose final answer comes later.
            if (response.status().codeClass() == HttpStatusClass.INFORMATIONAL) return super.isContentAlwaysEmpty(response);
            method = methods.poll();
            return HttpMethod.HEAD.equals(method) || super.isContentAlwaysEmpty(response);
        }
    }
}
