package dev.sluice.gateway.store;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.sluice.wire.json.Json;
import java.util.List;
import java.util.Set;
import java.util.UUID;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/** The repository behaviour every {@link Store} must have; run against SQLite and PostgreSQL. */
abstract class StoreContract {

    protected Store store;
    private final String prefix = "t" + UUID.randomUUID().toString().substring(0, 8) + "_";

    protected abstract Store open() throws Exception;

    @BeforeEach
    void setUp() throws Exception {
        store = open();
    }

    @AfterEach
    void tearDown() {
        if (store != null) store.close();
    }

    private StoredObject message(String id, String thread, String run, String status) {
        var body = Json.object();
        body.put("id", id);
        body.put("object", "thread.message");
        body.put("status", status);
        return new StoredObject(prefix + id, thread, run, SortKeys.next(), status, body, Json.object());
    }

    @Test
    void insertGetUpdateDelete() {
        var repo = store.objects(Kind.MESSAGE);
        var m = message("m1", prefix + "th", null, "in_progress");
        repo.insert(m);
        var got = repo.get(prefix + "m1").orElseThrow();
        assertThat(got.body()).isEqualTo(m.body());
        assertThat(got.status()).isEqualTo("in_progress");

        var body = got.body().deepCopy();
        body.put("status", "completed");
        var internal = Json.object().put("k", 1);
        assertThat(repo.update(got.withBody(body).withInternal(internal))).isTrue();
        var updated = repo.get(prefix + "m1").orElseThrow();
        assertThat(updated.status()).isEqualTo("completed");
        assertThat(updated.internal().path("k").asInt()).isEqualTo(1);

        assertThat(repo.delete(prefix + "m1")).isTrue();
        assertThat(repo.delete(prefix + "m1")).isFalse();
        assertThat(repo.get(prefix + "m1")).isEmpty();
        assertThat(repo.update(updated)).isFalse();
    }

    @Test
    void duplicateIdIsRejected() {
        var repo = store.objects(Kind.ASSISTANT);
        var a = message("dup", null, null, null);
        repo.insert(a);
        assertThatThrownBy(() -> repo.insert(a)).isInstanceOf(StoreException.class);
    }

    @Test
    void paginatesBothWays() {
        var repo = store.objects(Kind.MESSAGE);
        var thread = prefix + "thread";
        for (int i = 0; i < 7; i++) repo.insert(message("p" + i, thread, i % 2 == 0 ? prefix + "run" : null, "completed"));
        repo.insert(message("other", prefix + "elsewhere", null, "completed"));

        var asc = repo.list(thread, null, new PageRequest(3, true, null, null));
        assertThat(ids(asc)).containsExactly("p0", "p1", "p2");
        assertThat(asc.hasMore()).isTrue();
        var next = repo.list(thread, null, new PageRequest(3, true, prefix + "p2", null));
        assertThat(ids(next)).containsExactly("p3", "p4", "p5");
        var last = repo.list(thread, null, new PageRequest(3, true, prefix + "p5", null));
        assertThat(ids(last)).containsExactly("p6");
        assertThat(last.hasMore()).isFalse();

        var desc = repo.list(thread, null, new PageRequest(2, false, null, null));
        assertThat(ids(desc)).containsExactly("p6", "p5");
        var descAfter = repo.list(thread, null, new PageRequest(2, false, prefix + "p5", null));
        assertThat(ids(descAfter)).containsExactly("p4", "p3");
        // "before" walks back towards the start of the list: the page just before the cursor, in list order.
        var descBefore = repo.list(thread, null, new PageRequest(2, false, null, prefix + "p2"));
        assertThat(ids(descBefore)).containsExactly("p4", "p3");
        assertThat(descBefore.hasMore()).isTrue();
        var ascBefore = repo.list(thread, null, new PageRequest(10, true, null, prefix + "p2"));
        assertThat(ids(ascBefore)).containsExactly("p0", "p1");
        assertThat(ascBefore.hasMore()).isFalse();
        var between = repo.list(thread, null, new PageRequest(10, true, prefix + "p1", prefix + "p5"));
        assertThat(ids(between)).containsExactly("p2", "p3", "p4");

        var byRun = repo.list(thread, prefix + "run", new PageRequest(10, true, null, null));
        assertThat(ids(byRun)).containsExactly("p0", "p2", "p4", "p6");
        assertThat(repo.all(thread)).hasSize(7);
        assertThat(repo.list(thread, null, new PageRequest(5, true, prefix + "missing", null)).items()).isEmpty();

        assertThat(repo.deleteByParent(thread)).isEqualTo(7);
        assertThat(repo.all(thread)).isEmpty();
    }

    @Test
    void findsByStatus() {
        var repo = store.objects(Kind.RUN);
        repo.insert(message("r1", prefix + "th", null, "in_progress"));
        repo.insert(message("r2", prefix + "th", null, "completed"));
        repo.insert(message("r3", prefix + "th", null, "queued"));
        var active = repo.withStatus(Set.of("queued", "in_progress")).stream().map(StoredObject::id).filter(id -> id.startsWith(prefix)).toList();
        assertThat(active).containsExactly(prefix + "r1", prefix + "r3");
    }

    @Test
    void runEventLogIsOrderedAndAppendOnly() {
        var log = store.runEvents();
        var run = prefix + "run";
        assertThat(log.lastSeq(run)).isZero();
        for (int i = 1; i <= 5; i++) log.append(new RunEvent(run, i, "thread.message.delta", "{\"i\":" + i + "}", i));
        assertThat(log.lastSeq(run)).isEqualTo(5);
        assertThat(log.read(run, 0, 100)).extracting(RunEvent::seq).containsExactly(1L, 2L, 3L, 4L, 5L);
        assertThat(log.read(run, 2, 2)).extracting(RunEvent::data).containsExactly("{\"i\":3}", "{\"i\":4}");
        assertThatThrownBy(() -> log.append(new RunEvent(run, 3, "x", "{}", 0))).isInstanceOf(StoreException.class);
        log.deleteRun(run);
        assertThat(log.read(run, 0, 100)).isEmpty();
    }

    /** What the Responses API keeps: responses chained by {@code ref_id}, their input items, their events. */
    @Test
    void responsesChainTheirItemsAndEvents() {
        var responses = store.objects(Kind.RESPONSE);
        var items = store.objects(Kind.RESPONSE_ITEM);
        responses.insert(message("resp1", null, null, "completed"));
        responses.insert(message("resp2", null, prefix + "resp1", "in_progress"));
        for (int i = 0; i < 3; i++) items.insert(message("item" + i, prefix + "resp2", null, null));
        assertThat(responses.get(prefix + "resp2").orElseThrow().refId()).isEqualTo(prefix + "resp1");
        assertThat(items.list(prefix + "resp2", null, new PageRequest(2, true, null, null)).items())
                .extracting(o -> o.id().substring(prefix.length())).containsExactly("item0", "item1");
        assertThat(responses.withStatus(Set.of("in_progress")).stream().map(StoredObject::id).filter(id -> id.startsWith(prefix)).toList())
                .containsExactly(prefix + "resp2");
        // A response's events share the run event log, keyed by the response id.
        store.runEvents().append(new RunEvent(prefix + "resp2", 1, "response.created", "{\"sequence_number\":0}", 1));
        assertThat(store.runEvents().read(prefix + "resp2", 0, 10)).extracting(RunEvent::event).containsExactly("response.created");
        assertThat(items.deleteByParent(prefix + "resp2")).isEqualTo(3);
        assertThat(responses.delete(prefix + "resp2")).isTrue();
    }

    @Test
    void survivesReopening() throws Exception {
        if (!durable()) return;
        store.objects(Kind.THREAD).insert(message("kept", null, null, null));
        store.runEvents().append(new RunEvent(prefix + "r", 1, "thread.run.created", "{}", 1));
        store.close();
        store = open();
        assertThat(store.objects(Kind.THREAD).get(prefix + "kept")).isPresent();
        assertThat(store.runEvents().lastSeq(prefix + "r")).isEqualTo(1);
    }

    @Test
    void concurrentWritersAllLand() throws Exception {
        var repo = store.objects(Kind.MESSAGE);
        var thread = prefix + "busy";
        var threads = new java.util.ArrayList<Thread>();
        for (int t = 0; t < 8; t++) {
            int n = t;
            threads.add(Thread.ofVirtual().start(() -> {
                for (int i = 0; i < 25; i++) repo.insert(message("c" + n + "_" + i, thread, null, "completed"));
            }));
        }
        for (var t : threads) t.join();
        assertThat(repo.all(thread)).hasSize(200);
    }

    protected boolean durable() {
        return true;
    }

    private List<String> ids(Page page) {
        return page.items().stream().map(o -> o.id().substring(prefix.length())).toList();
    }
}
