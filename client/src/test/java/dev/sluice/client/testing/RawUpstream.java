package dev.sluice.client.testing;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.net.SocketException;
import java.net.SocketTimeoutException;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * An upstream on a raw ServerSocket (127.0.0.1), for tests that must control the bytes on the wire and see
 * what the client does to the connection: each accepted connection has its request read, then runs the script.
 */
public final class RawUpstream implements AutoCloseable {

    @FunctionalInterface
    public interface Script {
        void run(Connection connection) throws Exception;
    }

    public static final String SSE_HEAD =
            "HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nTransfer-Encoding: chunked\r\n\r\n";

    private final ServerSocket server;
    private final Script script;
    private final AtomicInteger accepted = new AtomicInteger();
    private final List<Connection> connections = new CopyOnWriteArrayList<>();
    private final List<Throwable> failures = new CopyOnWriteArrayList<>();
    private final Thread acceptor;

    private RawUpstream(Script script) throws IOException {
        this.server = new ServerSocket(0, 50, InetAddress.getLoopbackAddress());
        this.script = script;
        this.acceptor = Thread.ofVirtual().start(this::acceptLoop);
    }

    public static RawUpstream start(Script script) throws IOException {
        return new RawUpstream(script);
    }

    public String baseUrl() {
        return "http://127.0.0.1:" + server.getLocalPort() + "/v1";
    }

    public int connectionsAccepted() {
        return accepted.get();
    }

    public List<Throwable> failures() {
        return failures;
    }

    private void acceptLoop() {
        while (!server.isClosed()) {
            Socket socket;
            try {
                socket = server.accept();
            } catch (IOException e) {
                return;
            }
            int position = accepted.getAndIncrement();
            Thread.ofVirtual().start(() -> {
                try (socket) {
                    var connection = new Connection(socket, position);
                    connection.readRequest();
                    connections.add(connection);
                    script.run(connection);
                } catch (Throwable t) {
                    failures.add(t);
                }
            });
        }
    }

    @Override
    public void close() throws IOException {
        server.close();
        acceptor.interrupt();
    }

    public static final class Connection {
        private final Socket socket;
        private final int position;
        private final InputStream in;
        private String head;
        private byte[] body;

        Connection(Socket socket, int position) throws IOException {
            this.socket = socket;
            this.position = position;
            this.in = socket.getInputStream();
        }

        /** 0 for the first connection accepted. */
        public int position() {
            return position;
        }

        public String head() {
            return head;
        }

        public String body() {
            return new String(body, StandardCharsets.UTF_8);
        }

        /** Reads the next request of this connection (keep-alive); {@link #head()} and {@link #body()} then describe it. */
        public void readRequest() throws IOException {
            var buffer = new ByteArrayOutputStream();
            int b, matched = 0;
            while (matched < 4 && (b = in.read()) >= 0) {
                buffer.write(b);
                matched = (b == '\r' || b == '\n') && "\r\n\r\n".charAt(matched) == b ? matched + 1 : b == '\r' ? 1 : 0;
            }
            head = buffer.toString(StandardCharsets.ISO_8859_1);
            int length = 0;
            for (var line : head.split("\r\n")) {
                if (line.toLowerCase(Locale.ROOT).startsWith("content-length:")) length = Integer.parseInt(line.substring(15).strip());
            }
            body = in.readNBytes(length);
        }

        public void write(String text) throws IOException {
            var out = socket.getOutputStream();
            out.write(text.getBytes(StandardCharsets.UTF_8));
            out.flush();
        }

        public void write(byte[] bytes, int offset, int length) throws IOException {
            var out = socket.getOutputStream();
            out.write(bytes, offset, length);
            out.flush();
        }

        /** One HTTP/1.1 chunk. */
        public void chunk(String data) throws IOException {
            var bytes = data.getBytes(StandardCharsets.UTF_8);
            write(Integer.toHexString(bytes.length) + "\r\n" + data + "\r\n");
        }

        public void endChunks() throws IOException {
            write("0\r\n\r\n");
        }

        /**
         * Waits for the client to close the connection: true when a read sees end of stream or a reset, false
         * when nothing happened within {@code timeout}.
         */
        public boolean awaitClientClose(Duration timeout) throws IOException {
            socket.setSoTimeout((int) timeout.toMillis());
            long end = System.nanoTime() + timeout.toNanos();
            try {
                while (System.nanoTime() < end) {
                    if (in.read() < 0) return true;
                }
                return false;
            } catch (SocketTimeoutException e) {
                return false;
            } catch (SocketException e) {
                return true; // reset
            }
        }

        /** Closes the connection abruptly (RST). */
        public void reset() throws IOException {
            socket.setSoLinger(true, 0);
            socket.close();
        }
    }
}
