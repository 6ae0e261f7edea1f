package dev.sluice.wire.sse;

/**
 * One dispatched Server-Sent Event. {@code event} is null when the stream named no type (the spec's
 * default "message"); {@code id} is the last event id in force when it was dispatched; {@code retry} is
 * the reconnection time the stream asked for, or -1.
 */
public record SseEvent(String event, String data, String id, long retry) {

    public static SseEvent data(String data) {
        return new SseEvent(null, data, null, -1);
    }

    /** The event type as the EventSource API reports it. */
    public String type() {
        return event == null || event.isEmpty() ? "message" : event;
    }
}
