package dev.sluice.gateway.http;

import static java.nio.charset.StandardCharsets.ISO_8859_1;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatIllegalArgumentException;

import io.netty.buffer.ByteBuf;
import io.netty.buffer.PooledByteBufAllocator;
import java.nio.charset.StandardCharsets;
import java.util.LinkedHashMap;
import java.util.Map;
import org.junit.jupiter.api.Test;

class EncodedResponseTest {

    private static final PooledByteBufAllocator ALLOC = PooledByteBufAllocator.DEFAULT;

    private static ByteBuf body(String json) {
        var buf = EncodedResponse.reserveHead(ALLOC, 64);
        buf.writeCharSequence(json, StandardCharsets.UTF_8);
        return buf;
    }

    private static String text(EncodedResponse r) {
        return r.content().toString(ISO_8859_1);
    }

    @Test
    void theHeadGoesInFrontOfTheBodyInTheBodysOwnBuffer() {
        var content = body("{\"ok\":true}");
        var r = EncodedResponse.of(ALLOC, 200, "application/json", content, "req_1", Map.of("x-sluice-deployment", "up/m"), h -> {}, true);
        try {
            assertThat(r.content()).as("written in place, not copied").isSameAs(content);
            assertThat(text(r)).isEqualTo("HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: 11\r\nx-request-id: req_1\r\n"
                    + "x-sluice-deployment: up/m\r\n\r\n{\"ok\":true}");
            assertThat(r.content().toString(r.content().readerIndex(), r.headLength(), ISO_8859_1)).endsWith("\r\n\r\n");
        } finally {
            r.release();
        }
    }

    @Test
    void aHeadLongerThanTheRoomLeftForItIsCopiedWithTheBody() {
        var content = body("{}");
        var many = new LinkedHashMap<String, String>();
        for (int i = 0; i < 20; i++) many.put("x-long-" + i, "v".repeat(40));
        var r = EncodedResponse.of(ALLOC, 429, "application/json", content, "req_2", many, h -> h.header("vary", "origin"), false);
        try {
            assertThat(content.refCnt()).as("the body's buffer, copied, is released").isZero();
            assertThat(r.headLength()).isGreaterThan(EncodedResponse.HEAD_ROOM);
            assertThat(text(r)).startsWith("HTTP/1.1 429 Too Many Requests\r\n").contains("x-long-19: " + "v".repeat(40) + "\r\n")
                    .endsWith("vary: origin\r\nconnection: close\r\n\r\n{}");
        } finally {
            r.release();
        }
    }

    @Test
    void aHeaderThatWouldSplitTheResponseIsRefusedAndNothingLeaks() {
        // As Netty's header map refused them before answers were written as bytes: controls but tab, non-token or empty
        // names; and characters that are not one byte each.
        for (var bad : java.util.List.of(Map.of("Retry-After", "1\r\nSet-Cookie: x"), Map.of("bad name", "v"), Map.of("", "v"),
                Map.of("x", "\u0000"), Map.of("x", "a\u0001b"), Map.of("x", "a\u007fb"), Map.of("x", "\u263a"))) {
            var content = body("{}");
            assertThatIllegalArgumentException().isThrownBy(
                    () -> EncodedResponse.of(ALLOC, 502, "application/json", content, "req_3", bad, h -> {}, true));
            assertThat(content.refCnt()).isZero();
        }
    }
}
