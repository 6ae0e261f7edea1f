package dev.sluice.gateway.upstream;

import static java.nio.charset.StandardCharsets.ISO_8859_1;
import static org.assertj.core.api.Assertions.assertThat;

import io.netty.buffer.ByteBuf;
import io.netty.buffer.Unpooled;
import io.netty.handler.codec.http.HttpResponse;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;

/** The upstream response decoder on its own: framings, reads split anywhere, and what it refuses. */
class ResponseDecoderTest {

    /** Records what the decoder said; {@code stopAfter} content calls, it says stop. */
    private static final class Recorder implements ResponseDecoder.Sink {
        final List<String> events = new ArrayList<>();
        final List<HttpResponse> heads = new ArrayList<>();
        final StringBuilder body = new StringBuilder();
        int stopAfter = Integer.MAX_VALUE;
        String malformed;

        @Override
        public boolean head(HttpResponse head) {
            heads.add(head);
            events.add("head " + head.status().code());
            return true;
        }

        @Override
        public boolean content(ByteBuf slice) {
            body.append(slice.toString(ISO_8859_1));
            if (events.isEmpty() || !events.getLast().equals("content")) events.add("content");
            return --stopAfter > 0;
        }

        @Override
        public void end() {
            events.add("end");
        }

        @Override
        public void malformed(String message) {
            malformed = message;
            events.add("malformed");
        }
    }

    /** A decoder expecting a response to a HEAD request or not, fed {@code bytes} in one read. */
    private static ResponseDecoder fed(Recorder r, String bytes, boolean headRequest) {
        var d = new ResponseDecoder(r);
        d.expect(headRequest);
        var in = Unpooled.copiedBuffer(bytes, ISO_8859_1);
        d.decode(in);
        in.release();
        return d;
    }

    private static Recorder decodeWhole(String response, boolean headRequest) {
        var r = new Recorder();
        fed(r, response, headRequest);
        return r;
    }

    /** Every split of the bytes into reads (one byte at a time, and every two-read split) gives the same result. */
    private static Recorder decodeSplit(String response, int... cuts) {
        var r = new Recorder();
        var d = new ResponseDecoder(r);
        d.expect(false);
        int from = 0;
        for (int cut : cuts) {
            var in = Unpooled.copiedBuffer(response.substring(from, cut), ISO_8859_1);
            d.decode(in);
            assertThat(in.isReadable()).as("a read consumed whole mid-response").isFalse();
            in.release();
            from = cut;
        }
        var in = Unpooled.copiedBuffer(response.substring(from), ISO_8859_1);
        d.decode(in);
        in.release();
        return r;
    }

    private static final String CHUNKED = "HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nTransfer-Encoding: chunked\r\n\r\n"
            + "f\r\ndata: {\"n\":1}\n\n\r\n"
            + "F\r\ndata: {\"n\":2}\n\n\r\n"
            + "0\r\n\r\n";

    @Test
    void aChunkedBodyIsTheSameHoweverTheReadsAreCut() {
        var expected = "data: {\"n\":1}\n\ndata: {\"n\":2}\n\n";
        var whole = decodeWhole(CHUNKED, false);
        assertThat(whole.body.toString()).isEqualTo(expected);
        assertThat(whole.events).containsExactly("head 200", "content", "end");
        assertThat(whole.heads.getFirst().headers().get("content-type")).isEqualTo("text/event-stream");
        for (int cut = 1; cut < CHUNKED.length(); cut++) {
            var r = decodeSplit(CHUNKED, cut);
            assertThat(r.body.toString()).as("cut at %d", cut).isEqualTo(expected);
            assertThat(r.events.getLast()).as("cut at %d", cut).isEqualTo("end");
            assertThat(r.malformed).isNull();
        }
        var bytes = new int[CHUNKED.length() - 1];
        for (int i = 0; i < bytes.length; i++) bytes[i] = i + 1;
        var byByte = decodeSplit(CHUNKED, bytes);
        assertThat(byByte.body.toString()).isEqualTo(expected);
        assertThat(byByte.events.getLast()).isEqualTo("end");
    }

    @Test
    void chunkExtensionsAndTrailersAreAcceptedAndNotPassedOn() {
        var r = decodeWhole("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
                + "5;name=value\r\nhello\r\n6 ; x\r\n world\r\n0\r\nX-Trailer: 1\r\nX-Other: 2\r\n\r\n", false);
        assertThat(r.body.toString()).isEqualTo("hello world");
        assertThat(r.events).containsExactly("head 200", "content", "end");
    }

    @Test
    void aContentLengthBodyEndsAtItsLengthAndLeavesWhatFollowsUnread() {
        var r = new Recorder();
        var d = new ResponseDecoder(r);
        d.expect(false);
        var in = Unpooled.copiedBuffer("HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhelloEXTRA", ISO_8859_1);
        d.decode(in);
        assertThat(r.events).containsExactly("head 100", "head 200", "content", "end");
        assertThat(r.body.toString()).isEqualTo("hello");
        assertThat(in.toString(ISO_8859_1)).as("bytes past the response's end").isEqualTo("EXTRA");
        assertThat(d.idle()).isTrue();
        in.release();
    }

    @Test
    void responsesWithoutABody() {
        assertThat(decodeWhole("HTTP/1.1 200 OK\r\nContent-Length: 42\r\n\r\n", true).events).containsExactly("head 200", "end");
        assertThat(decodeWhole("HTTP/1.1 204 No Content\r\n\r\n", false).events).containsExactly("head 204", "end");
        assertThat(decodeWhole("HTTP/1.1 304 Not Modified\r\nContent-Length: 7\r\n\r\n", false).events).containsExactly("head 304", "end");
        assertThat(decodeWhole("HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n", false).events).containsExactly("head 200", "end");
    }

    @Test
    void transferEncodingOverridesContentLength() {
        var r = decodeWhole("HTTP/1.1 200 OK\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n", false);
        assertThat(r.body.toString()).isEqualTo("hello");
        assertThat(r.events.getLast()).isEqualTo("end");
        assertThat(r.heads.getFirst().headers().contains("content-length")).isFalse();
    }

    @Test
    void aBodyWithoutLengthOrWithANonChunkedCodingEndsWithTheClose() {
        for (var head : List.of("HTTP/1.1 200 OK\r\n\r\n", "HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip\r\n\r\n",
                "HTTP/1.0 200 OK\r\nContent-Type: text/plain\r\n\r\n")) {
            var r = new Recorder();
            var d = fed(r, head + "until the end", false);
            assertThat(r.events).as(head).containsExactly("head 200", "content");
            assertThat(d.closed()).as("the close ends it").isTrue();
            assertThat(r.events.getLast()).isEqualTo("end");
            assertThat(r.body.toString()).isEqualTo("until the end");
        }
    }

    @Test
    void aCloseThatCutsAFramedBodyShortIsNotAnEnd() {
        var r = new Recorder();
        var d = fed(r, "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n6\r\ndata: ", false);
        assertThat(d.closed()).isFalse();
        assertThat(r.events).doesNotContain("end");
    }

    @Test
    void aFoldedHeaderIsJoinedWithASpace() {
        var r = decodeWhole("HTTP/1.1 200 OK\r\nX-Long: one\r\n  two\r\n\tthree\r\nContent-Length: 0\r\n\r\n", false);
        assertThat(r.heads.getFirst().headers().get("x-long")).isEqualTo("one two three");
        assertThat(r.events.getLast()).isEqualTo("end");
    }

    @Test
    void leadingEmptyLinesBeforeTheStatusLineAreTolerated() {
        var r = decodeWhole("\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok", false);
        assertThat(r.events).containsExactly("head 200", "content", "end");
    }

    @Test
    void malformedResponsesAreRefusedWithAReason() {
        assertMalformed("HTTP/2 200 OK\r\n\r\n", "status line");
        assertMalformed("ICY 200 OK\r\n\r\n", "status line");
        assertMalformed("HTTP/1.1 20 OK\r\n\r\n", "status line");
        assertMalformed("HTTP/1.1 099 Odd\r\n\r\n", "status line");
        assertMalformed("HTTP/1.1 200 OK\r\nBad Header : x\r\n\r\n", "header");
        assertMalformed("HTTP/1.1 200 OK\r\nno-colon\r\n\r\n", "header line");
        assertMalformed("HTTP/1.1 200 OK\r\n folded-first\r\n\r\n", "continuation");
        assertMalformed("HTTP/1.1 200 OK\r\nContent-Length: 5, 6\r\n\r\nhello", "Content-Length");
        assertMalformed("HTTP/1.1 200 OK\r\nContent-Length: -1\r\n\r\n", "Content-Length");
        assertMalformed("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz-not-hex\r\n", "chunk size");
        assertMalformed("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n;ext\r\n", "chunk size");
        assertMalformed("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nffffffffffffffff\r\n", "too large");
        assertMalformed("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nhello\r\n", "longer than its size");
        assertMalformed("HTTP/1.1 200 OK\r\n" + "X: " + "a".repeat(ResponseDecoder.MAX_HEADER_BYTES) + "\r\n\r\n", "larger than");
        assertMalformed("HTTP/1.1 200 " + "O".repeat(ResponseDecoder.MAX_INITIAL_LINE) + "\r\n\r\n", "longer than");
    }

    private static void assertMalformed(String response, String reason) {
        var r = decodeWhole(response, false);
        assertThat(r.malformed).as(response.length() > 80 ? response.substring(0, 80) : response).isNotNull().contains(reason);
        assertThat(r.events).doesNotContain("end").endsWith("malformed");
        // Byte by byte, too: a limit holds across reads.
        var d = new ResponseDecoder(r = new Recorder());
        d.expect(false);
        for (int i = 0; i < response.length() && r.malformed == null; i++) {
            var in = Unpooled.copiedBuffer(response.substring(i, i + 1), ISO_8859_1);
            d.decode(in);
            in.release();
        }
        assertThat(r.malformed).isNotNull().contains(reason);
    }

    @Test
    void aSinkThatStopsStopsTheDecoding() {
        var r = new Recorder();
        r.stopAfter = 1;
        var d = new ResponseDecoder(r);
        d.expect(false);
        var in = Unpooled.copiedBuffer(CHUNKED, ISO_8859_1);
        d.decode(in);
        assertThat(r.events).containsExactly("head 200", "content");
        assertThat(r.body.toString()).isEqualTo("data: {\"n\":1}\n\n");
        assertThat(in.isReadable()).as("the rest is left unread").isTrue();
        in.release();
    }

    @Test
    void theDecoderIsReusedForTheNextResponseOnTheConnection() {
        var r = new Recorder();
        var d = new ResponseDecoder(r);
        for (int i = 0; i < 3; i++) {
            d.expect(false);
            var in = Unpooled.copiedBuffer(CHUNKED, ISO_8859_1);
            d.decode(in);
            assertThat(in.isReadable()).isFalse();
            in.release();
            assertThat(d.idle()).isTrue();
        }
        assertThat(r.events).containsExactly("head 200", "content", "end", "head 200", "content", "end", "head 200", "content", "end");
    }
}
