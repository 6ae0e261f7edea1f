package dev.sluice.client;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.catchThrowableOfType;

import dev.sluice.client.testing.FakeUpstream;
import dev.sluice.wire.json.Json;
import java.net.http.HttpHeaders;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.time.ZoneOffset;
import java.time.ZonedDateTime;
import java.time.format.DateTimeFormatter;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;
import org.junit.jupiter.api.Test;

/** HTTP error statuses become typed exceptions carrying everything needed to relay them. */
class ApiExceptionTest {

    @ParameterizedTest
    @CsvSource({
        "400, BAD_REQUEST, dev.sluice.client.ApiException$BadRequest",
        "401, AUTHENTICATION, dev.sluice.client.ApiException$Authentication",
        "403, PERMISSION_DENIED, dev.sluice.client.ApiException$PermissionDenied",
        "404, NOT_FOUND, dev.sluice.client.ApiException$NotFound",
        "409, CONFLICT, dev.sluice.client.ApiException$Conflict",
        "422, UNPROCESSABLE_ENTITY, dev.sluice.client.ApiException$UnprocessableEntity",
        "429, RATE_LIMIT, dev.sluice.client.ApiException$RateLimit",
        "500, INTERNAL_SERVER, dev.sluice.client.ApiException$InternalServer",
        "503, INTERNAL_SERVER, dev.sluice.client.ApiException$InternalServer",
        "418, OTHER, dev.sluice.client.ApiException",
    })
    void statusesMapToKinds(int status, ApiException.Kind kind, String type) throws Exception {
        var body = "{\"error\":{\"message\":\"Invalid value for 'temperature'\",\"type\":\"invalid_request_error\",\"param\":\"temperature\",\"code\":\"invalid_value\"}}";
        try (var upstream = FakeUpstream.start((ex, req, i) -> FakeUpstream.json(ex, status, body, Map.of("x-request-id", "req_abc", "x-ratelimit-remaining-requests", "0")));
                var client = SluiceClient.builder().baseUrl(upstream.baseUrl()).maxRetries(0).build()) {
            var e = catchThrowableOfType(ApiException.class, () -> client.openChatStream(EventStreamTest.body()));
            assertThat(e.getClass().getName()).isEqualTo(type);
            assertThat(e.kind()).isEqualTo(kind);
            assertThat(e.status()).isEqualTo(status);
            assertThat(e.type()).isEqualTo("invalid_request_error");
            assertThat(e.code()).isEqualTo("invalid_value");
            assertThat(e.param()).isEqualTo("temperature");
            assertThat(e.errorMessage()).isEqualTo("Invalid value for 'temperature'");
            assertThat(e.requestId()).isEqualTo("req_abc");
            assertThat(e.body()).isEqualTo(body.getBytes(StandardCharsets.UTF_8));
            assertThat(e.headers().firstValue("x-ratelimit-remaining-requests")).hasValue("0");
            assertThat(e.getMessage()).isEqualTo("HTTP " + status + " invalid_request_error: Invalid value for 'temperature'");
            assertThat(e.retryAfter()).isEmpty();
        }
    }

    @Test
    void blockingCallsThrowTheSameTypes() throws Exception {
        try (var upstream = FakeUpstream.start((ex, req, i) -> FakeUpstream.json(ex, 401, "{\"error\":{\"message\":\"bad key\",\"type\":\"invalid_request_error\",\"code\":\"invalid_api_key\"}}"));
                var client = SluiceClient.builder().baseUrl(upstream.baseUrl()).build()) {
            var e = catchThrowableOfType(ApiException.Authentication.class, client::models);
            assertThat(e.code()).isEqualTo("invalid_api_key");
        }
    }

    @Test
    void otherErrorShapes() {
        var headers = HttpHeaders.of(Map.of(), (a, b) -> true);
        var stringError = ApiException.of(400, headers, "{\"error\":\"model not found\"}".getBytes(StandardCharsets.UTF_8));
        assertThat(stringError.errorMessage()).isEqualTo("model not found");
        var fastapi = ApiException.of(422, headers, "{\"detail\":[{\"loc\":[\"body\",\"model\"],\"msg\":\"field required\"}]}".getBytes(StandardCharsets.UTF_8));
        assertThat(fastapi.errorMessage()).contains("field required");
        var vllm = ApiException.of(400, headers, "{\"object\":\"error\",\"message\":\"too long\",\"type\":\"BadRequestError\",\"param\":null,\"code\":400}".getBytes(StandardCharsets.UTF_8));
        assertThat(vllm.errorMessage()).isEqualTo("too long");
        assertThat(vllm.code()).isEqualTo("400");
        var text = ApiException.of(502, headers, "<html>Bad Gateway</html>".getBytes(StandardCharsets.UTF_8));
        assertThat(text.error()).isNull();
        assertThat(text.errorMessage()).isNull();
        assertThat(text.getMessage()).isEqualTo("HTTP 502: <html>Bad Gateway</html>");
        assertThat(text.bodyText()).isEqualTo("<html>Bad Gateway</html>");
        var empty = ApiException.of(503, headers, new byte[0]);
        assertThat(empty.getMessage()).isEqualTo("HTTP 503: (no body)");
        assertThat(Json.write(ApiException.of(400, headers, "{\"error\":{\"message\":\"m\"}}".getBytes()).error())).isEqualTo("{\"message\":\"m\"}");
    }

    @Test
    void retryAfterForms() {
        assertThat(retryAfter(Map.of("retry-after", List.of("2")))).hasValue(Duration.ofSeconds(2));
        assertThat(retryAfter(Map.of("retry-after", List.of("1.5")))).hasValue(Duration.ofMillis(1500));
        assertThat(retryAfter(Map.of("retry-after-ms", List.of("250"), "retry-after", List.of("9")))).hasValue(Duration.ofMillis(250));
        assertThat(retryAfter(Map.of("retry-after", List.of("soon")))).isEmpty();
        assertThat(retryAfter(Map.of("retry-after", List.of("-1")))).isEmpty();
        var date = DateTimeFormatter.RFC_1123_DATE_TIME.format(ZonedDateTime.now(ZoneOffset.UTC).plusSeconds(30));
        assertThat(retryAfter(Map.of("retry-after", List.of(date)))).hasValueSatisfying(d ->
                assertThat(d).isBetween(Duration.ofSeconds(28), Duration.ofSeconds(30)));
        var past = DateTimeFormatter.RFC_1123_DATE_TIME.format(ZonedDateTime.now(ZoneOffset.UTC).minusHours(1));
        assertThat(retryAfter(Map.of("retry-after", List.of(past)))).hasValue(Duration.ZERO);
    }

    private static java.util.Optional<Duration> retryAfter(Map<String, List<String>> headers) {
        return ApiException.of(429, HttpHeaders.of(headers, (a, b) -> true), new byte[0]).retryAfter();
    }
}
