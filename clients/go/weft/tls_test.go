package weft_test

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/status"

	weftv1 "github.com/weftflow/weft/clients/go/gen/weft/v1"
	"github.com/weftflow/weft/clients/go/weft"
)

// testCA makes a CA and a server certificate for 127.0.0.1 in dir; it
// returns the CA pool and the server's certificate and key files.
func testCA(t *testing.T, dir string) (*x509.CertPool, string, string) {
	t.Helper()
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	caKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	must(err)
	caTmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: "Weft Go Test CA"},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(24 * time.Hour),
		IsCA:                  true,
		BasicConstraintsValid: true,
		KeyUsage:              x509.KeyUsageCertSign,
	}
	caDER, err := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, &caKey.PublicKey, caKey)
	must(err)
	ca, err := x509.ParseCertificate(caDER)
	must(err)
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	must(err)
	leafTmpl := &x509.Certificate{
		SerialNumber: big.NewInt(2),
		Subject:      pkix.Name{CommonName: "localhost"},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(24 * time.Hour),
		IPAddresses:  []net.IP{net.ParseIP("127.0.0.1")},
		DNSNames:     []string{"localhost"},
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		KeyUsage:     x509.KeyUsageDigitalSignature,
	}
	leafDER, err := x509.CreateCertificate(rand.Reader, leafTmpl, ca, &key.PublicKey, caKey)
	must(err)
	keyDER, err := x509.MarshalPKCS8PrivateKey(key)
	must(err)
	certFile, keyFile := filepath.Join(dir, "server.pem"), filepath.Join(dir, "server.key")
	must(os.WriteFile(certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: leafDER}), 0o600))
	must(os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: keyDER}), 0o600))
	pool := x509.NewCertPool()
	pool.AddCert(ca)
	return pool, certFile, keyFile
}

// A server started with --tls-cert/--tls-key: Dial with TLS credentials for
// its CA works; a client that does not trust the CA, or speaks cleartext, fails.
func TestDialOverTLS(t *testing.T) {
	pool, certFile, keyFile := testCA(t, t.TempDir())
	srv, err := startWeft("--tls-cert", certFile, "--tls-key", keyFile)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(srv.stop)
	ctx := testContext(t)

	c, err := weft.Dial(srv.addr, grpc.WithTransportCredentials(credentials.NewTLS(&tls.Config{RootCAs: pool})))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if _, err := c.Service.ListWorkflows(ctx, &weftv1.ListWorkflowsRequest{}); err != nil {
		t.Fatalf("ListWorkflows over TLS: %v", err)
	}

	// "https://" means TLS with the system's roots, which do not know the test CA.
	untrusting, err := weft.Dial("https://" + srv.addr)
	if err != nil {
		t.Fatal(err)
	}
	defer untrusting.Close()
	_, err = untrusting.Service.ListWorkflows(ctx, &weftv1.ListWorkflowsRequest{})
	if status.Code(err) != codes.Unavailable || !strings.Contains(err.Error(), "certificate") {
		t.Fatalf("https:// without the CA: want Unavailable about the certificate, got %v", err)
	}

	cleartext, err := weft.Dial(srv.addr)
	if err != nil {
		t.Fatal(err)
	}
	defer cleartext.Close()
	if _, err := cleartext.Service.ListWorkflows(ctx, &weftv1.ListWorkflowsRequest{}); status.Code(err) != codes.Unavailable {
		t.Fatalf("cleartext against TLS: want Unavailable, got %v", err)
	}
}
