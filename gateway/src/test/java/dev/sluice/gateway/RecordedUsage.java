package dev.sluice.gateway;

import static org.assertj.core.api.Assertions.assertThat;

import dev.sluice.gateway.usage.UsageRecord;
import dev.sluice.gateway.usage.UsageSink;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;

/**
 * Usage records a test gateway wrote. A request's record is written after its last byte went to the
 * client, so a test that has read the whole answer must still wait for the record.
 */
public final class RecordedUsage implements UsageSink {

    private final List<UsageRecord> records = new CopyOnWriteArrayList<>();

    @Override
    public void record(UsageRecord record) {
        records.add(record);
    }

    public List<UsageRecord> all() {
        return List.copyOf(records);
    }

    public void clear() {
        records.clear();
    }

    /** The one record of the request the gateway answered with this {@code x-request-id}. */
    public UsageRecord await(String requestId) throws InterruptedException {
        var deadline = System.nanoTime() + Duration.ofSeconds(10).toNanos();
        while (System.nanoTime() < deadline) {
            var found = records.stream().filter(u -> u.requestId().equals(requestId)).toList();
            if (!found.isEmpty()) {
                assertThat(found).as("one record per request").hasSize(1);
                return found.getFirst();
            }
            Thread.sleep(10);
        }
        throw new AssertionError("no usage record for " + requestId + " in " + records);
    }
}
