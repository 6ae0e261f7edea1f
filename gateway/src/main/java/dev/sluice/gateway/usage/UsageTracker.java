package dev.sluice.gateway.usage;

import com.fasterxml.jackson.databind.JsonNode;
import dev.sluice.wire.chat.StreamEvent;

/**
 * Watches the events an answer produced so usage can be reported when the upstream gave none (estimated
 * from the text) and summed across attempts after a failover.
 */
public final class UsageTracker {

    private final StringBuilder generated = new StringBuilder();
    private JsonNode reported;

    public void accept(StreamEvent event) {
        switch (event) {
            case StreamEvent.TextDelta t -> generated.append(t.text());
            case StreamEvent.ReasoningDelta r -> generated.append(r.text());
            case StreamEvent.RefusalDelta r -> generated.append(r.text());
            case StreamEvent.ToolCallStart s -> generated.append(s.name() == null ? "" : s.name());
            case StreamEvent.ToolCallArguments a -> generated.append(a.fragment());
            case StreamEvent.Usage u -> reported = u.usage();
            default -> {}
        }
    }

    /** Usage the upstream reported, or null. */
    public JsonNode reported() {
        return reported;
    }

    public int estimatedCompletionTokens() {
        return TokenEstimator.count(generated.toString());
    }

    public String generatedText() {
        return generated.toString();
    }
}
