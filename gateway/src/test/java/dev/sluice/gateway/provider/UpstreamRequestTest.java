package dev.sluice.gateway.provider;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.sluice.wire.json.Json;
import org.junit.jupiter.api.Test;

class UpstreamRequestTest {

    private static final String CLIENT = "{\"model\":\"public\",\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}],"
            + "\"stream_options\":{\"include_usage\":false,\"x\":1},\"temperature\":0.5,\"stream\":true}";

    private static UpstreamRequest request(ObjectNode body) {
        return new UpstreamRequest(body, "upstream-model", null, null, null, true);
    }

    @Test
    void upstreamBodiesChangeTheirOwnTopLevelOnlyAndNeverTheClientsBody() {
        var client = (ObjectNode) Json.parse(CLIENT);
        var request = request(client);

        var whole = request.wholeBody();
        assertThat(Json.write(whole)).isEqualTo("{\"model\":\"upstream-model\",\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}],"
                + "\"temperature\":0.5,\"stream\":false}");
        var streaming = request.streamingBody();
        assertThat(Json.write(streaming)).isEqualTo("{\"model\":\"upstream-model\",\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}],"
                + "\"stream_options\":{\"include_usage\":true,\"x\":1},\"temperature\":0.5,\"stream\":true}");
        // What a provider does to a body it was given (rename the token limit) stays in that body.
        whole.put("max_tokens", 5);
        streaming.remove("temperature");
        assertThat(Json.write(client)).as("the client's body, as it came").isEqualTo(CLIENT);
    }

    @Test
    void streamOptionsAreAddedWhenAbsentOrNull() {
        var absent = request((ObjectNode) Json.parse("{\"model\":\"m\",\"messages\":[]}")).streamingBody();
        assertThat(Json.write(absent)).isEqualTo("{\"model\":\"upstream-model\",\"messages\":[],\"stream\":true,\"stream_options\":{\"include_usage\":true}}");
        var nul = request((ObjectNode) Json.parse("{\"model\":\"m\",\"stream_options\":null,\"messages\":[]}")).streamingBody();
        assertThat(Json.write(nul)).isEqualTo("{\"model\":\"upstream-model\",\"stream_options\":{\"include_usage\":true},\"messages\":[],\"stream\":true}");
    }
}
