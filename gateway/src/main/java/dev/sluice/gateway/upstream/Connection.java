package dev.sluice.gateway.upstream;

import io.netty.buffer.ByteBuf;
import io.netty.channel.Channel;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.channel.ChannelInitializer;
import io.netty.handler.codec.http.HttpResponse;
import io.netty.handler.ssl.SslContext;
import io.netty.handler.ssl.SslHandler;
import io.netty.util.ReferenceCountUtil;
import java.util.List;
import javax.net.ssl.SNIHostName;

/**
 * One upstream connection: its pipeline ([TLS] → this), its response decoder, and the exchange currently using
 * it, if any. Events for a connection without an exchange (data or an error while pooled) close it. Responses are
 * decoded here, from the bytes as read, and requests go out as bytes ({@link RequestHead}), rather than through
 * codec handlers: one pipeline hop and no message objects per relayed chunk.
 */
final class Connection extends ChannelInboundHandlerAdapter implements ResponseDecoder.Sink {

    private final UpstreamHttp.Target target;
    private final SslContext ssl;
    private final ConnectionPool pool;
    private Channel channel;
    private SslHandler sslHandler;
    private Exchange exchange;
    private final ResponseDecoder decoder = new ResponseDecoder(this);
    /** System.nanoTime() when it went back to the pool. */
    long idleSince;

    Connection(UpstreamHttp.Target target, SslContext ssl, ConnectionPool pool) {
        this.target = target;
        this.ssl = ssl;
        this.pool = pool;
    }

    ChannelInitializer<Channel> initializer() {
        return new ChannelInitializer<>() {
            @Override
            protected void initChannel(Channel ch) {
                init(ch);
            }
        };
    }

    private void init(Channel ch) {
        channel = ch;
        // A pooled connection the server closes is dropped from the pool as soon as the loop notices.
        ch.closeFuture().addListener(f -> pool.remove(this));
        var pipeline = ch.pipeline();
        if (target.tls()) {
            var engine = ssl.newEngine(ch.alloc(), target.host(), target.port());
            var params = engine.getSSLParameters();
            params.setEndpointIdentificationAlgorithm("HTTPS");
            // SNI carries host names only (RFC 6066); for an IP literal the certificate's IP SAN is checked.
            if (io.netty.util.NetUtil.createByteArrayFromIpAddressString(target.host()) == null) {
                params.setServerNames(List.of(new SNIHostName(target.host())));
            }
            engine.setSSLParameters(params);
            sslHandler = new SslHandler(engine);
            // The exchange's own setup timer bounds TCP and TLS together (the connect timeout).
            sslHandler.setHandshakeTimeoutMillis(0);
            pipeline.addLast("tls", sslHandler);
        }
        pipeline.addLast("exchange", this);
    }

    UpstreamHttp.Target target() {
        return target;
    }

    Channel channel() {
        return channel;
    }

    /** Null for plain HTTP. */
    SslHandler sslHandler() {
        return sslHandler;
    }

    /** The exchange whose response comes next, to a HEAD request (a head and no body) or not. */
    void bind(Exchange ex, boolean headRequest) {
        exchange = ex;
        decoder.expect(headRequest);
    }

    void unbind() {
        exchange = null;
    }

    boolean isActive() {
        return channel.isActive();
    }

    void close() {
        exchange = null;
        channel.close();
    }

    @Override
    public void channelRead(ChannelHandlerContext ctx, Object msg) {
        if (!(msg instanceof ByteBuf in)) {
            ReferenceCountUtil.release(msg);
            return;
        }
        try {
            var ex = exchange;
            if (ex == null || decoder.idle()) {
                // A pooled connection has nothing to say; whatever it says makes it unusable.
                ctx.close();
                return;
            }
            ex.onBytes(); // a partial head counts as a response byte: the request reached the server
            decoder.decode(in);
            // Left over: bytes after the response's end, which belong to no request, or after the exchange stopped.
            if (in.isReadable()) ctx.close();
        } finally {
            in.release();
        }
    }

    // ---- from the decoder ---------------------------------------------------------------------------------

    @Override
    public boolean head(HttpResponse head) {
        var ex = exchange;
        return ex != null && ex.onHead(this, head);
    }

    @Override
    public boolean content(ByteBuf slice) {
        var ex = exchange;
        return ex != null && ex.onContent(this, slice);
    }

    @Override
    public void end() {
        var ex = exchange;
        if (ex != null) ex.onBodyEnd(this);
    }

    @Override
    public void malformed(String message) {
        var ex = exchange;
        if (ex != null) ex.onMalformed(this, message);
    }

    @Override
    public void channelReadComplete(ChannelHandlerContext ctx) {
        var ex = exchange;
        if (ex != null) ex.onReadComplete(this);
    }

    @Override
    public void channelInactive(ChannelHandlerContext ctx) {
        var ex = exchange;
        // A body framed by the connection's close ends here; any other response was cut short.
        if (ex != null && !decoder.closed()) ex.onClosed(this);
    }

    @Override
    public void exceptionCaught(ChannelHandlerContext ctx, Throwable cause) {
        var ex = exchange;
        if (ex != null) {
            ex.onFailure(this, cause);
        } else {
            ctx.close();
        }
    }

    @Override
    public void userEventTriggered(ChannelHandlerContext ctx, Object evt) {
        // TLS handshake/close events are handled through the SslHandler's futures and channelInactive.
        ReferenceCountUtil.release(evt);
    }
}
