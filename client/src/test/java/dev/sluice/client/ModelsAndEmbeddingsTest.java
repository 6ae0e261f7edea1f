package dev.sluice.client;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.sluice.client.testing.FakeUpstream;
import dev.sluice.wire.json.Json;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.Base64;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

class ModelsAndEmbeddingsTest {

    @Test
    void listsModels() throws Exception {
        try (var upstream = FakeUpstream.start((ex, req, i) -> FakeUpstream.json(ex, 200, """
                        {"object":"list","data":[{"id":"gpt-4o","object":"model","created":1715367049,"owned_by":"system"},
                                                 {"id":"llama","object":"model","created":0,"owned_by":"me","max_model_len":8192}]}
                        """));
                var client = SluiceClient.builder().baseUrl(upstream.baseUrl()).apiKey("k").build()) {
            var models = client.models();
            assertThat(models).extracting(Model::id).containsExactly("gpt-4o", "llama");
            assertThat(models.getFirst().created()).isEqualTo(1715367049L);
            assertThat(models.getFirst().ownedBy()).isEqualTo("system");
            assertThat(models.get(1).raw().get("max_model_len").asInt()).isEqualTo(8192);
            var request = upstream.requests().getFirst();
            assertThat(request.method()).isEqualTo("GET");
            assertThat(request.path()).isEqualTo("/v1/models");
            assertThat(request.header("Authorization")).isEqualTo("Bearer k");
        }
    }

    @Test
    void embedsAsFloatsAndBase64() throws Exception {
        var buffer = ByteBuffer.allocate(12).order(ByteOrder.LITTLE_ENDIAN).putFloat(0.5f).putFloat(-1.25f).putFloat(3f);
        var base64 = Base64.getEncoder().encodeToString(buffer.array());
        try (var upstream = FakeUpstream.start((ex, req, i) -> {
                    if (req.json().path("encoding_format").asText().equals("base64")) {
                        FakeUpstream.json(ex, 200, "{\"object\":\"list\",\"data\":[{\"object\":\"embedding\",\"index\":0,\"embedding\":\"" + base64 + "\"}],\"model\":\"e\",\"usage\":{\"prompt_tokens\":2,\"total_tokens\":2}}");
                    } else {
                        FakeUpstream.json(ex, 200, "{\"object\":\"list\",\"data\":[{\"object\":\"embedding\",\"index\":1,\"embedding\":[0.25,1]},{\"object\":\"embedding\",\"index\":0,\"embedding\":[0.5,-1.25,3]}],\"model\":\"e\",\"usage\":{\"prompt_tokens\":4,\"total_tokens\":4}}");
                    }
                });
                var client = SluiceClient.builder().baseUrl(upstream.baseUrl()).build()) {
            var floats = client.embeddings("e", List.of("a", "b"));
            assertThat(floats.data()).containsExactly(
                    new Embeddings.Embedding(0, new float[] {0.5f, -1.25f, 3f}),
                    new Embeddings.Embedding(1, new float[] {0.25f, 1f}));
            assertThat(floats.usage().get("total_tokens").asInt()).isEqualTo(4);
            assertThat(upstream.requests().getFirst().json()).isEqualTo(Json.parse("{\"model\":\"e\",\"input\":[\"a\",\"b\"]}"));

            var b64 = client.embeddings(Json.object().put("model", "e").put("input", "a").put("encoding_format", "base64"));
            assertThat(b64.data().getFirst().vector()).containsExactly(0.5f, -1.25f, 3f);
        }
    }

    @Test
    void anEmptySuccessIsAnErrorNotAnEmptyResult() throws Exception {
        try (var upstream = FakeUpstream.start((ex, req, i) -> FakeUpstream.json(ex, 200, ""));
                var client = SluiceClient.builder().baseUrl(upstream.baseUrl()).build()) {
            // Read as "no fields", these were a completion without choices, no models and no vectors.
            assertThatThrownBy(() -> client.chat().create(Json.object().put("model", "m")))
                    .isInstanceOf(IOException.class).hasMessage("the upstream answered 200 with an empty body instead of JSON");
            assertThatThrownBy(client::models).isInstanceOf(IOException.class).hasMessageContaining("empty body");
            assertThatThrownBy(() -> client.embeddings("e", List.of("a"))).isInstanceOf(IOException.class).hasMessageContaining("empty body");
        }
    }

    @Test
    void aModelListWithoutADataArrayIsMalformed() throws Exception {
        try (var upstream = FakeUpstream.start((ex, req, i) -> FakeUpstream.json(ex, 200, "{\"object\":\"list\",\"data\":{\"id\":\"a\"}}"));
                var client = SluiceClient.builder().baseUrl(upstream.baseUrl()).build()) {
            assertThatThrownBy(client::models).isInstanceOf(IOException.class)
                    .hasMessage("the upstream's model list is malformed: it has no data array");
        }
    }

    @ParameterizedTest
    @ValueSource(strings = {"\"!!not base64\"", "\"AAAAAAA=\"", "[\"0.5\",\"1\"]", "[0.5,null]", "null", "{\"x\":1}"})
    void malformedVectorsAreRefused(String embedding) throws Exception {
        try (var upstream = FakeUpstream.start((ex, req, i) -> FakeUpstream.json(ex, 200,
                        "{\"object\":\"list\",\"data\":[{\"index\":0,\"embedding\":" + embedding + "}],\"model\":\"e\"}"));
                var client = SluiceClient.builder().baseUrl(upstream.baseUrl()).build()) {
            // Bad base64 escaped as a bare IllegalArgumentException; strings and nulls became zeros or no vector.
            assertThatThrownBy(() -> client.embeddings("e", List.of("a")))
                    .isExactlyInstanceOf(IOException.class)
                    .hasMessageStartingWith("the upstream's embeddings answer is malformed: data[0].embedding");
        }
    }
}
