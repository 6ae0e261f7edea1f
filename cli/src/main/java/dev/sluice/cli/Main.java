package dev.sluice.cli;

import java.util.Arrays;

/** The {@code sluice} command: {@code serve} runs the gateway, {@code chat} streams an answer to the terminal. */
public final class Main {

    static final String USAGE = """
            Usage: sluice <command> [options]

            Commands:
              serve   Run the gateway.
                        --config FILE        YAML config (default: $SLUICE_CONFIG, else ./sluice.yaml if present,
                                             else built-in defaults: the sim provider plus providers whose
                                             API keys are in the environment)
                        --host HOST          listen address (default 127.0.0.1)
                        --port PORT          listen port (default 8080)
                        --upstream URL       proxy mode: route every model, unchanged, to this OpenAI-compatible base URL
                        --upstream-key KEY   API key for --upstream (default: forward each client's own Authorization)
              chat    Stream one answer to the terminal.
                        sluice chat [--model M] [--base-url URL] [--api-key KEY] [--system TEXT] [--no-stream] "prompt"
                        --base-url defaults to $SLUICE_BASE_URL, else the local gateway http://127.0.0.1:8080/v1;
                        point it at a provider (e.g. https://api.openai.com/v1) to skip the gateway.
                        --model defaults to $SLUICE_MODEL, else sim/lorem.
              help    Show this text.
            """;

    private Main() {}

    public static void main(String[] args) throws Exception {
        if (args.length == 0 || args[0].equals("help") || args[0].equals("--help") || args[0].equals("-h")) {
            System.out.print(USAGE);
            return;
        }
        var rest = Arrays.copyOfRange(args, 1, args.length);
        int code = switch (args[0]) {
            case "serve" -> ServeCommand.run(rest);
            case "chat" -> ChatCommand.run(rest);
            default -> {
                System.err.println("sluice: unknown command '" + args[0] + "'\n");
                System.err.print(USAGE);
                yield 2;
            }
        };
        if (code != 0) System.exit(code);
    }
}
