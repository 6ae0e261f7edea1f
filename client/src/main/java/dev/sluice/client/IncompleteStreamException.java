package dev.sluice.client;

import dev.sluice.wire.chat.ChatCompletion;
import java.util.Optional;

/**
 * The body ended without its end marker ({@code data: [DONE]}, or a terminal Responses event) and without an
 * error: the connection was cut or the upstream stopped early. Raised after every received event was
 * delivered; for chat streams {@link #partial()} holds what was accumulated.
 */
public final class IncompleteStreamException extends RuntimeException {

    private final transient ChatCompletion partial;

    public IncompleteStreamException(String message, ChatCompletion partial) {
        super(message);
        this.partial = partial;
    }

    public Optional<ChatCompletion> partial() {
        return Optional.ofNullable(partial);
    }
}
