package dev.sluice.gateway.runs;

import dev.sluice.gateway.Gateway;
import dev.sluice.gateway.config.ConfigLoader;
import java.io.BufferedReader;
import java.io.InputStreamReader;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;

/**
 * A gateway in its own process, for the crash tests (a test can {@code kill -9} it):
 * {@code CrashTestServer <config.yaml>}; prints its port.
 */
public final class CrashTestServer {

    /** A started gateway process and its base URL. */
    public record Running(Process process, String base) {}

    /** Starts {@code CrashTestServer} on the test class path and waits until it listens. */
    public static Running launch(Path config) throws Exception {
        var cp = System.getProperty("surefire.test.class.path", System.getProperty("java.class.path"));
        var java = Path.of(System.getProperty("java.home"), "bin", "java").toString();
        var command = new ArrayList<>(List.of(java, "-cp", cp));
        if (Runtime.version().feature() >= 24) command.addAll(List.of("--sun-misc-unsafe-memory-access=allow", "--enable-native-access=ALL-UNNAMED"));
        command.addAll(List.of(CrashTestServer.class.getName(), config.toString()));
        var process = new ProcessBuilder(command).redirectErrorStream(true).start();
        var reader = new BufferedReader(new InputStreamReader(process.getInputStream()));
        var deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(60);
        String line;
        while ((line = reader.readLine()) != null) {
            if (line.startsWith("listening on port ")) {
                Thread.ofVirtual().start(() -> reader.lines().forEach(l -> {}));
                return new Running(process, "http://127.0.0.1:" + line.substring("listening on port ".length()).trim() + "/v1");
            }
            if (System.nanoTime() > deadline) break;
        }
        process.destroyForcibly();
        throw new AssertionError("the gateway process did not start");
    }

    public static void main(String[] args) throws Exception {
        var gateway = Gateway.start(new ConfigLoader(name -> null).load(Path.of(args[0])));
        System.out.println("listening on port " + gateway.port());
        System.out.flush();
        Thread.currentThread().join();
    }
}
