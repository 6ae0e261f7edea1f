package dev.sluice.client;

import com.fasterxml.jackson.databind.JsonNode;
import dev.sluice.wire.json.Json;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Base64;
import java.util.List;

/** The answer of {@code POST /embeddings}: one vector per input, in input order. */
public record Embeddings(String model, List<Embedding> data, JsonNode usage, JsonNode raw) {

    public Embeddings {
        data = List.copyOf(data);
    }

    /** One vector. The array is copied in and out, so the record stays immutable. */
    public record Embedding(int index, float[] vector) {

        public Embedding {
            vector = vector.clone();
        }

        @Override
        public float[] vector() {
            return vector.clone();
        }

        @Override
        public boolean equals(Object o) {
            return o instanceof Embedding e && e.index == index && Arrays.equals(e.vector, vector);
        }

        @Override
        public int hashCode() {
            return 31 * index + Arrays.hashCode(vector);
        }

        @Override
        public String toString() {
            return "Embedding[index=" + index + ", dimensions=" + vector.length + "]";
        }
    }

    /** @throws IOException when the answer is not a list of vectors (a broken upstream, not an empty result) */
    static Embeddings of(JsonNode answer) throws IOException {
        var data = answer.get("data");
        if (data == null || !data.isArray()) throw malformed("it has no data array");
        var list = new ArrayList<Embedding>();
        int position = 0;
        for (var item : data) {
            int index = item.has("index") ? item.get("index").asInt() : position;
            list.add(new Embedding(index, vector(item.path("embedding"), position)));
            position++;
        }
        list.sort((a, b) -> Integer.compare(a.index(), b.index()));
        return new Embeddings(Json.text(answer.get("model")), list, answer.get("usage"), answer);
    }

    /**
     * A JSON array of numbers, or (encoding_format "base64") little-endian float32s in base64. Anything else
     * is refused: read leniently, strings and nulls became zeros or empty vectors, and bad base64 escaped as a
     * bare IllegalArgumentException.
     */
    private static float[] vector(JsonNode node, int position) throws IOException {
        if (node.isTextual()) {
            byte[] bytes;
            try {
                bytes = Base64.getDecoder().decode(node.asText());
            } catch (IllegalArgumentException e) {
                throw malformed("data[" + position + "].embedding is not valid base64");
            }
            if (bytes.length % 4 != 0) throw malformed("data[" + position + "].embedding is not a whole number of float32s");
            var floats = new float[bytes.length / 4];
            ByteBuffer.wrap(bytes).order(ByteOrder.LITTLE_ENDIAN).asFloatBuffer().get(floats);
            return floats;
        }
        if (!node.isArray()) throw malformed("data[" + position + "].embedding is neither an array of numbers nor base64");
        var floats = new float[node.size()];
        for (int i = 0; i < floats.length; i++) {
            var value = node.get(i);
            if (!value.isNumber()) throw malformed("data[" + position + "].embedding[" + i + "] is not a number");
            floats[i] = (float) value.asDouble();
        }
        return floats;
    }

    private static IOException malformed(String why) {
        return new IOException("the upstream's embeddings answer is malformed: " + why);
    }
}
