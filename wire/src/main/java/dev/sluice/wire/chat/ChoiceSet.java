package dev.sluice.wire.chat;

import java.util.HashSet;

/**
 * A set of choice indexes, asked about for every event of an answer. Indexes 0–63 are bits of one long, so the
 * common case (n=1, index 0) neither boxes nor hashes; any other int an upstream sends goes to a hash set.
 */
public final class ChoiceSet {

    private long low;
    private HashSet<Integer> other; // null until an index outside 0..63 arrives

    /** True if {@code choice} was not in the set. */
    public boolean add(int choice) {
        if (choice >= 0 && choice < Long.SIZE) {
            long bit = 1L << choice;
            boolean added = (low & bit) == 0;
            low |= bit;
            return added;
        }
        if (other == null) other = new HashSet<>();
        return other.add(choice);
    }

    public boolean contains(int choice) {
        if (choice >= 0 && choice < Long.SIZE) return (low & (1L << choice)) != 0;
        return other != null && other.contains(choice);
    }

    public boolean isEmpty() {
        return low == 0 && (other == null || other.isEmpty());
    }

    /** Whether the set holds {@code choice} and nothing else. */
    public boolean isOnly(int choice) {
        if (choice >= 0 && choice < Long.SIZE) return low == 1L << choice && (other == null || other.isEmpty());
        return low == 0 && other != null && other.size() == 1 && other.contains(choice);
    }

    public boolean containsAll(ChoiceSet that) {
        return (that.low & ~low) == 0 && (that.other == null || that.other.isEmpty() || (other != null && other.containsAll(that.other)));
    }
}
