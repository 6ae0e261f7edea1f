package dev.sluice.wire.json;

import com.fasterxml.jackson.core.JsonFactory;
import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.DeserializationFeature;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.ObjectReader;
import com.fasterxml.jackson.databind.node.JsonNodeFactory;
import com.fasterxml.jackson.databind.node.ObjectNode;

/** The one shared Jackson setup: plain tree model, no reflection-based binding of our own types. */
public final class Json {

    /** Buffers for parsers and generators; see {@link BufferPool}. */
    public static final ObjectMapper MAPPER = new ObjectMapper(JsonFactory.builder().recyclerPool(new BufferPool()).build());
    public static final JsonFactory FACTORY = MAPPER.getFactory();
    public static final JsonNodeFactory NODES = JsonNodeFactory.instance;

    /**
     * For a client's request body, which must be one JSON value and nothing else: without this, Jackson stops
     * after the first value and {@code {...} garbage} or {@code {...}{...}} would pass as the first object alone.
     * Only for request bodies; streams from upstreams are read value by value elsewhere.
     */
    private static final ObjectReader REQUEST_READER = MAPPER.reader().with(DeserializationFeature.FAIL_ON_TRAILING_TOKENS);

    private Json() {}

    public static ObjectNode object() {
        return NODES.objectNode();
    }

    public static JsonNode parse(String text) {
        try {
            return MAPPER.readTree(text);
        } catch (JsonProcessingException e) {
            throw new IllegalArgumentException("invalid JSON: " + e.getOriginalMessage(), e);
        }
    }

    public static JsonNode parse(byte[] bytes) {
        try {
            return MAPPER.readTree(bytes);
        } catch (java.io.IOException e) {
            throw new IllegalArgumentException("invalid JSON: " + e.getMessage(), e);
        }
    }

    /**
     * A client's request body: like {@link #parse(byte[])}, but anything other than whitespace after the value
     * is invalid too. The exception's message is the parser's, for logs, not for the client.
     */
    public static JsonNode parseRequest(byte[] bytes) {
        try {
            return REQUEST_READER.readTree(bytes);
        } catch (java.io.IOException e) {
            throw new IllegalArgumentException("invalid JSON: " + e.getMessage(), e);
        }
    }

    public static String write(JsonNode node) {
        try {
            return MAPPER.writeValueAsString(node);
        } catch (JsonProcessingException e) {
            throw new IllegalStateException(e);
        }
    }

    public static byte[] bytes(JsonNode node) {
        try {
            return MAPPER.writeValueAsBytes(node);
        } catch (JsonProcessingException e) {
            throw new IllegalStateException(e);
        }
    }

    /** Text of a node that may be missing, null, a string or a number (providers disagree on error codes). */
    public static String text(JsonNode node) {
        if (node == null || node.isNull() || node.isMissingNode()) return null;
        return node.isValueNode() ? node.asText() : node.toString();
    }
}
