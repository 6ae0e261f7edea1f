package dev.sluice.gateway.upstream;

import static java.nio.charset.StandardCharsets.ISO_8859_1;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatIllegalArgumentException;

import java.util.LinkedHashMap;
import java.util.Map;
import org.junit.jupiter.api.Test;

class RequestHeadTest {

    private static Map<String, String> headers(String... nameValues) {
        var m = new LinkedHashMap<String, String>();
        for (int i = 0; i < nameValues.length; i += 2) m.put(nameValues[i], nameValues[i + 1]);
        return m;
    }

    @Test
    void aRequestHeadIsTheRequestLineHostTheHeadersInOrderAndTheLength() {
        var head = RequestHead.of("POST", "/v1/chat/completions?x=1", headers("Authorization", "Bearer sk-test", "Content-Type", "application/json"),
                "api.example.com:8443", 15);
        assertThat(new String(head.bytes(), ISO_8859_1)).isEqualTo("POST /v1/chat/completions?x=1 HTTP/1.1\r\n"
                + "Host: api.example.com:8443\r\n"
                + "Authorization: Bearer sk-test\r\n"
                + "Content-Type: application/json\r\n"
                + "Content-Length: 15\r\n"
                + "\r\n");
        assertThat(head.keepAlive()).isTrue();
    }

    @Test
    void aGivenHostIsKeptAndGivenFramingHeadersAreReplacedByTheBodysLength() {
        var head = RequestHead.of("POST", "/", headers("host", "proxy.internal", "Content-Length", "999", "Transfer-Encoding", "chunked"),
                "127.0.0.1:1", 2);
        assertThat(new String(head.bytes(), ISO_8859_1)).isEqualTo("POST / HTTP/1.1\r\nhost: proxy.internal\r\nContent-Length: 2\r\n\r\n");
        var get = RequestHead.of("GET", "/v1/models", Map.of(), "h", null);
        assertThat(new String(get.bytes(), ISO_8859_1)).as("no body, no length").isEqualTo("GET /v1/models HTTP/1.1\r\nHost: h\r\n\r\n");
    }

    @Test
    void aProvidersHeadIsEncodedOnceAndEachRequestAddsItsOwnLength() {
        var http = new UpstreamHttp(java.time.Duration.ofSeconds(1), null);
        var uri = java.net.URI.create("http://127.0.0.1:9/v1/chat/completions");
        var map = java.util.Collections.unmodifiableMap(headers("Authorization", "Bearer a"));
        var first = new UpstreamHttp.Request("POST", uri, map, new byte[3], null, null, null);
        var second = new UpstreamHttp.Request("POST", uri, map, new byte[12], null, null, null);
        var target = UpstreamHttp.Target.of(first);
        assertThat(http.head(second, target)).as("the same map and URI: the same encoded prefix").isSameAs(http.head(first, target));
        assertThat(new String(http.head(second, target).withLength(12).bytes(), ISO_8859_1)).isEqualTo(
                "POST /v1/chat/completions HTTP/1.1\r\nHost: 127.0.0.1:9\r\nAuthorization: Bearer a\r\nContent-Length: 12\r\n\r\n");
        // Another map (a forwarded client key), another URI or method: encoded for what it holds, never the last one's.
        var forwarded = new UpstreamHttp.Request("POST", uri, headers("Authorization", "Bearer b"), new byte[3], null, null, null);
        assertThat(new String(http.head(forwarded, target).bytes(), ISO_8859_1)).contains("Authorization: Bearer b\r\n").doesNotContain("Bearer a");
        var models = new UpstreamHttp.Request("GET", java.net.URI.create("http://127.0.0.1:9/v1/models"), map, null, null, null, null);
        assertThat(new String(http.head(models, target).withLength(null).bytes(), ISO_8859_1))
                .isEqualTo("GET /v1/models HTTP/1.1\r\nHost: 127.0.0.1:9\r\nAuthorization: Bearer a\r\n\r\n");
        var put = new UpstreamHttp.Request("PUT", uri, map, new byte[1], null, null, null);
        assertThat(new String(http.head(put, target).bytes(), ISO_8859_1)).startsWith("PUT ");
        http.close();
    }

    @Test
    void connectionCloseAskedForIsNoKeepAlive() {
        assertThat(RequestHead.of("GET", "/", headers("Connection", "Upgrade, CLOSE"), "h", null).keepAlive()).isFalse();
        assertThat(RequestHead.of("GET", "/", headers("Connection", "keep-alive"), "h", null).keepAlive()).isTrue();
    }

    @Test
    void whatCannotBeSentSafelyIsRefused() {
        assertThatIllegalArgumentException().isThrownBy(() -> RequestHead.of("GET", "/", headers("X-Evil", "a\r\nHost: b"), "h", null));
        assertThatIllegalArgumentException().isThrownBy(() -> RequestHead.of("GET", "/", headers("X-Nul", "a\0b"), "h", null));
        assertThatIllegalArgumentException().isThrownBy(() -> RequestHead.of("GET", "/", headers("Bad Name", "x"), "h", null));
        assertThatIllegalArgumentException().isThrownBy(() -> RequestHead.of("GET", "/", headers("X-Null", null), "h", null));
        assertThatIllegalArgumentException().isThrownBy(() -> RequestHead.of("GET", "/", headers("X-Emoji", "🦊"), "h", null));
        assertThatIllegalArgumentException().isThrownBy(() -> RequestHead.of("GE T", "/", Map.of(), "h", null));
        assertThatIllegalArgumentException().isThrownBy(() -> RequestHead.of("", "/", Map.of(), "h", null));
    }

    @Test
    void aNonAsciiPathIsSentAsUtf8() {
        var head = RequestHead.of("GET", "/v1/köln?q=ü", Map.of(), "h", null);
        assertThat(new String(head.bytes(), java.nio.charset.StandardCharsets.UTF_8)).startsWith("GET /v1/köln?q=ü HTTP/1.1\r\n");
    }

    @Test
    void latin1ValuesAreSentAsTheirBytes() {
        var head = RequestHead.of("GET", "/", headers("X-Name", "Köln"), "h", null);
        assertThat(new String(head.bytes(), ISO_8859_1)).contains("X-Name: Köln\r\n");
    }
}
