package docker

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"testing"
	"time"
)

// certs writes a CA, a server certificate for 127.0.0.1 and a client
// certificate into dir, under the names dockerd's flags and
// DOCKER_CERT_PATH use.
func certs(t *testing.T, dir string) {
	t.Helper()
	key := func() *ecdsa.PrivateKey {
		k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		if err != nil {
			t.Fatal(err)
		}
		return k
	}
	write := func(name, typ string, der []byte) {
		if err := os.WriteFile(filepath.Join(dir, name), pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der}), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	writeKey := func(name string, k *ecdsa.PrivateKey) {
		der, err := x509.MarshalECPrivateKey(k)
		if err != nil {
			t.Fatal(err)
		}
		write(name, "EC PRIVATE KEY", der)
	}
	now := time.Now()
	caKey := key()
	caTmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "sre test CA"},
		NotBefore: now.Add(-time.Hour), NotAfter: now.Add(24 * time.Hour), IsCA: true, BasicConstraintsValid: true,
		KeyUsage: x509.KeyUsageCertSign | x509.KeyUsageDigitalSignature}
	caDER, err := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, &caKey.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	ca, _ := x509.ParseCertificate(caDER)
	write("ca.pem", "CERTIFICATE", caDER)
	leaf := func(serial int64, cn string, usage x509.ExtKeyUsage, certName, keyName string) {
		k := key()
		tmpl := &x509.Certificate{SerialNumber: big.NewInt(serial), Subject: pkix.Name{CommonName: cn},
			NotBefore: now.Add(-time.Hour), NotAfter: now.Add(24 * time.Hour),
			KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{usage}}
		if usage == x509.ExtKeyUsageServerAuth {
			tmpl.IPAddresses = []net.IP{net.IPv4(127, 0, 0, 1)}
		}
		der, err := x509.CreateCertificate(rand.Reader, tmpl, ca, &k.PublicKey, caKey)
		if err != nil {
			t.Fatal(err)
		}
		write(certName, "CERTIFICATE", der)
		writeKey(keyName, k)
	}
	leaf(2, "127.0.0.1", x509.ExtKeyUsageServerAuth, "server-cert.pem", "server-key.pem")
	leaf(3, "client", x509.ExtKeyUsageClientAuth, "cert.pem", "key.pem")
}

// TestClientTLSRealDaemon: a private dockerd that listens on tcp with
// --tlsverify is reached the docker CLI's way, DOCKER_HOST=tcp://… with
// DOCKER_CERT_PATH; DOCKER_TLS_VERIFY checks the daemon's certificate
// against ca.pem, and without it an unknown CA is accepted; without
// certificates the daemon refuses the client.
func TestClientTLSRealDaemon(t *testing.T) {
	dir := t.TempDir()
	good := filepath.Join(dir, "good")
	other := filepath.Join(dir, "other")
	for _, d := range []string{good, other} {
		if err := os.Mkdir(d, 0o700); err != nil {
			t.Fatal(err)
		}
		certs(t, d)
	}
	// other's client files, with good's CA swapped out: a CA that did not
	// sign the daemon's certificate.
	for _, f := range []string{"cert.pem", "key.pem"} {
		b, err := os.ReadFile(filepath.Join(good, f))
		if err != nil {
			t.Fatal(err)
		}
		os.WriteFile(filepath.Join(other, f), b, 0o600)
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	privateDaemon(t, "-H", "tcp://"+addr, "--tlsverify", "--tlscacert", filepath.Join(good, "ca.pem"),
		"--tlscert", filepath.Join(good, "server-cert.pem"), "--tlskey", filepath.Join(good, "server-key.pem"))
	host := "tcp://" + addr

	ping := func(env Env) error {
		c, err := New(env)
		if err != nil {
			return err
		}
		defer c.Close()
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := c.Ping(ctx); err != nil {
			return err
		}
		if _, err := c.Inspect(ctx, "absent-container"); !IsNotFound(err) {
			t.Errorf("inspect over TLS: %v, want not found", err)
		}
		if c.APIVersion() == "" {
			t.Error("no API version negotiated")
		}
		return nil
	}
	if err := ping(EnvFrom(func(k string) string {
		return map[string]string{"DOCKER_HOST": host, "DOCKER_CERT_PATH": good, "DOCKER_TLS_VERIFY": "1"}[k]
	})); err != nil {
		t.Errorf("DOCKER_CERT_PATH with DOCKER_TLS_VERIFY: %v", err)
	}
	if err := ping(Env{Host: host, CertPath: other, TLSVerify: true}); err == nil {
		t.Error("a daemon certificate from another CA was accepted under DOCKER_TLS_VERIFY")
	}
	if err := ping(Env{Host: host, CertPath: other}); err != nil {
		t.Errorf("without DOCKER_TLS_VERIFY the daemon's CA is not checked, as the docker CLI: %v", err)
	}
	if err := ping(Env{Host: host}); err == nil {
		t.Error("the daemon answered a client without certificates")
	}
}
