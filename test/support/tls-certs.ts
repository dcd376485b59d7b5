// Test certificates, made with the system `openssl` CLI into a temp directory:
// a server CA and a server certificate for 127.0.0.1 / ::1 / localhost, and a
// separate client CA with one client certificate (for mutual TLS).
import { execFileSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

export interface TestCerts {
  dir: string;
  /** PEM file paths. */
  files: { ca: string; cert: string; key: string; clientCa: string; clientCert: string; clientKey: string; otherClientCert: string; otherClientKey: string };
  /** The same, read. */
  ca: Buffer;
  cert: Buffer;
  key: Buffer;
  clientCa: Buffer;
  clientCert: Buffer;
  clientKey: Buffer;
  /** A client certificate signed by a CA the server does not trust. */
  otherClientCert: Buffer;
  otherClientKey: Buffer;
  remove(): void;
}

export function makeTestCerts(): TestCerts {
  const dir = mkdtempSync(join(tmpdir(), "weft-tls-"));
  const f = (name: string) => join(dir, name);
  const openssl = (...args: string[]) => execFileSync("openssl", args, { cwd: dir, stdio: ["ignore", "pipe", "pipe"] });
  const key = (name: string) => openssl("genpkey", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256", "-out", f(name));
  const ca = (name: string, cn: string) => {
    key(`${name}.key`);
    openssl("req", "-x509", "-new", "-key", f(`${name}.key`), "-sha256", "-days", "2", "-subj", `/CN=${cn}`, "-out", f(`${name}.pem`),
      "-addext", "basicConstraints=critical,CA:TRUE", "-addext", "keyUsage=critical,keyCertSign,cRLSign");
  };
  const leaf = (name: string, cn: string, caName: string, ext: string) => {
    key(`${name}.key`);
    openssl("req", "-new", "-key", f(`${name}.key`), "-subj", `/CN=${cn}`, "-out", f(`${name}.csr`));
    writeFileSync(f(`${name}.ext`), ext);
    openssl("x509", "-req", "-in", f(`${name}.csr`), "-CA", f(`${caName}.pem`), "-CAkey", f(`${caName}.key`), "-CAcreateserial",
      "-days", "2", "-sha256", "-extfile", f(`${name}.ext`), "-out", f(`${name}.pem`));
  };
  ca("ca", "Weft Test CA");
  leaf("server", "localhost", "ca", "subjectAltName=IP:127.0.0.1,IP:::1,DNS:localhost\nextendedKeyUsage=serverAuth\nbasicConstraints=CA:FALSE\n");
  ca("client-ca", "Weft Test Client CA");
  leaf("client", "test-client", "client-ca", "extendedKeyUsage=clientAuth\nbasicConstraints=CA:FALSE\n");
  ca("other-ca", "Untrusted CA");
  leaf("other-client", "stranger", "other-ca", "extendedKeyUsage=clientAuth\nbasicConstraints=CA:FALSE\n");
  const files = {
    ca: f("ca.pem"),
    cert: f("server.pem"),
    key: f("server.key"),
    clientCa: f("client-ca.pem"),
    clientCert: f("client.pem"),
    clientKey: f("client.key"),
    otherClientCert: f("other-client.pem"),
    otherClientKey: f("other-client.key"),
  };
  return {
    dir,
    files,
    ca: readFileSync(files.ca),
    cert: readFileSync(files.cert),
    key: readFileSync(files.key),
    clientCa: readFileSync(files.clientCa),
    clientCert: readFileSync(files.clientCert),
    clientKey: readFileSync(files.clientKey),
    otherClientCert: readFileSync(files.otherClientCert),
    otherClientKey: readFileSync(files.otherClientKey),
    remove: () => rmSync(dir, { recursive: true, force: true }),
  };
}
