package dev.sluice.cli;

import dev.sluice.client.ApiException;
import dev.sluice.client.SluiceClient;
import dev.sluice.client.StreamErrorException;
import dev.sluice.client.chat.ChatRequest;
import dev.sluice.client.chat.ChatStreamEvent;
import java.io.IOException;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.util.Set;

/**
 * {@code sluice chat "prompt"}: streams one answer to the terminal, through a running gateway or straight
 * from a provider. Answer text goes to stdout; reasoning, tool calls and usage to stderr, so the output
 * can be piped.
 */
final class ChatCommand {

    private ChatCommand() {}

    static int run(String[] args) {
        Options o;
        try {
            o = Options.parse(args, Set.of("model", "base-url", "api-key", "system"), Set.of("no-stream"));
        } catch (Options.UsageException e) {
            System.err.println("sluice chat: " + e.getMessage());
            return 2;
        }
        if (o.positional().isEmpty()) {
            System.err.println("sluice chat: give a prompt, e.g. sluice chat \"Hello\"");
            return 2;
        }
        var prompt = String.join(" ", o.positional());
        var baseUrl = o.get("base-url", env("SLUICE_BASE_URL", "http://127.0.0.1:8080/v1"));
        var apiKey = o.get("api-key", env("SLUICE_API_KEY", baseUrl.contains("api.openai.com") ? System.getenv("OPENAI_API_KEY") : null));
        var model = o.get("model", env("SLUICE_MODEL", "sim/lorem"));

        var builder = SluiceClient.builder().baseUrl(baseUrl);
        if (apiKey != null && !apiKey.isBlank()) builder.apiKey(apiKey);
        var out = new PrintStream(System.out, true, StandardCharsets.UTF_8);
        var request = ChatRequest.builder().model(model);
        if (o.values().containsKey("system")) request.system(o.get("system", ""));
        request.user(prompt);
        try (var client = builder.build()) {
            if (o.has("no-stream")) {
                var completion = client.chat().create(request.build());
                var choice = completion.choice(0);
                if (choice != null && choice.message().content() != null) out.println(choice.message().content());
                return 0;
            }
            request.includeUsage(true);
            try (var stream = client.chat().stream(request.build())) {
                boolean reasoning = false;
                for (var event : stream) {
                    switch (event) {
                        case ChatStreamEvent.ReasoningDelta r -> {
                            if (!reasoning) System.err.print("[reasoning] ");
                            reasoning = true;
                            System.err.print(r.delta());
                        }
                        case ChatStreamEvent.ContentDelta c -> {
                            if (reasoning) System.err.println();
                            reasoning = false;
                            out.print(c.delta());
                        }
                        case ChatStreamEvent.RefusalDelta r -> out.print(r.delta());
                        case ChatStreamEvent.ToolCallDone t -> System.err.println("\n[tool call] " + t.name() + " " + t.arguments());
                        case ChatStreamEvent.Usage u -> System.err.println("\n[usage] " + u.usage());
                        default -> {}
                    }
                }
                out.println();
            }
            return 0;
        } catch (StreamErrorException e) {
            System.err.println("\nsluice chat: the stream failed: " + e.getMessage());
            return 1;
        } catch (dev.sluice.client.IncompleteStreamException e) {
            System.err.println("\nsluice chat: the stream ended before the answer was complete");
            return 1;
        } catch (java.io.UncheckedIOException e) {
            System.err.println("\nsluice chat: the connection failed mid-answer: " + e.getCause().getMessage());
            return 1;
        } catch (ApiException e) {
            System.err.println("sluice chat: HTTP " + e.status() + ": " + e.errorMessage());
            return 1;
        } catch (IOException e) {
            System.err.println("sluice chat: cannot reach " + baseUrl + ": " + (e.getMessage() == null ? e.getClass().getSimpleName() : e.getMessage())
                    + (baseUrl.contains("127.0.0.1:8080") ? " (is `./sluice serve` running?)" : ""));
            return 1;
        }
    }

    private static String env(String name, String fallback) {
        var value = System.getenv(name);
        return value == null || value.isBlank() ? fallback : value;
    }
}
