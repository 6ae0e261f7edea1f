package dev.sluice.client;

import java.net.http.HttpHeaders;
import java.time.Duration;
import java.time.Instant;
import java.time.ZonedDateTime;
import java.time.format.DateTimeFormatter;
import java.time.format.DateTimeParseException;
import java.util.Optional;

/** Reads how long a server asked the client to wait before retrying. */
final class RetryAfter {

    private RetryAfter() {}

    /**
     * {@code retry-after-ms} (OpenAI's millisecond variant) wins over {@code Retry-After}, which is either
     * delay-seconds (fractions accepted, some proxies send them) or an HTTP date. A date in the past is zero.
     */
    static Optional<Duration> parse(HttpHeaders headers) {
        var ms = headers.firstValue("retry-after-ms").flatMap(v -> seconds(v, 1e-3));
        if (ms.isPresent()) return ms;
        return headers.firstValue("retry-after").flatMap(v -> seconds(v, 1).or(() -> date(v)));
    }

    private static Optional<Duration> seconds(String value, double unitSeconds) {
        try {
            double amount = Double.parseDouble(value.strip());
            if (!Double.isFinite(amount) || amount < 0) return Optional.empty();
            return Optional.of(Duration.ofNanos((long) Math.min(amount * unitSeconds * 1e9, Long.MAX_VALUE)));
        } catch (NumberFormatException e) {
            return Optional.empty();
        }
    }

    private static Optional<Duration> date(String value) {
        try {
            var when = ZonedDateTime.parse(value.strip(), DateTimeFormatter.RFC_1123_DATE_TIME).toInstant();
            var wait = Duration.between(Instant.now(), when);
            return Optional.of(wait.isNegative() ? Duration.ZERO : wait);
        } catch (DateTimeParseException e) {
            return Optional.empty();
        }
    }
}
