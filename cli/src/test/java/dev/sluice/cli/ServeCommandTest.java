package dev.sluice.cli;

import static org.assertj.core.api.Assertions.assertThat;

import io.netty.util.ResourceLeakDetector;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

class ServeCommandTest {

    private static final String PROPERTY = "io.netty.leakDetection.level";
    private final String property = System.getProperty(PROPERTY);
    private final ResourceLeakDetector.Level level = ResourceLeakDetector.getLevel();

    @AfterEach
    void restore() {
        if (property == null) System.clearProperty(PROPERTY);
        else System.setProperty(PROPERTY, property);
        ResourceLeakDetector.setLevel(level);
    }

    @Test
    void aServerRunsWithoutNettysLeakDetectorUnlessAskedFor() {
        System.clearProperty(PROPERTY);
        ResourceLeakDetector.setLevel(ResourceLeakDetector.Level.SIMPLE);
        ServeCommand.quietLeakDetector();
        assertThat(ResourceLeakDetector.getLevel()).isEqualTo(ResourceLeakDetector.Level.DISABLED);
    }

    @Test
    void anExplicitLevelIsKept() {
        System.setProperty(PROPERTY, "paranoid");
        ResourceLeakDetector.setLevel(ResourceLeakDetector.Level.PARANOID);
        ServeCommand.quietLeakDetector();
        assertThat(ResourceLeakDetector.getLevel()).isEqualTo(ResourceLeakDetector.Level.PARANOID);
    }

    @Test
    void theCorsSectionSurvivesThePortAndUpstreamOptions(@org.junit.jupiter.api.io.TempDir java.nio.file.Path dir) throws Exception {
        // The command rebuilds the config with --host/--port (and again for --upstream): a section it did not copy was lost.
        var file = dir.resolve("sluice.yaml");
        java.nio.file.Files.writeString(file, "cors: { allow_origins: [\"https://app.example\"] }\n");
        var options = new Options(java.util.Map.of("config", file.toString(), "port", "0", "upstream", "http://127.0.0.1:1/v1"), java.util.Set.of(),
                java.util.List.of());
        assertThat(ServeCommand.config(options).cors().allowOrigins()).containsExactly("https://app.example");
    }
}
