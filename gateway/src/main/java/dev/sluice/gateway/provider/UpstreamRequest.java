package dev.sluice.gateway.provider;

import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.sluice.wire.json.Json;
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
        var copy = topLevelCopy();
        copy.put("model", model);
        copy.put("stream", false);
        copy.remove("stream_options");
        return copy;
    }

    /** The body to send upstream for a streamed answer: the client's, with the upstream model, streaming on and usage requested. */
    public ObjectNode streamingBody() {
        var copy = topLevelCopy();
        copy.put("model", model);
        copy.put("stream", true);
        // Always ask for usage: a client that did not ask for it never sees the extra chunk, but the gateway counts it.
        // A client may send "stream_options": null; it is replaced rather than trusted to be an object.
        var options = copy.path("stream_options").isObject() ? ((ObjectNode) copy.get("stream_options")).deepCopy() : Json.object();
        options.put("include_usage", true);
        copy.set("stream_options", options);
        return copy;
    }

    /**
     * A new top-level object holding the client's values themselves, in their order: the upstream bodies change
     * top-level keys only (here and in the provider, which may rename the token limit), and a copy of every
     * message of a long conversation for each request would be most of the work of preparing it. What a body
     * changes below the top level it copies first ({@code stream_options} above; a continuation copies it all).
     */
    private ObjectNode topLevelCopy() {
        var copy = Json.object();
        copy.setAll(body);
        return copy;
    }
}
