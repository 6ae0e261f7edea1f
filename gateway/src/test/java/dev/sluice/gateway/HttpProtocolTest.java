package dev.sluice.gateway;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import dev.sluice.wire.json.Json;
import dev.sluice.wire.openapi.OpenApiValidator;
import java.io.InputStream;
import java.net.Socket;
import java.net.URI;
import java.nio.charset.StandardCharsets;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/** HTTP/1.1 protocol edges, over raw sockets: what a client may send that java.net.http never would. */
class HttpProtocolTest {

    static TestGateway gw;

    @BeforeAll
    static void start() throws Exception {
        gw = TestGateway.yaml("""
                limits:
                  max_body_bytes: 4096
                """);
    }

    @AfterAll
    static void stop() {
        gw.close();
    }

    @ParameterizedTest(name = "{0} -> {1}")
    @CsvSource(delimiter = '|', textBlock = """
            /v1/assistants?limit=%zz                                | limit
            /v1/assistants?after=%                                  | after
            /v1/assistants?limit=1%                                 | limit
            /v1/assistants?order=asc&before=%4                      | before
            /v1/threads/thread_x/messages?limit=%zz                 | limit
            /v1/threads/thread_x/runs?after=%zz                     | after
            /v1/responses/resp_x?stream=true&starting_after=%zz     | starting_after
            /v1/responses/resp_x/input_items?after=%zz              | after
            """)
    void malformedPercentEscapeInTheQueryIs400NamingTheParameter(String target, String param) throws Exception {
        var answer = exchange("GET " + target + " HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
        assertThat(answer).startsWith("HTTP/1.1 400 ");
        var json = errorBody(answer);
        assertThat(json.at("/error/type").asText()).isEqualTo("invalid_request_error");
        assertThat(json.at("/error/param").asText()).isEqualTo(param);
        assertThat(json.at("/error/message").asText()).contains(param).doesNotContain("Exception");
    }

    static final String CHAT = "{\"model\":\"sim/echo\",\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}]}";

    /** Counts the responses in what was read. */
    static int responses(String answer) {
        return answer.split("HTTP/1\\.[01] \\d{3} ", -1).length - 1;
    }

    @ParameterizedTest(name = "{0} -> {1}")
    @CsvSource(delimiter = '|', textBlock = """
            Content-Length: 5\\r\\nTransfer-Encoding: chunked  | 400 | invalid_framing
            Transfer-Encoding: chunked\\r\\nContent-Length: 5  | 400 | invalid_framing
            Transfer-Encoding: gzip                             | 400 | invalid_framing
            Transfer-Encoding: chunked, gzip                    | 400 | invalid_framing
            Transfer-Encoding: xchunked                         | 501 | unsupported_transfer_encoding
            Transfer-Encoding: chunked\\r\\nTransfer-Encoding: x  | 501 | unsupported_transfer_encoding
            """)
    void ambiguousFramingIsRefusedAndTheConnectionCloses(String framing, int status, String code) throws Exception {
        // A request hidden in the body: a server that reads the body as chunked and keeps the connection would answer it.
        var smuggled = "GET /v1/models HTTP/1.1\r\nHost: x\r\n\r\n";
        var answer = exchange("POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                + framing.replace("\\r\\n", "\r\n") + "\r\n\r\n0\r\n\r\n" + smuggled);
        assertThat(answer).startsWith("HTTP/1.1 " + status + " ").containsIgnoringCase("connection: close");
        assertThat(responses(answer)).isEqualTo(1);
        var json = errorBody(answer);
        assertThat(json.at("/error/code").asText()).isEqualTo(code);
        assertThat(json.at("/error/type").asText()).isEqualTo("invalid_request_error");
    }

    @org.junit.jupiter.api.Test
    void aChunkedBodyAloneIsStillAccepted() throws Exception {
        var chunked = Integer.toHexString(CHAT.length()) + "\r\n" + CHAT + "\r\n0\r\n\r\n";
        var answer = exchange("POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                + "Transfer-Encoding: chunked\r\nConnection: close\r\n\r\n" + chunked);
        assertThat(answer).startsWith("HTTP/1.1 200 ");
    }

    @org.junit.jupiter.api.Test
    void anHttp10RequestWithTransferEncodingIsAnsweredThenTheConnectionCloses() throws Exception {
        // RFC 9112 §6.1: its framing is faulty even when it parses; what follows it must not be served as a request.
        var chunked = Integer.toHexString(CHAT.length()) + "\r\n" + CHAT + "\r\n0\r\n\r\n";
        var answer = exchange("POST /v1/chat/completions HTTP/1.0\r\nConnection: keep-alive\r\nContent-Type: application/json\r\n"
                + "Transfer-Encoding: chunked\r\n\r\n" + chunked + "GET /v1/models HTTP/1.0\r\n\r\n");
        assertThat(answer).startsWith("HTTP/1.1 200 ").containsIgnoringCase("connection: close").contains("chat.completion");
        assertThat(responses(answer)).isEqualTo(1);
    }

    @org.junit.jupiter.api.RepeatedTest(3) // the reset was a race with the upload: one lucky pass proves little
    void aClientStillUploadingAnOversizedBodyReadsThe413NotAReset() throws Exception {
        // As an SDK sends a big request: no Expect, the whole body written while the gateway has already refused it.
        // Closing with the upload unread would reset the connection and the client would never see the 413.
        try (var socket = connect()) {
            var out = socket.getOutputStream();
            out.write(("POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: "
                    + (4 << 20) + "\r\n\r\n").getBytes(StandardCharsets.ISO_8859_1));
            var uploader = Thread.ofVirtual().start(() -> {
                var piece = new byte[64 * 1024];
                java.util.Arrays.fill(piece, (byte) 'x');
                try {
                    for (int i = 0; i < 64; i++) {
                        out.write(piece);
                        Thread.sleep(5);
                    }
                    socket.shutdownOutput();
                } catch (Exception stopped) {
                    // the gateway stopped reading: the client's write fails, as a client's would
                }
            });
            var answer = readAll(socket.getInputStream());
            uploader.join();
            assertThat(answer).startsWith("HTTP/1.1 413 ");
            assertThat(errorBody(answer).at("/error/code").asText()).isEqualTo("request_too_large");
        }
    }

    @org.junit.jupiter.api.Test
    void anOversizedBodyAnnouncedWithExpectGetsTheJson413() throws Exception {
        var answer = exchange("POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                + "Content-Length: 10000\r\nExpect: 100-continue\r\n\r\n");
        assertThat(answer).startsWith("HTTP/1.1 413 ").containsIgnoringCase("x-request-id: req_").containsIgnoringCase("connection: close");
        var json = errorBody(answer);
        assertThat(json.at("/error/code").asText()).isEqualTo("request_too_large");
        assertThat(json.at("/error/message").asText()).contains("4096");
    }

    @org.junit.jupiter.api.Test
    void anUnknownExpectationGetsAJson417() throws Exception {
        var answer = exchange("POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                + "Content-Length: 2\r\nExpect: 200-ok\r\n\r\n{}");
        assertThat(answer).startsWith("HTTP/1.1 417 ").containsIgnoringCase("x-request-id: req_");
        assertThat(errorBody(answer).at("/error/code").asText()).isEqualTo("expectation_failed");
    }

    @org.junit.jupiter.api.Test
    void aBodyWithinTheLimitAnnouncedWithExpectGets100ContinueThenItsAnswer() throws Exception {
        try (var socket = connect()) {
            var out = socket.getOutputStream();
            out.write(("POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nConnection: close\r\n"
                    + "Content-Length: " + CHAT.length() + "\r\nExpect: 100-continue\r\n\r\n").getBytes(StandardCharsets.ISO_8859_1));
            out.flush();
            var interim = new byte[25];
            int n = socket.getInputStream().readNBytes(interim, 0, interim.length);
            assertThat(new String(interim, 0, n, StandardCharsets.ISO_8859_1)).isEqualTo("HTTP/1.1 100 Continue\r\n\r\n");
            out.write(CHAT.getBytes(StandardCharsets.ISO_8859_1));
            assertThat(readAll(socket.getInputStream())).startsWith("HTTP/1.1 200 ").contains("chat.completion");
        }
    }

    @org.junit.jupiter.api.Test
    void headIsAnsweredAsGetWithoutABody() throws Exception {
        // HEAD then GET on one connection: the HEAD's answer must carry no body, or the GET's answer would be misread.
        var answer = exchange("HEAD /v1/models HTTP/1.1\r\nHost: x\r\n\r\nGET /v1/models HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
        assertThat(answer).startsWith("HTTP/1.1 200 ");
        assertThat(responses(answer)).isEqualTo(2);
        int headEnd = answer.indexOf("\r\n\r\n") + 4;
        var head = answer.substring(0, headEnd);
        assertThat(head).containsIgnoringCase("content-type: application/json").containsIgnoringCase("content-length: ");
        assertThat(answer.substring(headEnd)).startsWith("HTTP/1.1 200 ");
        assertThat(Json.parse(answer.substring(answer.indexOf("\r\n\r\n", headEnd) + 4)).at("/object").asText()).isEqualTo("list");
        // A HEAD of a GET route that answers an error is bodiless too.
        var missing = exchange("HEAD /v1/responses/resp_missing HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
        assertThat(missing).startsWith("HTTP/1.1 404 ").endsWith("\r\n\r\n");
    }

    @org.junit.jupiter.api.Test
    void headOfAnEventStreamIsItsHeadOnly() throws Exception {
        var created = gw.post("/responses", "{\"model\":\"sim/echo\",\"input\":\"hi\"}");
        assertThat(created.statusCode()).isEqualTo(200);
        var id = Json.parse(created.body()).at("/id").asText();
        // The events are written below the codec, which drops a HEAD's body only for what passes through it.
        var answer = exchange("HEAD /v1/responses/" + id + "?stream=true HTTP/1.1\r\nHost: x\r\n\r\n"
                + "GET /v1/models HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
        assertThat(answer).startsWith("HTTP/1.1 200 ");
        assertThat(responses(answer)).isEqualTo(2);
        int headEnd = answer.indexOf("\r\n\r\n") + 4;
        assertThat(answer.substring(0, headEnd)).containsIgnoringCase("content-type: text/event-stream");
        assertThat(answer.substring(headEnd)).startsWith("HTTP/1.1 200 ").contains("\"object\":\"list\"");
    }

    @ParameterizedTest(name = "{0} {1} -> Allow: {2}")
    @CsvSource(delimiter = '|', textBlock = """
            POST   | /v1/models                              | GET, HEAD
            GET    | /v1/chat/completions                    | POST
            HEAD   | /v1/chat/completions                    | POST
            DELETE | /v1/assistants                          | GET, HEAD, POST
            PUT    | /v1/assistants/asst_1                   | GET, HEAD, POST, DELETE
            GET    | /v1/threads                             | POST
            PUT    | /v1/threads/thread_1/messages           | GET, HEAD, POST
            GET    | /v1/threads/thread_1/runs/run_1/cancel  | POST
            POST   | /v1/threads/thread_1/runs/run_1/steps   | GET, HEAD
            PUT    | /v1/responses                           | POST
            POST   | /v1/responses/resp_1                    | GET, HEAD, DELETE
            POST   | /v1/responses/resp_1/input_items        | GET, HEAD
            POST   | /healthz                                | GET, HEAD
            DELETE | /healthz                                | GET, HEAD
            TRACE  | /healthz                                | GET, HEAD
            """)
    void methodNotAllowedSaysWhatIsAllowed(String method, String target, String allow) throws Exception {
        var answer = exchange(method + " " + target + " HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\nConnection: close\r\n\r\n");
        assertThat(answer).startsWith("HTTP/1.1 405 ");
        var head = answer.substring(0, answer.indexOf("\r\n\r\n") + 2);
        assertThat(head).containsIgnoringCase("\r\nallow: " + allow + "\r\n");
        if (!method.equals("HEAD")) assertThat(errorBody(answer).at("/error/code").asText()).isEqualTo("method_not_allowed");
    }

    @ParameterizedTest(name = "{0} {1}")
    @CsvSource(delimiter = '|', textBlock = """
            /v1/chat/completions | text/plain
            /v1/chat/completions | application/x-www-form-urlencoded
            /v1/chat/completions | multipart/form-data; boundary=xyz
            /v1/chat/completions | application/xml
            /v1/threads          | text/plain; charset=utf-8
            /v1/responses        | text/plain
            """)
    void aNonJsonContentTypeIs400UnsupportedContentType(String path, String contentType) throws Exception {
        var r = gw.http.send(java.net.http.HttpRequest.newBuilder(URI.create(gw.base().replace("/v1", "") + path))
                .header("Content-Type", contentType).POST(java.net.http.HttpRequest.BodyPublishers.ofString(CHAT)).build(),
                java.net.http.HttpResponse.BodyHandlers.ofString());
        assertThat(r.statusCode()).isEqualTo(400);
        var json = Json.parse(r.body());
        if (OpenApiValidator.available()) OpenApiValidator.shared().assertValid("ErrorResponse", json);
        var media = contentType.contains(";") ? contentType.substring(0, contentType.indexOf(';')) : contentType;
        assertThat(json.at("/error/message").asText()).isEqualTo("Unsupported content type: '" + media + "'. This API method only accepts "
                + "'application/json' requests, but you specified the header 'Content-Type: " + contentType + "'. Please try again with a supported content type.");
        assertThat(json.at("/error/type").asText()).isEqualTo("invalid_request_error");
        assertThat(json.at("/error/code").asText()).isEqualTo("unsupported_content_type");
        assertThat(json.at("/error/param").isNull()).isTrue();
    }

    @ParameterizedTest(name = "[{0}]")
    @CsvSource(delimiter = '|', textBlock = """
            Content-Type: application/json; charset=utf-8\\r\\n
            Content-Type: Application/JSON\\r\\n
            ''
            Content-Type: application/json\\r\\nContent-Encoding: identity\\r\\n
            """)
    void jsonAndAMissingContentTypeAreAccepted(String headers) throws Exception {
        var answer = exchange("POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nConnection: close\r\nContent-Length: " + CHAT.length() + "\r\n"
                + headers.replace("\\r\\n", "\r\n") + "\r\n" + CHAT);
        assertThat(answer).startsWith("HTTP/1.1 200 ");
    }

    @org.junit.jupiter.api.Test
    void aCompressedBodyIs415() throws Exception {
        var gzipped = new java.io.ByteArrayOutputStream();
        try (var gz = new java.util.zip.GZIPOutputStream(gzipped)) {
            gz.write(CHAT.getBytes(StandardCharsets.UTF_8));
        }
        var gzip = gw.http.send(java.net.http.HttpRequest.newBuilder(URI.create(gw.base() + "/chat/completions"))
                .header("Content-Type", "application/json").header("Content-Encoding", "gzip")
                .POST(java.net.http.HttpRequest.BodyPublishers.ofByteArray(gzipped.toByteArray())).build(), java.net.http.HttpResponse.BodyHandlers.ofString());
        assertThat(gzip.statusCode()).isEqualTo(415);
        assertThat(gzip.headers().firstValue("Accept-Encoding")).hasValue("identity");
        assertThat(Json.parse(gzip.body()).at("/error/code").asText()).isEqualTo("unsupported_content_encoding");
        var br = gw.post("/chat/completions", CHAT, java.util.Map.of("Content-Encoding", "br"));
        assertThat(br.statusCode()).isEqualTo(415);
        var json = Json.parse(br.body());
        if (OpenApiValidator.available()) OpenApiValidator.shared().assertValid("ErrorResponse", json);
        assertThat(json.at("/error/message").asText()).contains("'br'");
    }

    @ParameterizedTest(name = "[{0}]")
    @CsvSource(delimiter = '|', textBlock = """
            ''
            'Connection: keep-alive\\r\\n'
            """)
    void aStreamToAnHttp10ClientIsDelimitedByClosingTheConnection(String connection) throws Exception {
        var body = "{\"model\":\"sim/echo\",\"stream\":true,\"messages\":[{\"role\":\"user\",\"content\":\"one two three\"}]}";
        var answer = exchange("POST /v1/chat/completions HTTP/1.0\r\nHost: x\r\nContent-Type: application/json\r\n"
                + connection.replace("\\r\\n", "\r\n") + "Content-Length: " + body.length() + "\r\n\r\n" + body);
        assertThat(answer).startsWith("HTTP/1.1 200 ");
        int headEnd = answer.indexOf("\r\n\r\n") + 4;
        var head = answer.substring(0, headEnd).toLowerCase(java.util.Locale.ROOT);
        assertThat(head).doesNotContain("transfer-encoding").doesNotContain("content-length").contains("connection: close").contains("text/event-stream");
        // The raw SSE bytes, no chunk-size lines between them.
        var events = answer.substring(headEnd);
        assertThat(events).startsWith("data: {").endsWith("data: [DONE]\n\n");
        for (var frame : events.split("\n\n")) assertThat(frame).matches("(?s)(data: |: ).*");
    }

    @ParameterizedTest(name = "{0} -> {1}")
    @CsvSource(delimiter = '|', textBlock = """
            request line | 414 | uri_too_long
            headers      | 431 | request_header_fields_too_large
            """)
    void anOverLongHeadIsAnsweredWithItsStatusAndReadNotReset(String part, int status, String code) throws Exception {
        // The client is still sending its head when the gateway refuses it; closing with that unread would reset the
        // connection and the client would see "connection reset" instead of the answer. Three times: it is a race.
        for (int round = 0; round < 3; round++) {
            try (var socket = connect()) {
                var out = socket.getOutputStream();
                out.write((part.equals("headers") ? "GET /v1/models HTTP/1.1\r\nHost: x\r\nX-Long: " : "GET /v1/models?q=")
                        .getBytes(StandardCharsets.ISO_8859_1));
                var sender = Thread.ofVirtual().start(() -> {
                    var piece = new byte[16 * 1024];
                    java.util.Arrays.fill(piece, (byte) 'a');
                    try {
                        for (int i = 0; i < 32; i++) {
                            out.write(piece);
                            Thread.sleep(2);
                        }
                    } catch (Exception stopped) {
                        // the gateway stopped reading
                    }
                });
                var answer = readAll(socket.getInputStream());
                sender.join();
                assertThat(answer).startsWith("HTTP/1.1 " + status + " ").containsIgnoringCase("connection: close").containsIgnoringCase("x-request-id: req_");
                var json = errorBody(answer);
                assertThat(json.at("/error/code").asText()).isEqualTo(code);
                assertThat(json.at("/error/type").asText()).isEqualTo("invalid_request_error");
                assertThat(json.at("/error/message").asText()).doesNotContain("Exception").doesNotContain("larger than");
            }
        }
    }

    @ParameterizedTest(name = "{0}")
    @CsvSource(delimiter = '|', textBlock = """
            HTTP/1.1 without Host | GET /v1/models HTTP/1.1\\r\\nConnection: close\\r\\n\\r\\n
            two Host headers      | GET /v1/models HTTP/1.1\\r\\nHost: a\\r\\nHost: b\\r\\nConnection: close\\r\\n\\r\\n
            two Host on HTTP/1.0  | GET /v1/models HTTP/1.0\\r\\nHost: a\\r\\nHost: b\\r\\n\\r\\n
            """)
    void aMissingOrRepeatedHostIs400(String what, String request) throws Exception {
        // RFC 9112 §3.2; the pipelined request after it must not be answered either.
        var answer = exchange(request.replace("\\r\\n", "\r\n") + "GET /v1/models HTTP/1.1\r\nHost: x\r\n\r\n");
        assertThat(answer).startsWith("HTTP/1.1 400 ").containsIgnoringCase("connection: close");
        assertThat(responses(answer)).isEqualTo(1);
        var json = errorBody(answer);
        assertThat(json.at("/error/code").asText()).isEqualTo("invalid_host");
        assertThat(json.at("/error/message").asText()).contains("Host");
    }

    @org.junit.jupiter.api.Test
    void anHttp10RequestWithoutHostIsServed() throws Exception {
        assertThat(exchange("GET /v1/models HTTP/1.0\r\n\r\n")).startsWith("HTTP/1.1 200 ").contains("\"object\":\"list\"");
    }

    @ParameterizedTest(name = "{0}")
    @CsvSource(delimiter = '|', textBlock = """
            http://127.0.0.1/v1/models?limit=1 | list
            HTTP://gateway.example:80/healthz  | ok
            https://gateway.example/v1/models  | list
            """)
    void anAbsoluteFormTargetIsServedAsItsPath(String target, String expected) throws Exception {
        // RFC 9112 §3.2.2: a server must accept the form a client sends to a proxy.
        var answer = exchange("GET " + target + " HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
        assertThat(answer).startsWith("HTTP/1.1 200 ").contains("\"" + expected + "\"");
    }

    @ParameterizedTest(name = "{0}")
    @CsvSource(delimiter = '|', textBlock = """
            PRI * HTTP/2.0\\r\\n\\r\\nSM\\r\\n\\r\\n
            GET /v1/models HTTP/2.0\\r\\nHost: x\\r\\n\\r\\n
            GET /v1/models HTTP/3.0\\r\\nHost: x\\r\\n\\r\\n
            """)
    void anotherMajorHttpVersionIs505AndTheConnectionCloses(String request) throws Exception {
        // The HTTP/2 connection preface was answered 404 "Invalid URL (PRI *)", then 400 for its "SM" line; an
        // HTTP/2.0 request line was served as HTTP/1.1 and kept the connection open.
        var answer = exchange(request.replace("\\r\\n", "\r\n"));
        assertThat(answer).startsWith("HTTP/1.1 505 ").containsIgnoringCase("connection: close");
        assertThat(responses(answer)).isEqualTo(1);
        assertThat(errorBody(answer).at("/error/code").asText()).isEqualTo("http_version_not_supported");
    }

    @org.junit.jupiter.api.Test
    void aMinorVersionAboveOneIsServedAsHttp11() throws Exception {
        assertThat(exchange("GET /v1/models HTTP/1.2\r\nHost: x\r\nConnection: close\r\n\r\n")).startsWith("HTTP/1.1 200 ");
    }

    @org.junit.jupiter.api.Test
    void aTlsClientOnThePlainPortIsAnsweredAtOnce() throws Exception {
        // A ClientHello has no line end for the HTTP decoder to wait for: the client hung for the request timeout (60 s).
        try (var socket = connect()) {
            socket.setSoTimeout(5_000);
            var hello = java.util.HexFormat.of().parseHex("16030100a5010000a10303");
            socket.getOutputStream().write(hello);
            socket.getOutputStream().write(new byte[100]);
            var answer = readAll(socket.getInputStream());
            assertThat(answer).startsWith("HTTP/1.1 400 ").containsIgnoringCase("connection: close");
            assertThat(errorBody(answer).at("/error/message").asText()).contains("plain HTTP");
        }
    }

    @ParameterizedTest(name = "{0} {1} -> {2}")
    @CsvSource(delimiter = '|', textBlock = """
            CONNECT | example.com:443 | 405 | method_not_allowed
            GET     | *               | 400 | invalid_request_target
            POST    | *               | 400 | invalid_request_target
            GET     | v1/models       | 400 | invalid_request_target
            GET     | ?limit=1        | 400 | invalid_request_target
            """)
    void aTargetInAFormOnlyProxiesTakeIsRefusedAndTheConnectionCloses(String method, String target, int status, String code) throws Exception {
        // They were 404 "Invalid URL (CONNECT example.com:443)", and the connection stayed open for the tunnel's bytes.
        var answer = exchange(method + " " + target + " HTTP/1.1\r\nHost: example.com:443\r\nContent-Length: 0\r\n\r\n");
        assertThat(answer).startsWith("HTTP/1.1 " + status + " ").containsIgnoringCase("connection: close");
        if (status == 405) assertThat(answer).containsIgnoringCase("\r\nallow: GET, HEAD, POST, DELETE\r\n");
        assertThat(errorBody(answer).at("/error/code").asText()).isEqualTo(code);
    }

    @org.junit.jupiter.api.Test
    void optionsStarSaysWhatTheServerServes() throws Exception {
        var answer = exchange("OPTIONS * HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
        assertThat(answer).startsWith("HTTP/1.1 204 ").containsIgnoringCase("\r\nallow: GET, HEAD, POST, DELETE\r\n").endsWith("\r\n\r\n");
    }

    @org.junit.jupiter.api.Test
    void rawUtf8InThePathIsReadAsUtf8LikeItsPercentEncodedForm() throws Exception {
        // Netty reads the request line as ISO-8859-1: the model was 'Ã©'.
        try (var socket = connect()) {
            socket.getOutputStream().write("GET /v1/models/caf\u00e9 HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n".getBytes(StandardCharsets.UTF_8));
            var answer = new String(socket.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
            var encoded = new String(gw.get("/models/caf%C3%A9").body().getBytes(StandardCharsets.UTF_8), StandardCharsets.UTF_8);
            assertThat(answer).startsWith("HTTP/1.1 404 ");
            assertThat(Json.parse(answer.substring(answer.indexOf("\r\n\r\n") + 4)).at("/error/message").asText())
                    .contains("'caf\u00e9'").isEqualTo(Json.parse(encoded).at("/error/message").asText());
        }
    }

    /** A gateway whose model "slow" answers after 2 s: a request that holds its connection while others are pipelined behind it. */
    static TestGateway slow() throws Exception {
        return TestGateway.yaml("""
                models:
                  - name: slow
                    deployments:
                      - { provider: sim, model: lorem, ttft_ms: 2000, length: 5 }
                """);
    }

    static String slowRequest() {
        var body = "{\"model\":\"slow\",\"stream\":true,\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}]}";
        return "POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: " + body.length() + "\r\n\r\n" + body;
    }

    @org.junit.jupiter.api.Test
    void requestsPipelinedBehindALongAnswerAreNotReadWithoutBound() throws Exception {
        // Every request a client sent behind a stream was read, aggregated and queued: gigabytes from one connection.
        try (var gateway = slow(); var socket = new Socket("127.0.0.1", gateway.gateway.port())) {
            var out = socket.getOutputStream();
            out.write(slowRequest().getBytes(StandardCharsets.ISO_8859_1));
            var pad = "{\"model\":\"sim/echo\",\"messages\":[{\"role\":\"user\",\"content\":\"" + "y".repeat(60_000) + "\"}]}";
            var one = ("POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: " + pad.length() + "\r\n\r\n" + pad)
                    .getBytes(StandardCharsets.ISO_8859_1);
            var written = new java.util.concurrent.atomic.AtomicLong();
            var writer = Thread.ofVirtual().start(() -> {
                try {
                    while (written.get() < (256L << 20)) {
                        out.write(one);
                        written.addAndGet(one.length);
                    }
                } catch (Exception closed) {
                    // the socket is closed below
                }
            });
            Thread.sleep(1_500); // the slow answer is still 0.5 s away
            long sent = written.get();
            socket.close();
            writer.join();
            // What the socket buffers on both sides hold (a few MB on loopback) and one socket read, not everything.
            assertThat(sent).isLessThan(32L << 20);
        }
    }

    @org.junit.jupiter.api.Test
    void requestsPipelinedBehindALongAnswerAreAllAnsweredInOrder() throws Exception {
        try (var gateway = slow(); var socket = new Socket("127.0.0.1", gateway.gateway.port())) {
            socket.setSoTimeout(10_000);
            var requests = new StringBuilder(slowRequest());
            for (int i = 0; i < 20; i++) requests.append("GET /v1/models/sim/echo HTTP/1.1\r\nHost: x\r\n\r\n");
            requests.append("GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
            socket.getOutputStream().write(requests.toString().getBytes(StandardCharsets.ISO_8859_1));
            var answer = readAll(socket.getInputStream());
            assertThat(responses(answer)).isEqualTo(22);
            assertThat(answer).startsWith("HTTP/1.1 200 ").contains("data: [DONE]").endsWith("{\"status\":\"ok\"}");
        }
    }

    // ------------------------------------------------------------------ helpers

    static JsonNode errorBody(String answer) {
        var json = Json.parse(answer.substring(answer.indexOf("\r\n\r\n") + 4));
        if (OpenApiValidator.available()) OpenApiValidator.shared().assertValid("ErrorResponse", json);
        assertThat(json.at("/error/message").asText()).isNotBlank().doesNotContain("at dev.").doesNotContain("io.netty");
        return json;
    }

    static Socket connect() throws Exception {
        var base = URI.create(gw.base());
        var socket = new Socket(base.getHost(), base.getPort());
        socket.setSoTimeout(10_000);
        return socket;
    }

    /** Sends {@code request} as it is and reads until the gateway closes the connection. */
    static String exchange(String request) throws Exception {
        try (var socket = connect()) {
            socket.getOutputStream().write(request.getBytes(StandardCharsets.ISO_8859_1));
            return readAll(socket.getInputStream());
        }
    }

    static String readAll(InputStream in) throws Exception {
        return new String(in.readAllBytes(), StandardCharsets.ISO_8859_1);
    }
}
