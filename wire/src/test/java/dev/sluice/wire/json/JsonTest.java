package dev.sluice.wire.json;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import java.io.ByteArrayOutputStream;
import java.math.BigDecimal;
import java.math.BigInteger;
import java.nio.charset.StandardCharsets;
import org.junit.jupiter.api.Test;

class JsonTest {

    /** Every kind of node a tree can hold, parsed and built, nested. */
    private static JsonNode everyKind() {
        var parsed = Json.parse("""
                {"s":"caf\\u00e9 \\"q\\" \\n \\u2028","i":-7,"l":12345678901234,"big":123456789012345678901234567890,
                 "d":1.5e-7,"neg":-0.0,"t":true,"f":false,"n":null,"e":{},"a":[],"deep":[[{"x":[1,{"y":null}]}]],
                 "unicode":"\\ud83d\\ude00"}""");
        var built = Json.object();
        built.put("float", 1.25f).put("short", (short) 3).put("decimal", new BigDecimal("1.10"))
                .put("bigint", new BigInteger("-98765432109876543210")).put("binary", new byte[] {0, 1, 2, (byte) 255})
                .putPOJO("pojo", java.util.List.of(1, "two")).putNull("nothing");
        built.putArray("mixed").add(1).add("2").addNull().add(3.0).add(true);
        built.set("parsed", parsed);
        return built;
    }

    @Test
    void writeTreeWritesWhatTheMapperWritesByteForByte() throws Exception {
        var tree = everyKind();
        var ours = new ByteArrayOutputStream();
        try (var g = Json.FACTORY.createGenerator(ours)) {
            Json.writeTree(g, tree);
        }
        var mappers = new ByteArrayOutputStream();
        try (var g = Json.FACTORY.createGenerator(mappers)) {
            Json.MAPPER.writeTree(g, tree);
        }
        assertThat(ours.toString(StandardCharsets.UTF_8)).isEqualTo(mappers.toString(StandardCharsets.UTF_8));
        assertThat(Json.bytes(tree)).isEqualTo(Json.MAPPER.writeValueAsBytes(tree));
    }

    @Test
    void bytesAreTheUtf8OfTheTreeAndRepeatable() {
        var tree = Json.parse("{\"model\":\"m\",\"messages\":[{\"role\":\"user\",\"content\":\"h\\u00e9\"}]}");
        var first = Json.bytes(tree);
        assertThat(new String(first, StandardCharsets.UTF_8)).isEqualTo("{\"model\":\"m\",\"messages\":[{\"role\":\"user\",\"content\":\"hé\"}]}");
        // The buffers go back to the pool after each call: a second call must not see the first one's bytes.
        assertThat(Json.bytes(Json.parse("[1]"))).isEqualTo("[1]".getBytes(StandardCharsets.UTF_8));
        assertThat(Json.bytes(tree)).isEqualTo(first);
    }

    @Test
    void readTreeReadsWhatTheMapperReadsNodeTypeForNodeType() throws Exception {
        var docs = java.util.List.of(
                "{\"model\":\"m\",\"n\":2,\"temperature\":0.7,\"seed\":12345678901,\"max\":99999999999999999999999,"
                        + "\"e\":1e400,\"tiny\":-4.9E-324,\"z\":-0,\"messages\":[{\"role\":\"user\",\"content\":[{\"type\":\"text\",\"text\":\"h\\u00e9\"}]}],"
                        + "\"metadata\":{},\"stop\":[],\"stream\":false,\"user\":null,\"logprobs\":true}",
                "{\"a\":1,\"b\":2,\"a\":{\"x\":[1,2,{\"y\":\"z\"}]}}", // a repeated key: its last value, in its first place
                "[1,[2,[3,[4,[]]]],{\"\":\"\"}]", "\"text\"", "42", "-9223372036854775809", "3.14", "true", "null");
        for (var doc : docs) {
            var expected = Json.MAPPER.readTree(doc);
            var read = Json.parseRequest(doc.getBytes(StandardCharsets.UTF_8));
            assertThat(read).as(doc).isEqualTo(expected);
            assertThat(Json.bytes(read)).as(doc).isEqualTo(Json.MAPPER.writeValueAsBytes(expected));
            assertNodeTypes(read, expected);
            try (var p = Json.FACTORY.createParser(doc)) {
                p.nextToken();
                assertThat(Json.readTree(p)).isEqualTo(expected);
                assertThat(p.nextToken()).as("left on the value's last token").isNull();
            }
        }
    }

    private static void assertNodeTypes(JsonNode read, JsonNode expected) {
        assertThat(read.getClass()).isEqualTo(expected.getClass());
        var readNames = new java.util.ArrayList<String>();
        read.fieldNames().forEachRemaining(readNames::add);
        var expectedNames = new java.util.ArrayList<String>();
        expected.fieldNames().forEachRemaining(expectedNames::add);
        assertThat(readNames).isEqualTo(expectedNames);
        for (int i = 0; i < expected.size(); i++) {
            if (expected.isArray()) assertNodeTypes(read.get(i), expected.get(i));
        }
        expected.fields().forEachRemaining(e -> assertNodeTypes(read.get(e.getKey()), e.getValue()));
    }

    @Test
    void aRequestBodyIsOneValueAndNothingElse() {
        assertThat(Json.parseRequest(new byte[0]).isMissingNode()).as("an empty body, as the mapper reads it").isTrue();
        assertThat(Json.parseRequest(" {\"a\":1} \n".getBytes(StandardCharsets.UTF_8)).get("a").intValue()).isEqualTo(1);
        for (var bad : java.util.List.of("{\"a\":1} garbage", "{}{}", "{\"a\":1", "{\"a\" 1}", "[1,]", "{\"a\":NaN}", "\u0000")) {
            org.assertj.core.api.Assertions.assertThatIllegalArgumentException().as(bad)
                    .isThrownBy(() -> Json.parseRequest(bad.getBytes(StandardCharsets.UTF_8)));
        }
    }
}
