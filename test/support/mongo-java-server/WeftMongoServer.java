// In-memory MongoDB for the MongoDB store tests: mongo-java-server with the
// memory backend and the oplog on (so change streams work). It announces
// MongoDB 5.0 with its real wire version, 13: mongo-java-server's own MONGO_5_0
// says 8, which the Node driver 7 refuses (it needs 9, MongoDB 4.4, or more).
// Only hello/buildInfo change; the server's behaviour is the same.
//
// Run as a single-file source program, the classpath from pom.xml:
//   java -cp "$(cat .tools/mongo-java-server/classpath.txt)" WeftMongoServer.java [port]
// Binds 127.0.0.1 on <port> (default 0: any free port), prints exactly one line
// "listening <port>" on stdout once bound, and exits when stdin reaches EOF
// (so a parent that dies takes it along) or on SIGTERM.
import de.bwaldvogel.mongo.MongoServer;
import de.bwaldvogel.mongo.MongoVersion;
import de.bwaldvogel.mongo.backend.memory.MemoryBackend;
import java.io.IOException;
import java.io.InputStream;
import java.util.List;

public class WeftMongoServer {
  static final MongoVersion MONGO_5_0 = new MongoVersion() {
    @Override
    public List<Integer> getVersionArray() {
      return List.of(5, 0, 0);
    }

    @Override
    public int getWireVersion() {
      return 13;
    }
  };

  public static void main(String[] args) throws Exception {
    int port = args.length > 0 ? Integer.parseInt(args[0]) : 0;
    // "no-oplog": no change history, like a standalone mongod (change streams find nothing).
    boolean oplog = !(args.length > 1 && args[1].equals("no-oplog"));
    MemoryBackend backend = new MemoryBackend();
    backend.version(MONGO_5_0);
    MongoServer server = new MongoServer(backend);
    if (oplog) server.enableOplog();
    server.bind("127.0.0.1", port);
    Runtime.getRuntime().addShutdownHook(new Thread(server::shutdownNow, "weft-mongo-shutdown"));
    System.out.println("listening " + server.getLocalAddress().getPort());
    System.out.flush();

    InputStream in = System.in;
    byte[] buf = new byte[256];
    try {
      while (in.read(buf) >= 0) {
        // input is ignored; only its end matters
      }
    } catch (IOException e) {
      // a broken stdin counts as closed
    }
    System.exit(0);
  }
}
