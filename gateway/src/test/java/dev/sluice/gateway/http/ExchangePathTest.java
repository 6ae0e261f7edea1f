package dev.sluice.gateway.http;

import static org.assertj.core.api.Assertions.assertThat;

import io.netty.handler.codec.http.QueryStringDecoder;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/** Routing sees the same path whether it was taken as it is or decoded. */
class ExchangePathTest {

    @ParameterizedTest
    @ValueSource(strings = {"/v1/chat/completions", "/v1/models?limit=2", "/v1/threads/thread_1/runs#x", "/v1/a+b", "/", "",
            "/v1/models/gpt%2D4o", "/v1/models/a%2Fb?x=%20", "/v1/x?", "http://host:8080/v1/models?x", "/v1/%E2%82%AC"})
    void pathIsWhatTheDecoderGives(String uri) {
        assertThat(Exchange.path(uri)).isEqualTo(new QueryStringDecoder(uri).path());
    }

    @org.junit.jupiter.api.Test
    void aMalformedEscapeLeavesThePathAsSent() {
        assertThat(Exchange.path("/v1/models/%zz?x=1")).isEqualTo("/v1/models/%zz");
    }
}
