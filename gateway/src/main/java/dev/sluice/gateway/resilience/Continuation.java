package dev.sluice.gateway.resilience;

import com.fasterxml.jackson.databind.node.ObjectNode;

/**
 * How a request is re-asked after an upstream died mid-answer, so another deployment carries on from the
 * text the client already has. Chosen per deployment ({@code continuation:} option):
 * <ul>
 *   <li>{@code prefill} (default): the partial answer as a final assistant message, which llama.cpp,
 *       Anthropic-backed routes and most chat templates continue;</li>
 *   <li>{@code continue_final_message}: the same with vLLM's {@code continue_final_message} /
 *       {@code add_generation_prompt} flags, its native continuation;</li>
 *   <li>{@code reask}: the partial answer as context plus an instruction to continue it (OpenAI itself,
 *       which does not continue a trailing assistant message).</li>
 * </ul>
 */
public final class Continuation {

    static final String REASK = "Your previous answer was cut off. Continue it exactly from where it stopped, "
            + "without repeating anything and without any preamble.";

    private Continuation() {}

    public static ObjectNode body(ObjectNode original, String partial, String mode, int completionTokensSoFar) {
        var body = original.deepCopy();
        if (partial.isEmpty()) return body;
        var messages = body.withArray("messages");
        var assistant = messages.addObject();
        assistant.put("role", "assistant");
        assistant.put("content", partial);
        switch (mode == null ? "prefill" : mode) {
            case "continue_final_message" -> {
                body.put("continue_final_message", true);
                body.put("add_generation_prompt", false);
            }
            case "reask" -> {
                var user = messages.addObject();
                user.put("role", "user");
                user.put("content", REASK);
            }
            default -> {}
        }
        // The budget the client set covers the whole answer, not each attempt.
        for (var field : new String[] {"max_tokens", "max_completion_tokens"}) {
            if (body.path(field).isIntegralNumber()) body.put(field, Math.max(1, body.get(field).asInt() - completionTokensSoFar));
        }
        return body;
    }
}
