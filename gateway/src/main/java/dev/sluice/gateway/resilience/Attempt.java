package dev.sluice.gateway.resilience;

/** One try at a deployment: which, how it ended ({@code ok}, an HTTP status, {@code timeout}, {@code connection}, {@code midstream}). */
public record Attempt(String deployment, String outcome) {

    /** The {@code x-sluice-attempts} header's value: {@code deployment=outcome} for each, comma-separated. */
    public static String describe(java.util.List<Attempt> attempts) {
        if (attempts.size() == 1) return attempts.getFirst().toString(); // nearly always
        var b = new StringBuilder();
        for (var a : attempts) {
            if (!b.isEmpty()) b.append(", ");
            b.append(a);
        }
        return b.toString();
    }

    @Override
    public String toString() {
        return deployment + "=" + outcome;
    }
}
