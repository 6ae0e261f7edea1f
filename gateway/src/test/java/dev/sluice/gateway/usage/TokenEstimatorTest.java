package dev.sluice.gateway.usage;

import static org.assertj.core.api.Assertions.assertThat;

import dev.sluice.wire.json.Json;
import java.time.Duration;
import org.junit.jupiter.api.Test;

class TokenEstimatorTest {

    @Test
    void countsLikeOpenAisTokenizer() {
        // o200k_base: "Hello" " world" "!" — as tiktoken counts them.
        assertThat(TokenEstimator.count("Hello world!")).isEqualTo(3);
        assertThat(TokenEstimator.count("")).isZero();
        assertThat(TokenEstimator.count(null)).isZero();
    }

    @Test
    void promptCountsMessagesAndFraming() {
        var body = Json.parse("{\"messages\":[{\"role\":\"user\",\"content\":\"Hello world!\"}]}");
        // 3 (reply priming) + 3 (message framing) + 1 ("user") + 3 (content)
        assertThat(TokenEstimator.prompt(body)).isEqualTo(10);
    }

    @Test
    void pathologicalTextIsCountedInBoundedTime() {
        var huge = "x".repeat(4_000_000);
        long t0 = System.nanoTime();
        int tokens = TokenEstimator.count(huge);
        assertThat(Duration.ofNanos(System.nanoTime() - t0)).isLessThan(Duration.ofSeconds(20));
        assertThat(tokens).isBetween(100_000, 4_000_000);
    }

    @Test
    void slicesNeverSplitASurrogatePair() {
        var emoji = "😀".repeat(3000); // 6000 chars, pairs straddle every slice boundary
        assertThat(TokenEstimator.count(emoji)).isPositive();
    }
}
