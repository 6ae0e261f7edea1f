package dev.sluice.client;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.sun.net.httpserver.HttpsConfigurator;
import com.sun.net.httpserver.HttpsServer;
import java.io.FileInputStream;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.security.KeyStore;
import java.util.List;
import java.util.concurrent.TimeUnit;
import javax.net.ssl.KeyManagerFactory;
import javax.net.ssl.SSLContext;
import javax.net.ssl.TrustManagerFactory;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Real upstreams are HTTPS: the blocking transport speaks TLS with the certificate checked against the host,
 * against a loopback HTTPS server whose self-signed certificate keytool makes for the test.
 */
class Http1TlsTest {

    private static final String MODELS = "{\"object\":\"list\",\"data\":[{\"id\":\"m1\",\"object\":\"model\"}]}";

    @TempDir
    Path dir;

    /** A keystore with one self-signed certificate for {@code san} (e.g. "ip:127.0.0.1"). */
    private Path keystore(String name, String san) throws Exception {
        var file = dir.resolve(name + ".p12");
        var keytool = Path.of(System.getProperty("java.home"), "bin", "keytool").toString();
        var p = new ProcessBuilder(keytool, "-genkeypair", "-keystore", file.toString(), "-storetype", "PKCS12", "-storepass", "secret",
                "-alias", "server", "-keyalg", "EC", "-dname", "CN=" + name, "-validity", "2", "-ext", "san=" + san)
                .redirectErrorStream(true).start();
        assertThat(p.waitFor(60, TimeUnit.SECONDS)).isTrue();
        assertThat(p.exitValue()).as(new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8)).isZero();
        return file;
    }

    private static KeyStore load(Path file) throws Exception {
        var ks = KeyStore.getInstance("PKCS12");
        try (var in = new FileInputStream(file.toFile())) {
            ks.load(in, "secret".toCharArray());
        }
        return ks;
    }

    private static HttpsServer server(KeyStore keys) throws Exception {
        var kmf = KeyManagerFactory.getInstance(KeyManagerFactory.getDefaultAlgorithm());
        kmf.init(keys, "secret".toCharArray());
        var ssl = SSLContext.getInstance("TLS");
        ssl.init(kmf.getKeyManagers(), null, null);
        var server = HttpsServer.create(new InetSocketAddress(InetAddress.getLoopbackAddress(), 0), 0);
        server.setHttpsConfigurator(new HttpsConfigurator(ssl));
        server.createContext("/v1/models", exchange -> {
            var body = MODELS.getBytes(StandardCharsets.UTF_8);
            exchange.getResponseHeaders().add("Content-Type", "application/json");
            exchange.sendResponseHeaders(200, body.length);
            try (var out = exchange.getResponseBody()) {
                out.write(body);
            }
        });
        server.start();
        return server;
    }

    /** A client context that trusts exactly the certificate in {@code keys}. */
    private static SSLContext trusting(KeyStore keys) throws Exception {
        var trust = KeyStore.getInstance("PKCS12");
        trust.load(null, null);
        trust.setCertificateEntry("server", keys.getCertificate("server"));
        var tmf = TrustManagerFactory.getInstance(TrustManagerFactory.getDefaultAlgorithm());
        tmf.init(trust);
        var ssl = SSLContext.getInstance("TLS");
        ssl.init(null, tmf.getTrustManagers(), null);
        return ssl;
    }

    @Test
    void httpsWithATrustedCertificateForTheHostWorksCallAfterCall() throws Exception {
        var keys = load(keystore("loopback", "ip:127.0.0.1"));
        var server = server(keys);
        try (var client = SluiceClient.builder().baseUrl("https://127.0.0.1:" + server.getAddress().getPort() + "/v1")
                .transport(SluiceClient.Transport.BLOCKING_HTTP1).sslContext(trusting(keys)).maxRetries(0).build()) {
            for (int i = 0; i < 3; i++) assertThat(client.models()).extracting(Model::id).isEqualTo(List.of("m1"));
        } finally {
            server.stop(0);
        }
    }

    @Test
    void aCertificateForAnotherHostIsRefusedEvenWhenTrusted() throws Exception {
        var keys = load(keystore("elsewhere", "dns:elsewhere.example"));
        var server = server(keys);
        try (var client = SluiceClient.builder().baseUrl("https://127.0.0.1:" + server.getAddress().getPort() + "/v1")
                .transport(SluiceClient.Transport.BLOCKING_HTTP1).sslContext(trusting(keys)).maxRetries(0).build()) {
            assertThatThrownBy(client::models).isInstanceOf(ApiConnectionException.class)
                    .rootCause().isInstanceOf(java.security.cert.CertificateException.class);
        } finally {
            server.stop(0);
        }
    }

    @Test
    void anUntrustedCertificateIsRefused() throws Exception {
        var keys = load(keystore("loopback", "ip:127.0.0.1"));
        var server = server(keys);
        try (var client = SluiceClient.builder().baseUrl("https://127.0.0.1:" + server.getAddress().getPort() + "/v1")
                .transport(SluiceClient.Transport.BLOCKING_HTTP1).maxRetries(0).build()) {
            assertThatThrownBy(client::models).isInstanceOf(ApiConnectionException.class);
        } finally {
            server.stop(0);
        }
    }
}
