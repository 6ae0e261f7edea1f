package dev.sluice.gateway.usage;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.util.stream.IntStream;
import org.junit.jupiter.api.Test;

class UsageLogTest {

    private static UsageRecord record(int i) {
        return new UsageRecord("req_" + i, "gpt-4o", "openai/gpt-4o", 12, i, i % 2 == 0, 1, "completed");
    }

    @Test
    void everyRecordBecomesOneLineInOrderWithoutTheRequestWaitingForIt() throws Exception {
        var bytes = new ByteArrayOutputStream();
        var log = new UsageLog(new PrintStream(bytes, true, StandardCharsets.UTF_8));
        IntStream.range(0, 1000).parallel().forEach(i -> log.record(record(i)));
        long deadline = System.nanoTime() + 5_000_000_000L;
        while (bytes.toString(StandardCharsets.UTF_8).lines().count() < 1000 && System.nanoTime() < deadline) Thread.sleep(20);
        var lines = bytes.toString(StandardCharsets.UTF_8).lines().toList();
        assertThat(lines).hasSize(1000);
        assertThat(lines).allMatch(l -> l.matches("\\d{4}-\\d\\d-\\d\\dT\\S+Z INFO sluice\\.usage request=req_\\d+ model=gpt-4o "
                + "deployment=openai/gpt-4o prompt=12 completion=\\d+ estimated=(true|false) attempts=1 outcome=completed"));
        assertThat(lines.stream().map(l -> l.replaceAll(".*request=(req_\\d+).*", "$1")).distinct()).hasSize(1000);
    }

    @Test
    void eachLineStartsWithTheTimeTheRecordCameInUtcMilliseconds() {
        var bytes = new ByteArrayOutputStream();
        var log = new UsageLog(new PrintStream(bytes, true, StandardCharsets.UTF_8));
        var before = java.time.Instant.now().truncatedTo(java.time.temporal.ChronoUnit.MILLIS);
        log.record(record(1));
        var after = java.time.Instant.now();
        log.drain();
        var stamp = bytes.toString(StandardCharsets.UTF_8).split(" ", 2)[0];
        assertThat(stamp).matches("\\d{4}-\\d\\d-\\d\\dT\\d\\d:\\d\\d:\\d\\d\\.\\d{3}Z");
        assertThat(java.time.Instant.parse(stamp)).isBetween(before, after);
    }

    @Test
    void drainWritesWhatIsQueuedAtOnce() {
        var bytes = new ByteArrayOutputStream();
        var log = new UsageLog(new PrintStream(bytes, true, StandardCharsets.UTF_8));
        log.record(record(7));
        log.drain();
        assertThat(bytes.toString(StandardCharsets.UTF_8)).contains("request=req_7 ").contains("completion=7 estimated=false").endsWith("\n");
    }
}
