package dev.sluice.client.responses;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.sluice.client.ApiException;
import dev.sluice.client.RequestOptions;
import dev.sluice.client.SluiceClient;
import java.io.IOException;

/** {@code POST /responses}, blocking or streamed; bodies are raw JSON, sent unchanged but for {@code stream}. */
public final class Responses {

    private final SluiceClient client;

    public Responses(SluiceClient client) {
        this.client = client;
    }

    public JsonNode create(ObjectNode body) throws IOException, ApiException {
        return create(body, RequestOptions.DEFAULT);
    }

    public JsonNode create(ObjectNode body, RequestOptions options) throws IOException, ApiException {
        var copy = body.deepCopy();
        copy.remove("stream");
        return client.post("/responses", copy, options);
    }

    public ResponseStream stream(ObjectNode body) throws IOException, ApiException {
        return stream(body, RequestOptions.DEFAULT);
    }

    /** Returns once the response headers arrived; the events are then read from the stream. */
    public ResponseStream stream(ObjectNode body, RequestOptions options) throws IOException, ApiException {
        var copy = body.deepCopy();
        copy.put("stream", true);
        return new ResponseStream(client.openSse("/responses", copy, options));
    }
}
