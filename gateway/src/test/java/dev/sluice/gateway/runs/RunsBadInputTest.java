package dev.sluice.gateway.runs;

import static org.assertj.core.api.Assertions.assertThat;

import dev.sluice.wire.openapi.OpenApiValidator;
import java.nio.file.Path;
import java.sql.DriverManager;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Bad input on the Assistants API, found by black-box QA: parameters of the wrong type are refused instead
 * of ignored, and a refused create-and-run stores nothing.
 */
class RunsBadInputTest {

    @TempDir
    static Path dir;

    static AssistantsClient api;
    static OpenApiValidator spec;

    @BeforeAll
    static void start() throws Exception {
        api = new AssistantsClient(dir);
        spec = OpenApiValidator.shared();
    }

    @AfterAll
    static void stop() {
        api.close();
    }

    private static long threadsStored() throws Exception {
        try (var c = DriverManager.getConnection("jdbc:sqlite:" + dir.resolve("sluice.db"));
                var rs = c.createStatement().executeQuery("SELECT COUNT(*) FROM threads")) {
            rs.next();
            return rs.getLong(1);
        }
    }

    private static void assertError(AssistantsClient.Response r, int status, String param) {
        assertThat(r.status()).as("%s", r.json()).isEqualTo(status);
        spec.assertValid("ErrorResponse", r.json());
        assertThat(r.json().at("/error/param").asText()).isEqualTo(param);
    }

    @Test
    void createAndRunRefusedForItsRunStoresNoThread() throws Exception {
        var a = api.assistant("fast", "");
        long before = threadsStored();
        var thread = ",\"thread\":{\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}]}";
        assertError(api.call("POST", "/threads/runs", "{\"assistant_id\":\"" + a + "\",\"temperature\":9" + thread + "}"), 400, "temperature");
        assertError(api.call("POST", "/threads/runs", "{\"assistant_id\":\"" + a + "\",\"model\":\"nope\"" + thread + "}"), 404, "model");
        assertError(api.call("POST", "/threads/runs", "{\"assistant_id\":\"" + a + "\",\"tool_choice\":\"maybe\"" + thread + "}"), 400, "tool_choice");
        assertThat(threadsStored()).isEqualTo(before);
        // A valid one still stores its thread.
        var run = api.post("/threads/runs", "{\"assistant_id\":\"" + a + "\"" + thread + "}");
        assertThat(threadsStored()).isEqualTo(before + 1);
        assertThat(api.await(run.get("thread_id").asText(), run.get("id").asText()).get("status").asText()).isEqualTo("completed");
    }

    @Test
    void parametersOfTheWrongTypeAreRefusedNotIgnored() throws Exception {
        var a = api.assistant("fast", "");
        assertError(api.call("POST", "/threads/runs", "{\"assistant_id\":\"" + a + "\",\"thread\":\"thread_abc\"}"), 400, "thread");
        var t = api.thread("hi");
        assertError(api.call("POST", "/threads/" + t + "/runs", "{\"assistant_id\":\"" + a + "\",\"model\":123}"), 400, "model");
        // Nothing was started on the thread by the refused request.
        assertThat(api.get("/threads/" + t + "/runs").get("data")).isEmpty();
    }

    @Test
    void assistantTextFieldsHaveOpenAisMaximumLengths() throws Exception {
        assertError(api.call("POST", "/assistants", "{\"model\":\"fast\",\"name\":\"" + "n".repeat(257) + "\"}"), 400, "name");
        assertError(api.call("POST", "/assistants", "{\"model\":\"fast\",\"description\":\"" + "d".repeat(513) + "\"}"), 400, "description");
        var r = api.call("POST", "/assistants", "{\"model\":\"fast\",\"instructions\":\"" + "i".repeat(256_001) + "\"}");
        assertError(r, 400, "instructions");
        assertThat(r.json().at("/error/code").asText()).isEqualTo("string_above_max_length");
        var a = api.assistant("fast", "");
        assertError(api.call("POST", "/assistants/" + a, "{\"name\":\"" + "n".repeat(257) + "\"}"), 400, "name");
        var ok = api.post("/assistants", "{\"model\":\"fast\",\"name\":\"" + "n".repeat(256) + "\",\"description\":\"" + "d".repeat(512) + "\"}");
        assertThat(ok.get("name").asText()).hasSize(256);
    }

    @Test
    void toolOutputsMustBeStrings() throws Exception {
        var a = api.assistant("tools", ",\"tools\":[{\"type\":\"function\",\"function\":{\"name\":\"get_weather\"}},{\"type\":\"function\",\"function\":{\"name\":\"get_time\"}}]");
        var t = api.thread("Weather?");
        var run = api.await(t, api.post("/threads/" + t + "/runs", "{\"assistant_id\":\"" + a + "\"}").get("id").asText());
        assertThat(run.get("status").asText()).isEqualTo("requires_action");
        var path = "/threads/" + t + "/runs/" + run.get("id").asText() + "/submit_tool_outputs";
        var calls = run.at("/required_action/submit_tool_outputs/tool_calls");
        var id0 = calls.get(0).get("id").asText();
        var id1 = calls.get(1).get("id").asText();
        assertError(api.call("POST", path, "{\"tool_outputs\":[{\"tool_call_id\":\"" + id0 + "\",\"output\":{\"temp\":20}},{\"tool_call_id\":\"" + id1 + "\",\"output\":\"12:00\"}]}"),
                400, "tool_outputs[0].output");
        assertError(api.call("POST", path, "{\"tool_outputs\":{}}"), 400, "tool_outputs");
        assertThat(api.call("POST", path, "{\"tool_outputs\":{}}").json().at("/error/message").asText()).contains("expected an array");
        // Still waiting, and a correct submission goes through.
        assertThat(api.get("/threads/" + t + "/runs/" + run.get("id").asText()).get("status").asText()).isEqualTo("requires_action");
        api.post(path, "{\"tool_outputs\":[{\"tool_call_id\":\"" + id0 + "\",\"output\":\"20C\"},{\"tool_call_id\":\"" + id1 + "\",\"output\":\"12:00\"}]}");
    }

}
