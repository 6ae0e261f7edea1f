package dev.sluice.client.chat;

import dev.sluice.wire.chat.ChatCompletion;

/**
 * Callbacks of a pushed {@link ChatStream}; every method does nothing by default. Override {@link #onEvent}
 * to see every event, or the per-type methods it dispatches to. After the last event exactly one of
 * {@link #onCompletion} and {@link #onError} is called. Callbacks run on the stream's (virtual) thread, one
 * at a time; an exception thrown by one cancels the stream and is reported to {@link #onError}.
 */
public interface ChatStreamListener {

    default void onEvent(ChatStreamEvent event) {
        switch (event) {
            case ChatStreamEvent.Chunk e -> onChunk(e);
            case ChatStreamEvent.ContentDelta e -> onContentDelta(e);
            case ChatStreamEvent.ContentDone e -> onContentDone(e);
            case ChatStreamEvent.RefusalDelta e -> onRefusalDelta(e);
            case ChatStreamEvent.RefusalDone e -> onRefusalDone(e);
            case ChatStreamEvent.ReasoningDelta e -> onReasoningDelta(e);
            case ChatStreamEvent.ReasoningDone e -> onReasoningDone(e);
            case ChatStreamEvent.ToolCallArgumentsDelta e -> onToolCallArgumentsDelta(e);
            case ChatStreamEvent.ToolCallDone e -> onToolCallDone(e);
            case ChatStreamEvent.LogprobsContentDelta e -> onLogprobsContentDelta(e);
            case ChatStreamEvent.LogprobsContentDone e -> onLogprobsContentDone(e);
            case ChatStreamEvent.LogprobsRefusalDelta e -> onLogprobsRefusalDelta(e);
            case ChatStreamEvent.LogprobsRefusalDone e -> onLogprobsRefusalDone(e);
            case ChatStreamEvent.Usage e -> onUsage(e);
            case ChatStreamEvent.Finish e -> onFinish(e);
        }
    }

    default void onChunk(ChatStreamEvent.Chunk event) {}

    default void onContentDelta(ChatStreamEvent.ContentDelta event) {}

    default void onContentDone(ChatStreamEvent.ContentDone event) {}

    default void onRefusalDelta(ChatStreamEvent.RefusalDelta event) {}

    default void onRefusalDone(ChatStreamEvent.RefusalDone event) {}

    default void onReasoningDelta(ChatStreamEvent.ReasoningDelta event) {}

    default void onReasoningDone(ChatStreamEvent.ReasoningDone event) {}

    default void onToolCallArgumentsDelta(ChatStreamEvent.ToolCallArgumentsDelta event) {}

    default void onToolCallDone(ChatStreamEvent.ToolCallDone event) {}

    default void onLogprobsContentDelta(ChatStreamEvent.LogprobsContentDelta event) {}

    default void onLogprobsContentDone(ChatStreamEvent.LogprobsContentDone event) {}

    default void onLogprobsRefusalDelta(ChatStreamEvent.LogprobsRefusalDelta event) {}

    default void onLogprobsRefusalDone(ChatStreamEvent.LogprobsRefusalDone event) {}

    default void onUsage(ChatStreamEvent.Usage event) {}

    default void onFinish(ChatStreamEvent.Finish event) {}

    /** The stream ended normally; {@code completion} is the accumulated result. */
    default void onCompletion(ChatCompletion completion) {}

    /**
     * The stream failed: {@link dev.sluice.client.StreamErrorException}, {@link dev.sluice.client.IncompleteStreamException},
     * {@link dev.sluice.client.ApiException} or an {@link java.io.IOException} (timeouts, connection failures, cancellation).
     */
    default void onError(Throwable error) {}
}
