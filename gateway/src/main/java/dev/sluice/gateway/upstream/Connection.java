package dev.sluice.gateway.upstream;

import io.netty.channel.Channel;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.channel.ChannelInitializer;
import io.netty.handler.codec.http.HttpClientCodec;
import io.netty.handler.codec.http.HttpDecoderConfig;
import io.netty.handler.codec.http.HttpObject;
import io.netty.handler.ssl.SslContext;
import io.netty.handler.ssl.SslHandler;
import io.netty.util.ReferenceCountUtil;
import java.util.List;
import javax.net.ssl.SNIHostName;

/**
 * One upstream connection: its pipeline ([TLS] → byte watch → HTTP codec → this) and the exchange currently
 * using it, if any. Events for a connection without an exchange (data or an error while pooled) close it.
 */
final class Connection extends ChannelInboundHandlerAdapter {

    private final UpstreamHttp.Target target;
    private final SslContext ssl;
    private final ConnectionPool pool;
    private Channel channel;
    private SslHandler sslHandler;
    private Exchange exchange;
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
        pipeline.addLast("bytes", new ChannelInboundHandlerAdapter() {
            @Override
            public void channelRead(ChannelHandlerContext ctx, Object msg) {
                // Below the codec: a partial head counts as a response byte (the request reached the server).
                var ex = exchange;
                if (ex != null) ex.onBytes();
                ctx.fireChannelRead(msg);
            }
        });
        pipeline.addLast("http", new HttpClientCodec(new HttpDecoderConfig()
                .setMaxInitialLineLength(8 * 1024)
                .setMaxHeaderSize(64 * 1024)
                .setMaxChunkSize(64 * 1024), false, false));
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

    void bind(Exchange ex) {
        exchange = ex;
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
        try {
            var ex = exchange;
            if (ex != null) {
                ex.onMessage(this, (HttpObject) msg);
            } else {
                // A pooled connection has nothing to say; whatever it says makes it unusable.
                ctx.close();
            }
        } finally {
            ReferenceCountUtil.release(msg);
        }
    }

    @Override
    public void channelReadComplete(ChannelHandlerContext ctx) {
        var ex = exchange;
        if (ex != null) ex.onReadComplete(this);
    }

    @Override
    public void channelInactive(ChannelHandlerContext ctx) {
        var ex = exchange;
        if (ex != null) ex.onClosed(this);
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
