package dev.sluice.gateway.http;

import io.netty.handler.codec.http.HttpHeaderNames;
import io.netty.handler.codec.http.HttpHeaders;
import io.netty.handler.codec.http.HttpMethod;
import io.netty.handler.codec.http.HttpRequest;
import java.time.Duration;
import java.util.List;
import java.util.regex.Pattern;

/**
 * Cross-origin access for browser apps (openai-node with {@code dangerouslyAllowBrowser}), for the origins the
 * config lists ({@code "*"}: any). With none listed, the default, no CORS header is ever sent and browsers keep
 * other sites' pages from calling the gateway with a user's key.
 *
 * <p>An allowed origin is echoed in {@code Access-Control-Allow-Origin} (with {@code Vary: Origin}, so a cache
 * never serves one origin's answer to another) on every answer: JSON, errors and event streams alike, or the
 * page could not read why a request failed. A preflight from an allowed origin is answered 204 here, for any
 * path, before routing. One from another origin is 403 with an OpenAI-shaped error and no CORS header, as
 * Spring's CORS processor does: the browser blocks the call either way, and a 403 says why in the browser's
 * network panel and the gateway's logs, where a 204 without headers or a route's 405 would mislead.
 */
public final class Cors {

    /** No origin allowed: no CORS header at all. */
    public static final Cors OFF = new Cors(List.of(), Duration.ZERO);

    /**
     * What clients read from answers besides the CORS-safelisted headers: the request id, openai-node's retry
     * hints, Sluice's own, and the OpenAI headers an upstream's answer may carry.
     */
    private static final String EXPOSED = String.join(", ", "x-request-id", "retry-after", "retry-after-ms", "x-should-retry",
            "x-sluice-deployment", "x-sluice-attempts", "openai-organization", "openai-project", "openai-processing-ms", "openai-version",
            "x-ratelimit-limit-requests", "x-ratelimit-limit-tokens", "x-ratelimit-remaining-requests", "x-ratelimit-remaining-tokens",
            "x-ratelimit-reset-requests", "x-ratelimit-reset-tokens");

    private static final Pattern TOKEN = Pattern.compile("[!#$%&'*+.^_`|~0-9A-Za-z-]+");

    private final List<String> origins;
    private final boolean any;
    private final String maxAge;

    /** @param origins the allowed origins, or {@code "*"}; {@code maxAge}: how long a browser may reuse a preflight's answer */
    public Cors(List<String> origins, Duration maxAge) {
        this.origins = List.copyOf(origins);
        this.any = origins.contains("*");
        this.maxAge = Long.toString(maxAge.toSeconds());
    }

    boolean enabled() {
        return !origins.isEmpty();
    }

    /** The request's Origin when it is allowed, else null. A request with several Origin headers is no browser's. */
    private String allowedOrigin(HttpHeaders request) {
        var all = request.getAll(HttpHeaderNames.ORIGIN);
        if (all.size() != 1) return null;
        var origin = all.getFirst();
        return any || origins.contains(origin) ? origin : null;
    }

    /** Whether {@code request} is a CORS preflight this server answers itself. */
    boolean isPreflight(HttpRequest request) {
        return enabled() && request.method().equals(HttpMethod.OPTIONS) && request.headers().contains(HttpHeaderNames.ORIGIN)
                && request.headers().contains(HttpHeaderNames.ACCESS_CONTROL_REQUEST_METHOD);
    }

    /** Answers a preflight: 204 with what the browser asked for when the origin is allowed, else a 403. */
    void preflight(Exchange exchange, HttpHeaders request) {
        var origin = allowedOrigin(request);
        if (origin == null) {
            exchange.sendError(new ApiError(403, "Cross-origin requests from origin '" + request.get(HttpHeaderNames.ORIGIN) + "' are not allowed.",
                    "invalid_request_error", null, "cors_origin_not_allowed", null));
            return;
        }
        var headers = new java.util.LinkedHashMap<String, String>();
        headers.put("Access-Control-Allow-Methods", HttpServer.METHODS);
        // The headers asked for, reflected: openai-node sends Authorization, Content-Type and a changing set of
        // x-stainless-* headers, which a fixed list would lag behind. Only well-formed names are echoed.
        var asked = request.getAll(HttpHeaderNames.ACCESS_CONTROL_REQUEST_HEADERS).stream()
                .flatMap(v -> java.util.Arrays.stream(v.split(",")))
                .map(String::trim)
                .filter(h -> TOKEN.matcher(h).matches())
                .toList();
        if (!asked.isEmpty()) headers.put("Access-Control-Allow-Headers", String.join(", ", asked));
        headers.put("Access-Control-Max-Age", maxAge);
        exchange.sendNoContent(headers);
    }

    /** Adds the CORS headers of an actual answer to {@code response}, for {@code request}'s origin if it is allowed. */
    void addTo(HttpHeaders response, HttpHeaders request) {
        forEach(request, response::add);
    }

    /** Gives the CORS headers of an actual answer, for {@code request}'s origin if it is allowed, to {@code header}. */
    void forEach(HttpHeaders request, java.util.function.BiConsumer<CharSequence, CharSequence> header) {
        if (!enabled()) return;
        // Whatever the origin: the answer depends on it, and a cache must know.
        header.accept(HttpHeaderNames.VARY, HttpHeaderNames.ORIGIN);
        var origin = allowedOrigin(request);
        if (origin == null) return;
        header.accept(HttpHeaderNames.ACCESS_CONTROL_ALLOW_ORIGIN, origin);
        header.accept(HttpHeaderNames.ACCESS_CONTROL_EXPOSE_HEADERS, EXPOSED);
    }
}
