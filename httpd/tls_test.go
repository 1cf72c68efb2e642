package httpd

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"io"
	"math/big"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/campaignd/campaignd/engine"
)

// writeTestCert writes a self-signed certificate for 127.0.0.1 named cn into dir and returns the
// file paths and a pool trusting it.
func writeTestCert(t *testing.T, dir, cn string) (certFile, keyFile string, pool *x509.CertPool) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(time.Now().UnixNano()), Subject: pkix.Name{CommonName: cn},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IPAddresses: []net.IP{net.ParseIP("127.0.0.1")}, KeyUsage: x509.KeyUsageDigitalSignature,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}, IsCA: true, BasicConstraintsValid: true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	kder, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	certFile, keyFile = filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	if err := os.WriteFile(certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kder}), 0o600); err != nil {
		t.Fatal(err)
	}
	cert, _ := x509.ParseCertificate(der)
	pool = x509.NewCertPool()
	pool.AddCert(cert)
	return certFile, keyFile, pool
}

// TestTLS: with a certificate the server speaks HTTPS only (the API and /healthz), and a renewed
// certificate written over the files is served without a restart.
func TestTLS(t *testing.T) {
	dir := t.TempDir()
	certFile, keyFile, pool := writeTestCert(t, dir, "first")
	ts := mustStartTestServerWith(t, t.TempDir(), engine.Options{}, Options{TLSCertFile: certFile, TLSKeyFile: keyFile})
	if ts.srv.URL() != "https://"+ts.srv.Addr() {
		t.Fatalf("unexpected URL %q", ts.srv.URL())
	}
	get := func(pool *x509.CertPool, path string) (*http.Response, error) {
		c := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}, DisableKeepAlives: true}}
		return c.Get("https://" + ts.srv.Addr() + path)
	}
	resp, err := get(pool, "/healthz")
	if err != nil {
		t.Fatalf("GET https /healthz: %s", err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || string(body) != "OK" || resp.TLS.PeerCertificates[0].Subject.CommonName != "first" {
		t.Fatalf("unexpected reply %d %q", resp.StatusCode, body)
	}
	resp, err = get(pool, "/users?api_key="+testKey)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 401 {
		t.Fatalf("API over TLS without a token: got %d; want 401", resp.StatusCode)
	}
	// Plain HTTP gets no answer as HTTP.
	if resp, err := http.Get("http://" + ts.srv.Addr() + "/healthz"); err == nil {
		resp.Body.Close()
		if resp.StatusCode == 200 {
			t.Fatalf("plain HTTP was served")
		}
	}

	// Renewal: new files with a new name; the server picks them up within about a second.
	time.Sleep(10 * time.Millisecond) // a distinct modification time
	_, _, pool2 := writeTestCert(t, dir, "second")
	checkFor(t, 10*time.Second, 100*time.Millisecond, func() error {
		resp, err := get(pool2, "/healthz")
		if err != nil {
			return err
		}
		resp.Body.Close()
		if cn := resp.TLS.PeerCertificates[0].Subject.CommonName; cn != "second" {
			return fmt.Errorf("still serving %q", cn)
		}
		return nil
	})
}
