using System.Net;
using DotNetty.Buffers;
using DotNetty.Codecs;
using DotNetty.Transport.Bootstrapping;
using DotNetty.Transport.Channels;
using DotNetty.Transport.Channels.Sockets;

namespace Ferry.FramingCompare;

/// <summary>
/// The same echo on DotNetty: LengthFieldBasedFrameDecoder for the 4-byte little-endian prefix (64 KiB limit, prefix
/// stripped), LengthFieldPrepender on the way out, a handler that writes each frame back and flushes per read batch.
/// </summary>
internal sealed class DotNettyEchoServer(FrameCounter counter)
{
    public async Task<int> StartAsync()
    {
        var boss = new MultithreadEventLoopGroup(1);
        var workers = new MultithreadEventLoopGroup();
        var bootstrap = new ServerBootstrap()
            .Group(boss, workers)
            .Channel<TcpServerSocketChannel>()
            .Option(ChannelOption.SoBacklog, 1024)
            .ChildOption(ChannelOption.TcpNodelay, true)
            .ChildHandler(new ActionChannelInitializer<IChannel>(channel =>
            {
                channel.Pipeline.AddLast(new LengthFieldBasedFrameDecoder(ByteOrder.LittleEndian, 64 * 1024 + 4, 0, 4, 0, 4, true));
                channel.Pipeline.AddLast(new LengthFieldPrepender(ByteOrder.LittleEndian, 4, 0, false));
                channel.Pipeline.AddLast(new EchoHandler(counter));
            }));
        var bound = await bootstrap.BindAsync(IPAddress.Loopback, 0);
        return ((IPEndPoint)bound.LocalAddress).Port;
    }

    private sealed class EchoHandler(FrameCounter counter) : ChannelHandlerAdapter
    {
        public override bool IsSharable => true;

        public override void ChannelRead(IChannelHandlerContext context, object message)
        {
            context.WriteAsync((IByteBuffer)message);
            counter.Add();
        }

        public override void ChannelReadComplete(IChannelHandlerContext context) => context.Flush();

        public override void ExceptionCaught(IChannelHandlerContext context, Exception exception) => context.CloseAsync();
    }
}
