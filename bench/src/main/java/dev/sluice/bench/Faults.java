package dev.sluice.bench;

import java.util.ArrayList;
import java.util.EnumMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.LongAdder;

/**
 * Which requests the fake upstream fails, and how: a fraction {@code rate} of requests, chosen by a seeded hash of
 * the request's sequence number, so a run is reproducible (the n-th faultable request always gets the same fate,
 * whatever the timing) and no state is shared between requests but one counter.
 *
 * <p>The fault rate is asked for per model, as a suffix of the upstream model name: {@code fast+f10} is the
 * {@code fast} model with 10% of requests failed ({@code +f2.5}: 2.5%). A gateway route whose deployments name
 * {@code fast+f10} gets faults; every other model on the same upstream none, so one upstream serves the faulty and
 * the clean cells of a run.
 */
public final class Faults {

    /** What a faulted request gets. */
    public enum Kind {
        /** 500 with an OpenAI error body, before the first byte. */
        HTTP_500("500"),
        /** 503 with an OpenAI error body, before the first byte. */
        HTTP_503("503"),
        /** 429 with {@code Retry-After: 0}, before the first byte. */
        HTTP_429("429"),
        /** The connection is reset (RST) right after the request was read: no byte of an answer. */
        RESET("reset"),
        /** Half the answer is sent, then the connection is reset. */
        MID_RESET("midreset");

        final String label;

        Kind(String label) {
            this.label = label;
        }

        static Kind of(String label) {
            for (var k : values()) if (k.label.equals(label)) return k;
            throw new IllegalArgumentException("unknown fault kind " + label + " (500, 503, 429, reset, midreset)");
        }
    }

    public static final List<Kind> ALL = List.of(Kind.values());

    private final long seed;
    private final List<Kind> kinds;
    private final AtomicLong sequence = new AtomicLong();
    private final LongAdder faultable = new LongAdder();
    private final Map<Kind, LongAdder> injected = new EnumMap<>(Kind.class);

    public Faults(long seed, List<Kind> kinds) {
        if (kinds.isEmpty()) throw new IllegalArgumentException("no fault kinds");
        this.seed = seed;
        this.kinds = List.copyOf(kinds);
        for (var k : Kind.values()) injected.put(k, new LongAdder());
    }

    /** A comma-separated list of kinds ({@code 500,503,429,reset,midreset}), or {@code all}. */
    public static List<Kind> parseKinds(String csv) {
        if (csv == null || csv.isBlank() || csv.equals("all")) return ALL;
        var out = new ArrayList<Kind>();
        for (var s : csv.split(",")) if (!s.isBlank()) out.add(Kind.of(s.strip().toLowerCase(Locale.ROOT)));
        return out;
    }

    /** The model name without a fault suffix, and the fault rate (0..1) it asks for. */
    public record ModelFaults(String model, double rate) {}

    /** {@code fast+f10} is {@code fast} at 10%; a name without {@code +f} has rate 0. */
    public static ModelFaults parseModel(String model) {
        int plus = model.lastIndexOf("+f");
        if (plus < 0) return new ModelFaults(model, 0);
        try {
            double pct = Double.parseDouble(model.substring(plus + 2));
            if (!(pct >= 0 && pct <= 100)) return new ModelFaults(model, 0);
            return new ModelFaults(model.substring(0, plus), pct / 100);
        } catch (NumberFormatException e) {
            return new ModelFaults(model, 0);
        }
    }

    /** The fate of the next request of a model with this fault rate: null (answer normally) or a fault. */
    public Kind next(double rate) {
        if (rate <= 0) return null;
        faultable.increment();
        var k = decide(seed, sequence.getAndIncrement(), rate, kinds);
        if (k != null) injected.get(k).increment();
        return k;
    }

    /**
     * The fate of request number {@code n}: a SplitMix64 hash of (seed, n) gives a uniform draw u in [0,1); u below
     * {@code rate} is a fault, and independent high bits of a second hash pick its kind uniformly.
     */
    static Kind decide(long seed, long n, double rate, List<Kind> kinds) {
        long h = mix(seed ^ mix(n));
        double u = (h >>> 11) * 0x1.0p-53;
        if (u >= rate) return null;
        long h2 = mix(h);
        return kinds.get((int) Long.remainderUnsigned(h2 >>> 1, kinds.size()));
    }

    private static long mix(long z) {
        z += 0x9E3779B97F4A7C15L;
        z = (z ^ (z >>> 30)) * 0xBF58476D1CE4E5B9L;
        z = (z ^ (z >>> 27)) * 0x94D049BB133111EBL;
        return z ^ (z >>> 31);
    }

    /** Counters as JSON, for {@code GET /bench/stats}: requests that could be faulted, and faults by kind. */
    public String statsJson() {
        var sb = new StringBuilder("{\"faultable\":").append(faultable.sum()).append(",\"injected\":{");
        boolean first = true;
        long total = 0;
        for (var e : injected.entrySet()) {
            if (!first) sb.append(',');
            first = false;
            long v = e.getValue().sum();
            total += v;
            sb.append('"').append(e.getKey().label).append("\":").append(v);
        }
        return sb.append("},\"injected_total\":").append(total).append('}').toString();
    }
}
