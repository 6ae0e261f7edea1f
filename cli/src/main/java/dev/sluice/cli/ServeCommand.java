package dev.sluice.cli;

import dev.sluice.gateway.Gateway;
import dev.sluice.gateway.config.ConfigException;
import dev.sluice.gateway.config.ConfigLoader;
import dev.sluice.gateway.config.GatewayConfig;
import io.netty.util.ResourceLeakDetector;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Set;
import java.util.concurrent.CountDownLatch;

/** {@code sluice serve}: runs the gateway until interrupted. */
final class ServeCommand {

    private ServeCommand() {}

    static int run(String[] args) throws InterruptedException {
        quietLeakDetector();
        Options o;
        try {
            o = Options.parse(args, Set.of("config", "host", "port", "upstream", "upstream-key"), Set.of());
        } catch (Options.UsageException e) {
            System.err.println("sluice serve: " + e.getMessage());
            return 2;
        }
        GatewayConfig config;
        try {
            config = config(o);
        } catch (ConfigException | IllegalArgumentException e) {
            System.err.println("sluice serve: " + e.getMessage());
            return 2;
        }
        Gateway gateway;
        try {
            gateway = Gateway.start(config);
        } catch (Exception e) {
            System.err.println("sluice serve: cannot listen on " + config.host() + ":" + config.port() + ": " + e.getMessage());
            return 1;
        }
        var stopped = new CountDownLatch(1);
        Runtime.getRuntime().addShutdownHook(new Thread(() -> {
            gateway.close();
            stopped.countDown();
        }));
        var base = "http://" + config.host() + ":" + gateway.port() + "/v1";
        System.out.println("Sluice gateway listening on " + base);
        System.out.println("  providers: " + String.join(", ", config.providers().keySet()));
        if (config.passthroughProvider() != null) {
            System.out.println("  proxy mode: every model goes unchanged to " + config.providers().get(config.passthroughProvider()).baseUrl());
        }
        System.out.println("  models:    " + String.join(", ", gateway.router().modelIds()) + (config.providers().size() > 1 ? " (and provider/model for any provider)" : ""));
        System.out.println("  sim/* models are Sluice's built-in simulator, not a language model: sim/echo repeats your message, sim/lorem streams filler text.");
        System.out.flush();
        stopped.await();
        return 0;
    }

    /**
     * Netty's leak detector samples buffer allocations and records a stack trace for each sample: a debugging
     * aid that costs a serving loop about 2% of its CPU. The tests run Netty with it at its strictest level;
     * a server has it only when asked for with {@code -Dio.netty.leakDetection.level}.
     */
    static void quietLeakDetector() {
        if (System.getProperty("io.netty.leakDetection.level") == null) {
            ResourceLeakDetector.setLevel(ResourceLeakDetector.Level.DISABLED);
        }
    }

    static GatewayConfig config(Options o) {
        var loader = new ConfigLoader();
        var file = o.get("config", System.getenv("SLUICE_CONFIG"));
        GatewayConfig config;
        if (file != null && !file.isBlank()) {
            config = loader.load(Path.of(file));
        } else if (Files.exists(Path.of("sluice.yaml"))) {
            config = loader.load(Path.of("sluice.yaml"));
        } else {
            config = loader.defaults();
        }
        var host = o.get("host", config.host());
        int port = config.port();
        if (o.values().containsKey("port")) {
            try {
                port = Integer.parseInt(o.get("port", ""));
            } catch (NumberFormatException e) {
                throw new IllegalArgumentException("--port must be a number, got '" + o.get("port", "") + "'");
            }
        }
        config = new GatewayConfig(host, port, config.limits(), config.providers(), config.models(), config.passthroughProvider(), config.storage(), config.cors());
        var upstream = o.get("upstream", null);
        if (upstream != null) config = ConfigLoader.proxy(config, upstream, o.get("upstream-key", null));
        return config;
    }
}
