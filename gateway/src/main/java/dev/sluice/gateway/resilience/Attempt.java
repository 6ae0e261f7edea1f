package dev.sluice.gateway.resilience;

/** One try at a deployment: which, how it ended ({@code ok}, an HTTP status, {@code timeout}, {@code connection}, {@code midstream}). */
public record Attempt(String deployment, String outcome) {

    @Override
    public String toString() {
        return deployment + "=" + outcome;
    }
}
