// The fan-out benchmark's Node socket.io peer: the same room fan-out as Holdspace,
// written the way socket.io's and the Redis adapter's documentation show it.
//
//   PORT=3000 REDIS_URL=redis://127.0.0.1:6379/0 node server.mjs
//
// One process: a socket.io 4 server with @socket.io/redis-adapter on node-redis
// (a publishing client and its duplicate for subscribing), so every broadcast is
// published to Redis as it would be with several processes.
//
// Protocol (the benchmark's load generator speaks it, `SocketIOClient`):
//   join {room}        -> enter the room; the acknowledgement is {ok: true}
//   post {room, text}  -> message {text} to every other member of the room

import { createServer } from "node:http";
import { createAdapter } from "@socket.io/redis-adapter";
import { createClient } from "redis";
import { Server } from "socket.io";

const port = Number(process.env.PORT ?? 3000);
const pubClient = createClient({ url: process.env.REDIS_URL ?? "redis://127.0.0.1:6379/0" });
const subClient = pubClient.duplicate();
await Promise.all([pubClient.connect(), subClient.connect()]);

const httpServer = createServer();
const io = new Server(httpServer, { adapter: createAdapter(pubClient, subClient) });

io.on("connection", (socket) => {
  socket.on("join", ({ room }, ack) => {
    socket.join(room);
    ack?.({ ok: true });
  });
  socket.on("post", ({ room, text }) => {
    socket.to(room).emit("message", { text });
  });
});

httpServer.listen(port, "127.0.0.1");
