package weft

import (
	"context"
	"errors"
	"net"
	"net/netip"
	"os"
	"strings"

	"google.golang.org/grpc"
)

// APIKeyEnv is the environment variable Dial reads an API key from when no
// WithAPIKey option is given.
const APIKeyEnv = "WEFT_API_KEY"

type apiKeyOption struct {
	grpc.EmptyDialOption
	key string
}

type insecureAPIKeyOption struct {
	grpc.EmptyDialOption
}

// WithAPIKey makes Dial send key as "authorization: Bearer <key>" on every
// call, streams included (grpc PerRPCCredentials). Without it, Dial uses the
// WEFT_API_KEY environment variable if set.
//
// The key is sent over a cleartext connection only to a loopback target
// (127.0.0.0/8, ::1, localhost, a unix socket); any other target needs TLS
// (grpc.WithTransportCredentials) or WithInsecureAPIKey.
func WithAPIKey(key string) grpc.DialOption {
	return apiKeyOption{key: key}
}

// WithInsecureAPIKey lets Dial send the API key over a cleartext connection
// to a non-loopback target (e.g. inside a private network or a service mesh
// that encrypts traffic). Anyone who can observe the traffic can read the key.
func WithInsecureAPIKey() grpc.DialOption {
	return insecureAPIKeyOption{}
}

// bearerCredentials is grpc.PerRPCCredentials for a bearer token.
type bearerCredentials struct {
	header         string
	requireSecured bool
}

func (b bearerCredentials) GetRequestMetadata(context.Context, ...string) (map[string]string, error) {
	return map[string]string{"authorization": b.header}, nil
}

func (b bearerCredentials) RequireTransportSecurity() bool { return b.requireSecured }

// validAPIKey reports whether key is 1 to 256 printable ASCII characters
// without whitespace (as the server accepts).
func validAPIKey(key string) bool {
	if key == "" || len(key) > 256 {
		return false
	}
	for i := 0; i < len(key); i++ {
		if key[i] < 0x21 || key[i] > 0x7e {
			return false
		}
	}
	return true
}

// isLoopbackTarget reports whether a gRPC target addresses this machine only.
func isLoopbackTarget(target string) bool {
	t := strings.TrimPrefix(target, "passthrough:///")
	t = strings.TrimPrefix(t, "dns:///")
	if strings.HasPrefix(t, "unix:") || strings.HasPrefix(t, "unix-abstract:") {
		return true
	}
	host := t
	if h, _, err := net.SplitHostPort(t); err == nil {
		host = h
	}
	host = strings.TrimSuffix(strings.TrimPrefix(host, "["), "]")
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip, err := netip.ParseAddr(host)
	return err == nil && ip.Unmap().IsLoopback()
}

// apiKeyDialOptions takes the API-key options out of opts and returns the
// remaining options, plus PerRPCCredentials when a key is configured.
func apiKeyDialOptions(addr string, opts []grpc.DialOption) ([]grpc.DialOption, bool, error) {
	key, haveKey := "", false
	allowInsecure := false
	rest := make([]grpc.DialOption, 0, len(opts)+1)
	for _, o := range opts {
		switch v := o.(type) {
		case apiKeyOption:
			key, haveKey = v.key, true
		case insecureAPIKeyOption:
			allowInsecure = true
		default:
			rest = append(rest, o)
		}
	}
	if !haveKey {
		key = os.Getenv(APIKeyEnv)
	}
	if key == "" {
		return rest, false, nil
	}
	if !validAPIKey(key) {
		// Never quote the key.
		return nil, false, errors.New("weft: the API key must be 1 to 256 printable ASCII characters without whitespace")
	}
	creds := bearerCredentials{header: "Bearer " + key, requireSecured: !allowInsecure && !isLoopbackTarget(addr)}
	return append(rest, grpc.WithPerRPCCredentials(creds)), true, nil
}
