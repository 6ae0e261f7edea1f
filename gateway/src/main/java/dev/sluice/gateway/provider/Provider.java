package dev.sluice.gateway.provider;

/**
 * An upstream that answers chat completions. Implementations translate their wire format into canonical
 * stream events; the gateway never sees a provider's format.
 */
public interface Provider {

    /** The name routes refer to ({@code openai}, {@code sim}, ...). */
    String name();

    /**
     * Opens a streamed answer. Blocks until the upstream accepted the request (its response headers
     * arrived); a refusal or failure before that throws {@link UpstreamException}, so the caller can still
     * answer with a proper HTTP status, retry or fall back.
     */
    UpstreamStream open(UpstreamRequest request) throws UpstreamException;

    /** Model ids the upstream itself lists, for {@code /v1/models} in proxy mode; empty when unknown. */
    default java.util.List<String> listModels(String clientAuthorization) {
        return java.util.List.of();
    }
}
