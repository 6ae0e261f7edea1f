package dev.sluice.gateway.http;

import io.netty.channel.Channel;
import io.netty.channel.ChannelFutureListener;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.channel.socket.DuplexChannel;
import io.netty.handler.codec.http.HttpServerKeepAliveHandler;
import io.netty.util.ReferenceCountUtil;
import java.util.concurrent.TimeUnit;

/**
 * Closes a connection after an answer given before its request was read whole (413 for a body over the limit,
 * 408 for one too slow), the way nginx's lingering_close does. Closing a socket with unread bytes in it sends a
 * reset, and a reset makes the client's kernel drop what it had received but not yet read: a client still
 * uploading would see "connection reset" instead of the 413. So the answer goes out, then a FIN, and what the
 * client still sends is read and dropped until it closes its side, stops sending for {@link #QUIET_MILLIS}, or
 * {@link #MAX_MILLIS} have passed.
 */
final class LingeringClose extends ChannelInboundHandlerAdapter {

    static final long QUIET_MILLIS = 2_000;
    static final long MAX_MILLIS = 10_000;

    private final long deadline = System.nanoTime() + TimeUnit.MILLISECONDS.toNanos(MAX_MILLIS);
    private long lastRead = System.nanoTime();

    private LingeringClose() {}

    /** Writes {@code response}, then closes {@code channel} as described above. From the channel's event loop. */
    static void answerAndClose(Channel channel, Object response) {
        // Written below the keep-alive handler, which would close the connection the moment this "Connection: close"
        // answer is out, unread upload and all; from its context the answer still goes through the HTTP encoder.
        var belowKeepAlive = channel.pipeline().context(HttpServerKeepAliveHandler.class);
        var written = belowKeepAlive != null ? belowKeepAlive.writeAndFlush(response) : channel.writeAndFlush(response);
        written.addListener((ChannelFutureListener) f -> {
            if (!f.isSuccess() || !(channel instanceof DuplexChannel duplex) || !channel.isActive()) {
                channel.close();
                return;
            }
            var linger = new LingeringClose();
            // The request's clock has no say any more: this bounds the rest.
            if (channel.pipeline().get(RequestTimeouts.class) != null) channel.pipeline().remove(RequestTimeouts.class);
            // Nor the requests waiting their turn: what comes now is read to be dropped.
            boolean gated = channel.pipeline().get(ReadGate.class) != null;
            if (gated) channel.pipeline().remove(ReadGate.class);
            // First in the pipeline: nothing read from here on reaches the HTTP decoder.
            channel.pipeline().addFirst("lingering-close", linger);
            channel.config().setAutoRead(true);
            if (gated) channel.read(); // one the gate held back is not issued again by autoRead, already on
            duplex.shutdownOutput().addListener(done -> linger.check(channel));
        });
    }

    @Override
    public void channelRead(ChannelHandlerContext ctx, Object msg) {
        lastRead = System.nanoTime();
        ReferenceCountUtil.release(msg);
    }

    private void check(Channel channel) {
        if (!channel.isActive()) return;
        long now = System.nanoTime();
        long quietLeft = lastRead + TimeUnit.MILLISECONDS.toNanos(QUIET_MILLIS) - now;
        long maxLeft = deadline - now;
        if (quietLeft <= 0 || maxLeft <= 0) {
            channel.close();
            return;
        }
        channel.eventLoop().schedule(() -> check(channel), Math.min(quietLeft, maxLeft), TimeUnit.NANOSECONDS);
    }
}
