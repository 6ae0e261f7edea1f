package dev.sluice.client;

import java.net.URI;
import java.time.Duration;
import java.util.Map;

/**
 * One request exactly as this client would send it (URL, every header, body) and the timeouts that apply to it
 * (null when disabled), for a caller that moves the bytes itself: the gateway relays on its own event loops,
 * yet asks upstreams what the SDK asks, then reads the answer with the same parser
 * ({@link dev.sluice.wire.chat.ChatStreamParser}) and the same error mapping ({@link ApiException#of}).
 */
public record PreparedCall(String method, URI uri, Map<String, String> headers, byte[] body,
        Duration firstByte, Duration idle, Duration total) {}
