package dev.sluice.wire.json;

import com.fasterxml.jackson.core.JsonFactory;
import com.fasterxml.jackson.core.JsonGenerator;
import com.fasterxml.jackson.core.JsonParser;
import com.fasterxml.jackson.core.JsonToken;
import com.fasterxml.jackson.core.util.ByteArrayBuilder;
import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.BooleanNode;
import com.fasterxml.jackson.databind.node.DoubleNode;
import com.fasterxml.jackson.databind.node.IntNode;
import com.fasterxml.jackson.databind.node.JsonNodeFactory;
import com.fasterxml.jackson.databind.node.LongNode;
import com.fasterxml.jackson.databind.node.MissingNode;
import com.fasterxml.jackson.databind.node.NullNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import com.fasterxml.jackson.databind.node.TextNode;
import java.io.IOException;

/** The one shared Jackson setup: plain tree model, no reflection-based binding of our own types. */
public final class Json {

    /** Buffers for parsers and generators; see {@link BufferPool}. */
    public static final ObjectMapper MAPPER = new ObjectMapper(JsonFactory.builder().recyclerPool(new BufferPool()).build());
    public static final JsonFactory FACTORY = MAPPER.getFactory();
    public static final JsonNodeFactory NODES = JsonNodeFactory.instance;

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
     * is invalid too (a parser stops after the first value, so {@code {...} garbage} or {@code {...}{...}} would
     * otherwise pass as the first object alone). The exception's message is the parser's, for logs, not for the
     * client.
     */
    public static JsonNode parseRequest(byte[] bytes) {
        try (var p = FACTORY.createParser(bytes)) {
            if (p.nextToken() == null) return MissingNode.getInstance(); // as the mapper reads an empty body
            var node = readTree(p);
            if (p.nextToken() != null) throw new IllegalArgumentException("invalid JSON: trailing token " + p.currentToken() + " after the value");
            return node;
        } catch (java.io.IOException e) {
            throw new IllegalArgumentException("invalid JSON: " + e.getMessage(), e);
        }
    }

    /**
     * The value at the parser's current token, as {@code MAPPER.readTree(p)} reads it (the same node types; a
     * repeated key's last value, in its first place), leaving the parser on the value's last token. Without the
     * mapper's deserialization context, made afresh for each call, and its deserializer lookup: the gateway reads
     * a tree for every request body and several small ones (usage, tool arguments) for every answer.
     */
    public static JsonNode readTree(JsonParser p) throws IOException {
        var t = p.currentToken();
        if (t == null) throw new com.fasterxml.jackson.core.JsonParseException(p, "no value");
        return switch (t) {
            case START_OBJECT -> {
                var o = NODES.objectNode();
                for (String name; (name = p.nextFieldName()) != null; ) {
                    p.nextToken();
                    o.replace(name, readTree(p));
                }
                yield o;
            }
            case START_ARRAY -> {
                var a = NODES.arrayNode();
                while (p.nextToken() != JsonToken.END_ARRAY) a.add(readTree(p));
                yield a;
            }
            case VALUE_STRING -> NODES.textNode(p.getText());
            case VALUE_NUMBER_INT -> switch (p.getNumberType()) {
                case INT -> NODES.numberNode(p.getIntValue());
                case LONG -> NODES.numberNode(p.getLongValue());
                default -> NODES.numberNode(p.getBigIntegerValue());
            };
            case VALUE_NUMBER_FLOAT -> p.getNumberType() == JsonParser.NumberType.BIG_DECIMAL
                    ? NODES.numberNode(p.getDecimalValue()) : NODES.numberNode(p.getDoubleValue());
            case VALUE_TRUE -> NODES.booleanNode(true);
            case VALUE_FALSE -> NODES.booleanNode(false);
            case VALUE_NULL -> NODES.nullNode();
            default -> MAPPER.readTree(p); // not in JSON text (embedded objects); the mapper knows what to make of it
        };
    }

    public static String write(JsonNode node) {
        try {
            return MAPPER.writeValueAsString(node);
        } catch (JsonProcessingException e) {
            throw new IllegalStateException(e);
        }
    }

    public static byte[] bytes(JsonNode node) {
        var recycler = FACTORY._getBufferRecycler();
        try (var out = new ByteArrayBuilder(recycler); var g = FACTORY.createGenerator(out)) {
            writeTree(g, node);
            g.flush();
            return out.getClearAndRelease();
        } catch (IOException e) {
            throw new IllegalStateException(e);
        } finally {
            recycler.releaseToPool();
        }
    }

    /**
     * Writes a tree as {@code MAPPER.writeTree} does, byte for byte, without a serializer provider: the mapper
     * makes one per call and looks up the node's serializer, work repeated for every tree the gateway writes on
     * its hot path (each request's upstream body, each answer's usage).
     */
    public static void writeTree(JsonGenerator g, JsonNode node) throws IOException {
        switch (node) {
            case ObjectNode o -> {
                g.writeStartObject(o);
                for (var e : o.properties()) {
                    g.writeFieldName(e.getKey());
                    writeTree(g, e.getValue());
                }
                g.writeEndObject();
            }
            case ArrayNode a -> {
                g.writeStartArray(a, a.size());
                for (var e : a) writeTree(g, e);
                g.writeEndArray();
            }
            case TextNode t -> g.writeString(t.textValue());
            case IntNode i -> g.writeNumber(i.intValue());
            case LongNode l -> g.writeNumber(l.longValue());
            case DoubleNode d -> g.writeNumber(d.doubleValue());
            case BooleanNode b -> g.writeBoolean(b.booleanValue());
            case NullNode n -> g.writeNull();
            // The rare kinds (BigInteger, BigDecimal, float, short, binary, POJO) as the mapper writes them.
            default -> MAPPER.writeTree(g, node);
        }
    }

    /** Text of a node that may be missing, null, a string or a number (providers disagree on error codes). */
    public static String text(JsonNode node) {
        if (node == null || node.isNull() || node.isMissingNode()) return null;
        return node.isValueNode() ? node.asText() : node.toString();
    }
}
