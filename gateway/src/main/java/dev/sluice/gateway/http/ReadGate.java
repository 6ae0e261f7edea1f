package dev.sluice.gateway.http;

import io.netty.channel.Channel;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelOutboundHandlerAdapter;

/**
 * Stops reading a connection while requests read ahead wait their turn ({@link HttpServer}'s request handler).
 * Turning autoRead off is not enough on its own: the HTTP decoder and aggregator ask for another read whenever a
 * read left a message unfinished, which with pipelined bodies is every read, so the reads would go on. First in
 * the pipeline, this holds back every read while closed and issues one when it opens. Event loop only.
 */
final class ReadGate extends ChannelOutboundHandlerAdapter {

    private boolean closed;
    private ChannelHandlerContext ctx;

    @Override
    public void handlerAdded(ChannelHandlerContext ctx) {
        this.ctx = ctx;
    }

    @Override
    public void read(ChannelHandlerContext ctx) {
        if (!closed) ctx.read();
    }

    void close(Channel channel) {
        if (closed) return;
        closed = true;
        channel.config().setAutoRead(false);
    }

    void open(Channel channel) {
        if (!closed) return;
        closed = false;
        channel.config().setAutoRead(true); // issues the read
        if (ctx != null && !ctx.isRemoved()) ctx.read(); // in case autoRead was on already (a read held back meanwhile)
    }
}
