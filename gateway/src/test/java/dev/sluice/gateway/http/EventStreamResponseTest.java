package dev.sluice.gateway.http;

import static org.assertj.core.api.Assertions.assertThat;

import io.netty.buffer.ByteBuf;
import io.netty.channel.embedded.EmbeddedChannel;
import io.netty.handler.codec.http.DefaultHttpResponse;
import io.netty.handler.codec.http.HttpHeaderNames;
import io.netty.handler.codec.http.HttpHeaderValues;
import io.netty.handler.codec.http.HttpResponseStatus;
import io.netty.handler.codec.http.HttpVersion;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import org.junit.jupiter.api.Test;

/**
 * The event loop keeps the buffer of a batch the socket has taken for its next batch. A batch still queued in
 * the channel (a client that reads slowly) must never be reused: its bytes have not left yet.
 */
class EventStreamResponseTest {

    @Test
    void batchesStillQueuedInTheChannelKeepTheirOwnBytes() {
        // An EmbeddedChannel keeps what is written in its outbound queue, as a socket's send buffer does when full.
        var channel = new EmbeddedChannel(new ServerCodec(4096, 8192, 8192));
        var head = new DefaultHttpResponse(HttpVersion.HTTP_1_1, HttpResponseStatus.OK);
        head.headers().set(HttpHeaderNames.TRANSFER_ENCODING, HttpHeaderValues.CHUNKED);
        var sse = new EventStreamResponse(channel, new ChannelState(channel), head, Duration.ofSeconds(15), true, () -> {});
        for (var frame : new String[] {"data: one\n\n", "data: two\n\n", "data: three\n\n"}) {
            assertThat(sse.queue(frame.getBytes(StandardCharsets.UTF_8))).isTrue();
            assertThat(sse.flush()).isTrue();
        }
        sse.end();
        channel.runPendingTasks();

        var written = new ArrayList<String>();
        var seen = new ArrayList<ByteBuf>();
        for (Object msg; (msg = channel.readOutbound()) != null; ) {
            var buf = (ByteBuf) msg;
            assertThat(seen).noneMatch(b -> b == buf); // the same buffer twice would mean it was reused while queued
            seen.add(buf);
            written.add(buf.toString(StandardCharsets.US_ASCII));
        }
        var wire = String.join("", written);
        assertThat(wire.substring(wire.indexOf("\r\n\r\n") + 4))
                .isEqualTo("b\r\ndata: one\n\n\r\n" + "b\r\ndata: two\n\n\r\n" + "d\r\ndata: three\n\n\r\n" + "0\r\n\r\n");
        seen.forEach(ByteBuf::release);
        channel.finishAndReleaseAll();
    }
}
