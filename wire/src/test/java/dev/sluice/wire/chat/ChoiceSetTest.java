package dev.sluice.wire.chat;

import static org.assertj.core.api.Assertions.assertThat;

import org.junit.jupiter.api.Test;

class ChoiceSetTest {

    @Test
    void holdsAnyIntAnUpstreamSendsAsAChoiceIndex() {
        var set = new ChoiceSet();
        assertThat(set.isEmpty()).isTrue();
        assertThat(set.isOnly(0)).isFalse();
        assertThat(set.add(0)).isTrue();
        assertThat(set.add(0)).isFalse();
        assertThat(set.isOnly(0)).isTrue();
        for (int i : new int[] {63, 64, -1, Integer.MAX_VALUE, Integer.MIN_VALUE}) {
            assertThat(set.contains(i)).as("%d before", i).isFalse();
            assertThat(set.add(i)).as("%d added", i).isTrue();
            assertThat(set.contains(i)).as("%d after", i).isTrue();
            assertThat(set.add(i)).as("%d again", i).isFalse();
        }
        assertThat(set.isOnly(0)).isFalse();
        assertThat(set.contains(1)).isFalse();
        assertThat(set.contains(65)).isFalse();

        var high = new ChoiceSet();
        high.add(100);
        assertThat(high.isOnly(100)).isTrue();
        assertThat(high.isOnly(0)).isFalse();
        assertThat(high.isEmpty()).isFalse();
    }

    @Test
    void containsAllComparesBothTheBitsAndTheRest() {
        var seen = new ChoiceSet();
        var finished = new ChoiceSet();
        assertThat(finished.containsAll(seen)).isTrue();
        seen.add(0);
        seen.add(1);
        finished.add(0);
        assertThat(finished.containsAll(seen)).isFalse();
        finished.add(1);
        assertThat(finished.containsAll(seen)).isTrue();
        seen.add(200);
        assertThat(finished.containsAll(seen)).isFalse();
        finished.add(200);
        finished.add(7);
        assertThat(finished.containsAll(seen)).isTrue();
        assertThat(seen.containsAll(finished)).isFalse();
    }
}
