package dev.sluice.client.tools;

import dev.sluice.client.chat.ChatMessage;
import dev.sluice.wire.chat.ChatCompletion;
import java.util.List;

/**
 * The model still asked for tools after the maximum number of completions; the last tool calls were not run.
 * The conversation so far is kept, to inspect or to continue with a new runner.
 */
public final class ToolRoundsExceededException extends RuntimeException {

    private final int maxRounds;
    private final transient List<ChatMessage> messages;
    private final transient ChatCompletion lastCompletion;

    public ToolRoundsExceededException(int maxRounds, List<ChatMessage> messages, ChatCompletion lastCompletion) {
        super("the model still asked for tools after " + maxRounds + " completions");
        this.maxRounds = maxRounds;
        this.messages = List.copyOf(messages);
        this.lastCompletion = lastCompletion;
    }

    public int maxRounds() {
        return maxRounds;
    }

    /** Every message, ending with the assistant message whose tool calls were not run. */
    public List<ChatMessage> messages() {
        return messages;
    }

    public ChatCompletion lastCompletion() {
        return lastCompletion;
    }
}
