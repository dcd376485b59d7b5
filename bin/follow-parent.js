// Preloaded (node --import) into the server when bin/weft.js runs it as a child process on the
// Node.js 24 of the `node` package: the child shares an IPC channel with weft.js and shuts down
// gracefully, as on SIGTERM, when that channel closes, i.e. when weft.js has gone, even by
// SIGKILL, whose signal the child never sees. Without a channel (run directly) it does nothing.
if (process.channel) {
  process.channel.unref(); // the channel alone does not keep the server running
  process.once("disconnect", () => process.kill(process.pid, "SIGTERM"));
}
