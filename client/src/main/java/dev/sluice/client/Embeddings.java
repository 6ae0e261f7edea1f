package dev.sluice.client;

import com.fasterxml.jackson.databind.JsonNode;
import dev.sluice.wire.json.Json;
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

    static Embeddings of(JsonNode answer) {
        var list = new ArrayList<Embedding>();
        int position = 0;
        for (var item : answer.path("data")) {
            int index = item.has("index") ? item.get("index").asInt() : position;
            list.add(new Embedding(index, vector(item.path("embedding"))));
            position++;
        }
        list.sort((a, b) -> Integer.compare(a.index(), b.index()));
        return new Embeddings(Json.text(answer.get("model")), list, answer.get("usage"), answer);
    }

    /** A JSON array of numbers, or (encoding_format "base64") little-endian float32s in base64. */
    private static float[] vector(JsonNode node) {
        if (node.isTextual()) {
            var buffer = ByteBuffer.wrap(Base64.getDecoder().decode(node.asText())).order(ByteOrder.LITTLE_ENDIAN);
            var floats = new float[buffer.remaining() / 4];
            buffer.asFloatBuffer().get(floats);
            return floats;
        }
        var floats = new float[node.size()];
        for (int i = 0; i < floats.length; i++) floats[i] = (float) node.get(i).asDouble();
        return floats;
    }
}
