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

    /** A request whose framing is refused: answered {@code status} with {@code message}, then the connection closes. */
    static final class BadFraming extends Exception {
        final int status;

        BadFraming(int status, String message) {
            super(message, null, false, false);
            this.status = status;
        }
    }

    /** Transfer codings of the IANA registry; any other is not implemented (501). */
    private static final Set<String> KNOWN_CODINGS = Set.of("chunked", "compress", "deflate", "gzip", "x-compress", "x-gzip");

    /** The methods of requests whose responses are still to be encoded, oldest first: a HEAD's response has no body. */
    private final ArrayDeque<HttpMethod> methods = new ArrayDeque<>();

    ServerCodec(int maxInitialLineLength, int maxHeaderSize, int maxChunkSize) {
        init(new Decoder(new HttpDecoderConfig().setMaxInitialLineLength(maxInitialLineLength).setMaxHeaderSize(maxHeaderSize)
                .setMaxChunkSize(maxChunkSize)), new Encoder());
    }

    private final class Decoder extends HttpRequestDecoder {
        /** Set while the message being decoded had both framings (Netty has removed its Content-Length by then). */
        private boolean bothFramings;

        Decoder(HttpDecoderConfig config) {
            super(config);
        }

        @Override
        protected void decode(ChannelHandlerContext ctx, ByteBuf buffer, List<Object> out) throws Exception {
            int before = out.size();
            super.decode(ctx, buffer, out);
            for (int i = before; i < out.size(); i++) {
                if (out.get(i) instanceof HttpRequest request) {
                    methods.add(request.method());
                    if (request.decoderResult().isSuccess()) {
                        var refused = refusedFraming(request, bothFramings);
                        if (refused != null) request.setDecoderResult(DecoderResult.failure(refused));
                    }
                    bothFramings = false;
                }
            }
        }

        @Override
        protected void handleTransferEncodingChunkedWithContentLength(HttpMessage message) {
            bothFramings = true;
            super.handleTransferEncodingChunkedWithContentLength(message); // still read the body as chunked, to be dropped
        }
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
        protected boolean isContentAlwaysEmpty(HttpResponse response) {
            // An interim answer (100 Continue) belongs to the request still being read, whose final answer comes later.
            if (response.status().codeClass() == HttpStatusClass.INFORMATIONAL) return super.isContentAlwaysEmpty(response);
            method = methods.poll();
            return HttpMethod.HEAD.equals(method) || super.isContentAlwaysEmpty(response);
        }
    }
}
