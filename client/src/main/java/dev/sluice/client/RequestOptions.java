package dev.sluice.client;

import java.time.Duration;
import java.util.LinkedHashMap;
import java.util.Map;

/**
 * Per-request overrides of the client's settings. A null field keeps the client's value; a zero or negative
 * timeout disables that timeout for this request. The connect timeout belongs to the HTTP client and cannot be
 * changed per request.
 *
 * @param headers extra headers; they replace client headers of the same name
 */
public record RequestOptions(
        Map<String, String> headers,
        Duration firstByteTimeout,
        Duration idleTimeout,
        Duration totalTimeout,
        Integer maxRetries) {

    public static final RequestOptions DEFAULT = new RequestOptions(Map.of(), null, null, null, null);

    public RequestOptions {
        headers = headers == null ? Map.of() : Map.copyOf(headers);
        if (maxRetries != null && maxRetries < 0) throw new IllegalArgumentException("maxRetries < 0");
    }

    public static Builder builder() {
        return new Builder();
    }

    public static final class Builder {
        private final Map<String, String> headers = new LinkedHashMap<>();
        private Duration firstByteTimeout, idleTimeout, totalTimeout;
        private Integer maxRetries;

        private Builder() {}

        public Builder header(String name, String value) {
            headers.put(name, value);
            return this;
        }

        /** Time allowed until the response headers arrive, per attempt. */
        public Builder firstByteTimeout(Duration timeout) {
            this.firstByteTimeout = timeout;
            return this;
        }

        /** Longest gap allowed between two reads of body bytes. */
        public Builder idleTimeout(Duration timeout) {
            this.idleTimeout = timeout;
            return this;
        }

        /** Time allowed for the whole call, retries and the entire body included. */
        public Builder totalTimeout(Duration timeout) {
            this.totalTimeout = timeout;
            return this;
        }

        public Builder maxRetries(int maxRetries) {
            this.maxRetries = maxRetries;
            return this;
        }

        public RequestOptions build() {
            return new RequestOptions(headers, firstByteTimeout, idleTimeout, totalTimeout, maxRetries);
        }
    }
}
