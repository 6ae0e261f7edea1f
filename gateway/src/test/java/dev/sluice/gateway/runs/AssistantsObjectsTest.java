package dev.sluice.gateway.runs;

import static org.assertj.core.api.Assertions.assertThat;

import dev.sluice.wire.openapi.OpenApiValidator;
import java.nio.file.Path;
import java.util.ArrayList;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Assistants, threads and messages: CRUD, pagination, metadata, and OpenAI's 404/400 answers. */
class AssistantsObjectsTest {

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

    @Test
    void assistantCrud() throws Exception {
        var created = api.post("/assistants", """
                {"model":"fast","name":"Math","instructions":"Be exact.","tools":[{"type":"function","function":{"name":"add","parameters":{"type":"object"}}}],"metadata":{"team":"a"}}""");
        spec.assertValid("AssistantObject", created);
        assertThat(created.get("id").asText()).startsWith("asst_");
        var id = created.get("id").asText();
        assertThat(api.get("/assistants/" + id)).isEqualTo(created);
        var modified = api.post("/assistants/" + id, "{\"name\":\"Maths\",\"metadata\":{\"team\":\"b\"}}");
        assertThat(modified.get("name").asText()).isEqualTo("Maths");
        assertThat(modified.get("instructions").asText()).isEqualTo("Be exact.");
        assertThat(modified.path("metadata").path("team").asText()).isEqualTo("b");
        var deleted = api.call("DELETE", "/assistants/" + id, null);
        assertThat(deleted.json().toString()).isEqualTo("{\"id\":\"" + id + "\",\"object\":\"assistant.deleted\",\"deleted\":true}");
        spec.assertValid("DeleteAssistantResponse", deleted.json());
        assertThat(api.call("GET", "/assistants/" + id, null).status()).isEqualTo(404);
    }

    @Test
    void threadsAndMessages() throws Exception {
        var thread = api.post("/threads", "{\"messages\":[{\"role\":\"user\",\"content\":\"Hello\"}],\"metadata\":{\"k\":\"v\"}}");
        spec.assertValid("ThreadObject", thread);
        var t = thread.get("id").asText();
        assertThat(t).startsWith("thread_");
        var m = api.post("/threads/" + t + "/messages", "{\"role\":\"user\",\"content\":[{\"type\":\"text\",\"text\":\"Second\"}]}");
        spec.assertValid("MessageObject", m);
        assertThat(m.at("/content/0/text/value").asText()).isEqualTo("Second");
        assertThat(m.at("/content/0/text/annotations").isArray()).isTrue();
        var list = api.get("/threads/" + t + "/messages?order=asc");
        spec.assertValid("ListMessagesResponse", list);
        assertThat(list.get("data")).hasSize(2);
        assertThat(list.at("/data/0/content/0/text/value").asText()).isEqualTo("Hello");
        var mod = api.post("/threads/" + t + "/messages/" + m.get("id").asText(), "{\"metadata\":{\"seen\":\"yes\"}}");
        assertThat(mod.at("/metadata/seen").asText()).isEqualTo("yes");
        assertThat(api.post("/threads/" + t, "{\"metadata\":{\"k\":\"w\"}}").at("/metadata/k").asText()).isEqualTo("w");
        assertThat(api.call("DELETE", "/threads/" + t + "/messages/" + m.get("id").asText(), null).json().get("object").asText()).isEqualTo("thread.message.deleted");
        assertThat(api.call("DELETE", "/threads/" + t, null).json().get("deleted").asBoolean()).isTrue();
        assertThat(api.call("GET", "/threads/" + t + "/messages", null).status()).isEqualTo(404);
    }

    @Test
    void paginationWalksEveryItemOnce() throws Exception {
        var t = api.post("/threads", "{}").get("id").asText();
        var ids = new ArrayList<String>();
        for (int i = 0; i < 7; i++) ids.add(api.post("/threads/" + t + "/messages", "{\"role\":\"user\",\"content\":\"m" + i + "\"}").get("id").asText());
        var seen = new ArrayList<String>();
        String after = null;
        while (true) {
            var page = api.get("/threads/" + t + "/messages?limit=3&order=asc" + (after == null ? "" : "&after=" + after));
            spec.assertValid("ListMessagesResponse", page);
            page.get("data").forEach(d -> seen.add(d.get("id").asText()));
            if (!page.get("has_more").asBoolean()) break;
            after = page.get("last_id").asText();
        }
        assertThat(seen).isEqualTo(ids);
        var desc = api.get("/threads/" + t + "/messages?limit=2");
        assertThat(desc.at("/data/0/id").asText()).isEqualTo(ids.get(6));
        assertThat(desc.get("first_id").asText()).isEqualTo(ids.get(6));
        assertThat(desc.get("last_id").asText()).isEqualTo(ids.get(5));
        var before = api.get("/threads/" + t + "/messages?limit=2&order=asc&before=" + ids.get(3));
        assertThat(before.at("/data/0/id").asText()).isEqualTo(ids.get(1));
        assertThat(before.at("/data/1/id").asText()).isEqualTo(ids.get(2));
        var empty = api.get("/threads/" + api.post("/threads", "{}").get("id").asText() + "/messages");
        assertThat(empty.toString()).isEqualTo("{\"object\":\"list\",\"data\":[],\"first_id\":null,\"last_id\":null,\"has_more\":false}");
    }

    @Test
    void badInput() throws Exception {
        var missing = api.call("GET", "/threads/thread_nope", null);
        assertThat(missing.status()).isEqualTo(404);
        assertThat(missing.json().at("/error/type").asText()).isEqualTo("invalid_request_error");
        assertThat(missing.json().at("/error/message").asText()).contains("thread_nope");
        assertThat(api.call("GET", "/assistants/asst_nope", null).status()).isEqualTo(404);
        assertThat(api.call("POST", "/threads/thread_nope/runs", "{\"assistant_id\":\"asst_x\"}").status()).isEqualTo(404);
        var t = api.thread("hi");
        assertThat(api.call("GET", "/threads/" + t + "/runs/run_nope", null).status()).isEqualTo(404);
        assertThat(api.call("POST", "/threads/" + t + "/runs", "{\"assistant_id\":\"asst_nope\"}").status()).isEqualTo(404);
        assertThat(api.call("GET", "/threads/" + t + "/messages/msg_nope", null).status()).isEqualTo(404);
        var noModel = api.call("POST", "/assistants", "{\"name\":\"x\"}");
        assertThat(noModel.status()).isEqualTo(400);
        assertThat(noModel.json().at("/error/param").asText()).isEqualTo("model");
        assertThat(api.call("POST", "/assistants", "{\"model\":\"no-such-model\"}").status()).isEqualTo(404);
        assertThat(api.call("POST", "/threads/" + t + "/messages", "{\"role\":\"system\",\"content\":\"x\"}").status()).isEqualTo(400);
        assertThat(api.call("POST", "/threads/" + t + "/messages", "{\"role\":\"user\"}").status()).isEqualTo(400);
        assertThat(api.call("GET", "/threads/" + t + "/messages?limit=0", null).status()).isEqualTo(400);
        assertThat(api.call("GET", "/threads/" + t + "/messages?order=sideways", null).status()).isEqualTo(400);
        assertThat(api.call("POST", "/threads", "{not json").status()).isEqualTo(400);
        assertThat(api.call("PUT", "/threads/" + t, "{}").status()).isEqualTo(405);
    }
}
