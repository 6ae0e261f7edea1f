package dev.sluice.gateway.chaos;

import dev.sluice.gateway.Gateway;
import dev.sluice.gateway.config.ConfigLoader;
import java.io.BufferedReader;
import java.io.InputStreamReader;
import java.nio.file.Path;
import java.util.Map;
import java.util.TreeMap;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.LongAdder;

/**
 * The gateway as a process of its own, for the soak: {@code GatewayMain <config.yaml>} starts it, prints
 * {@code PORT <n>}, then answers {@code stats} on stdin with the usage records counted by outcome, and exits
 * on {@code exit} or end of input.
 */
public final class GatewayMain {

    public static void main(String[] args) throws Exception {
        var config = new ConfigLoader(System::getenv).load(Path.of(args[0]));
        Map<String, LongAdder> outcomes = new ConcurrentHashMap<>();
        var gateway = Gateway.start(config, r -> outcomes.computeIfAbsent(r.outcome(), k -> new LongAdder()).increment());
        System.out.println("PORT " + gateway.port());
        System.out.flush();
        var in = new BufferedReader(new InputStreamReader(System.in));
        String line;
        while ((line = in.readLine()) != null) {
            if (line.equals("stats")) {
                var sorted = new TreeMap<String, Long>();
                outcomes.forEach((k, v) -> sorted.put(k, v.sum()));
                System.out.println("STATS " + sorted);
                System.out.flush();
            } else if (line.equals("exit")) {
                break;
            }
        }
        gateway.close();
        System.exit(0);
    }
}
