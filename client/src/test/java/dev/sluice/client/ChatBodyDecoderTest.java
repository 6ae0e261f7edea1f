package dev.sluice.client;

import static org.assertj.core.api.Assertions.assertThat;

import dev.sluice.wire.chat.StreamEvent;
import dev.sluice.wire.sse.SseDecoder;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;

/** The one reading of a chat answer's body, shared by the SDK's stream and the gateway's event-loop relay. */
class ChatBodyDecoderTest {

    final List<StreamEvent> events = new ArrayList<>();
    final ChatBodyDecoder decoder = new ChatBodyDecoder(events::add);

    static byte[] utf8(String s) {
        return s.getBytes(StandardCharsets.UTF_8);
    }

    @Test
    void aStreamIsDecodedAsItComesAndIsCompleteAtDone() {
        var chunk = "data: {\"id\":\"c\",\"object\":\"chat.completion.chunk\",\"created\":1,\"model\":\"m\",\"choices\":[{\"index\":0,\"delta\":{\"content\":\"Hi\"},\"finish_reason\":null}]}\n\n";
        var bytes = utf8(chunk);
        assertThat(decoder.feed(bytes, 0, 40)).isTrue(); // split mid-chunk: nothing yet
        assertThat(events).noneMatch(e -> e instanceof StreamEvent.TextDelta);
        assertThat(decoder.feed(ByteBuffer.wrap(bytes, 40, bytes.length - 40))).isTrue();
        assertThat(events).contains(new StreamEvent.TextDelta(0, "Hi"));
        assertThat(decoder.completed()).isFalse();
        assertThat(decoder.feed(utf8("data: [DONE]\n\n"), 0, 14)).isTrue();
        assertThat(decoder.completed()).isTrue();
        assertThat(decoder.malformed()).isFalse();
    }

    @Test
    void aLineBeyondTheFramingLimitIsOneErrorEventAndNothingMoreIsRead() {
        var line = new byte[SseDecoder.DEFAULT_MAX_LINE_BYTES + 10];
        java.util.Arrays.fill(line, (byte) 'x');
        var buffer = ByteBuffer.wrap(line);
        assertThat(decoder.feed(buffer)).isFalse();
        assertThat(buffer.hasRemaining()).as("the buffer is consumed either way").isFalse();
        assertThat(events).singleElement().isInstanceOfSatisfying(StreamEvent.Error.class, e -> {
            assertThat(e.error().code()).isEqualTo("bad_upstream_response");
            assertThat(e.error().message()).startsWith("Malformed stream from upstream: ");
        });
        assertThat(decoder.malformed()).isTrue();
        assertThat(decoder.completed()).isTrue();
        assertThat(decoder.feed(utf8("data: [DONE]\n\n"), 0, 14)).isFalse();
        decoder.end();
        assertThat(events).hasSize(1);
    }

    @Test
    void aCompletionAboveTheLimitIsAnErrorEventNotParsed() {
        var body = utf8("{\"id\":\"c\",\"object\":\"chat.completion\",\"choices\":[]}");
        decoder.completion(body, 0, ChatBodyDecoder.MAX_COMPLETION_BYTES + 1);
        assertThat(events).singleElement().isInstanceOfSatisfying(StreamEvent.Error.class,
                e -> assertThat(e.error().message()).isEqualTo("The upstream's completion is larger than " + ChatBodyDecoder.MAX_COMPLETION_BYTES + " bytes."));
        assertThat(decoder.completed()).isTrue();
    }

    @Test
    void aCompletionWithinTheLimitGivesTheEventsOfItsStream() {
        var body = utf8("{\"id\":\"c\",\"object\":\"chat.completion\",\"created\":1,\"model\":\"m\",\"choices\":[{\"index\":0,"
                + "\"message\":{\"role\":\"assistant\",\"content\":\"Hello\"},\"finish_reason\":\"stop\"}]}");
        decoder.completion(body, 0, body.length);
        assertThat(events).contains(new StreamEvent.TextDelta(0, "Hello"), new StreamEvent.Finish(0, "stop"));
        assertThat(decoder.completed()).isTrue();
        assertThat(decoder.malformed()).isFalse();
    }

    @Test
    void jsonContentTypesAreReadWhole() {
        assertThat(ChatBodyDecoder.isJson("application/json")).isTrue();
        assertThat(ChatBodyDecoder.isJson("Application/JSON; charset=utf-8")).isTrue();
        assertThat(ChatBodyDecoder.isJson("application/problem+json")).isTrue();
        assertThat(ChatBodyDecoder.isJson("text/event-stream")).isFalse();
        assertThat(ChatBodyDecoder.isJson("text/plain")).isFalse();
    }
}
