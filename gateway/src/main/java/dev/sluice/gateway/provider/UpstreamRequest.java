package dev.sluice.gateway.provider;

import com.fasterxml.jackson.databind.node.ObjectNode;
import java.util.Map;

/**
 * What a provider is asked for: the client's request body (unchanged, so provider-specific fields pass
 * through), the upstream model name the route chose, deployment options (for the sim provider, its
 * behaviour), the client's Authorization header, which proxy-mode providers forward, and whether the caller
 * relays the answer as it comes ({@code streamed}) or only needs it whole, in which case a provider may ask
 * its upstream for one non-streamed answer.
 */
public record UpstreamRequest(ObjectNode body, String model, Map<String, Object> options, String clientAuthorization,
        dev.sluice.gateway.config.GatewayConfig.Timeouts timeouts, boolean streamed) {

    public UpstreamRequest {
        options = options == null ? Map.of() : Map.copyOf(options);
    }

    /** The same request with another body (a continuation after a mid-stream failure). */
    public UpstreamRequest withBody(ObjectNode newBody) {
        return new UpstreamRequest(newBody, model, options, clientAuthorization, timeouts, streamed);
    }

    /**
     * The body to send upstream for a non-streamed answer: the client's, with the upstream model and streaming
     * off ({@code stream_options} is only allowed on streams). Usage comes with every non-streamed answer.
     */
    public ObjectNode wholeBody() {
        var copy = body.deepCopy();
        copy.put("model", model);
        copy.put("stream", false);
        copy.remove("stream_options");
        return copy;
    }

    /** The body to send upstream for a streamed answer: the client's, with the upstream model, streaming on and usage requested. */
    public ObjectNode streamingBody() {
        var copy = body.deepCopy();
        copy.put("model", model);
        copy.put("stream", true);
        // Always ask for usage: a client that did not ask for it never sees the extra chunk, but the gateway counts it.
        // A client may send "stream_options": null; it is replaced rather than trusted to be an object.
        var options = copy.path("stream_options").isObject() ? (ObjectNode) copy.get("stream_options") : copy.putObject("stream_options");
        options.put("include_usage", true);
        return copy;
    }
}
