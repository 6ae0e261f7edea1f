package dev.sluice.client.chat;

import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.sluice.client.ApiException;
import dev.sluice.client.RequestOptions;
import dev.sluice.client.SluiceClient;
import dev.sluice.client.StreamErrorException;
import dev.sluice.wire.chat.ChatCompletion;
import dev.sluice.wire.chat.StreamError;
import java.io.IOException;

/**
 * {@code POST /chat/completions}, blocking or streamed. Every call takes a {@link ChatRequest} or a raw JSON
 * body; raw bodies are sent unchanged except for the {@code stream} flag the call implies. Obtained from
 * {@link SluiceClient#chat()}.
 */
public final class ChatCompletions {

    private final SluiceClient client;

    public ChatCompletions(SluiceClient client) {
        this.client = client;
    }

    public ChatCompletion create(ChatRequest request) throws IOException, ApiException {
        return create(request.toJson(), RequestOptions.DEFAULT);
    }

    public ChatCompletion create(ObjectNode body) throws IOException, ApiException {
        return create(body, RequestOptions.DEFAULT);
    }

    /** A blocking completion, read into the same {@link ChatCompletion} type a stream accumulates to. */
    public ChatCompletion create(ObjectNode body, RequestOptions options) throws IOException, ApiException {
        var copy = body.deepCopy();
        copy.remove("stream");
        copy.remove("stream_options"); // OpenAI rejects stream_options without stream
        var json = client.post("/chat/completions", copy, options);
        // A 200 can still hold an error (some servers report failures so) or no answer at all: neither is a completion
        // to hand back as if the model had said nothing.
        var error = json.get("error");
        if (error != null && !error.isNull()) throw new StreamErrorException(StreamError.from(error));
        if (!json.path("choices").isArray() || json.path("choices").isEmpty()) {
            throw new IOException("the answer has no choices: not a chat.completion");
        }
        return ChatCompletionReader.read(json);
    }

    public ChatStream stream(ChatRequest request) throws IOException, ApiException {
        return stream(request.toJson(), RequestOptions.DEFAULT);
    }

    public ChatStream stream(ObjectNode body) throws IOException, ApiException {
        return stream(body, RequestOptions.DEFAULT);
    }

    /** Opens a stream to pull events from; returns once the response headers arrived (errors throw here). */
    public ChatStream stream(ObjectNode body, RequestOptions options) throws IOException, ApiException {
        return new ChatStream(client.openChatStream(streaming(body), options));
    }

    public ChatStream stream(ChatRequest request, ChatStreamListener listener) {
        return stream(request.toJson(), RequestOptions.DEFAULT, listener);
    }

    /**
     * Starts a stream that pushes its events to {@code listener} on a virtual thread, and returns at once.
     * Connection and HTTP errors go to {@link ChatStreamListener#onError} too.
     */
    public ChatStream stream(ObjectNode body, RequestOptions options, ChatStreamListener listener) {
        var streaming = streaming(body);
        return ChatStream.push(() -> client.openChatStream(streaming, options), listener);
    }

    private static ObjectNode streaming(ObjectNode body) {
        var copy = body.deepCopy();
        copy.put("stream", true);
        return copy;
    }
}
