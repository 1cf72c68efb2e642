package httpd

import (
	"crypto/tls"
	"fmt"
	"log/slog"
	"os"
	"sync"
	"time"
)

// certLoader serves the certificate of TLSCertFile/TLSKeyFile, reading the files again when
// either changed (checked at most once a second), so a renewed certificate is used without a
// restart. A renewal that cannot be loaded keeps the previous certificate.
type certLoader struct {
	certFile, keyFile string
	log               *slog.Logger

	mu      sync.Mutex
	cert    *tls.Certificate
	mtimes  [2]time.Time
	checked time.Time
}

func newCertLoader(certFile, keyFile string, log *slog.Logger) (*certLoader, error) {
	l := &certLoader{certFile: certFile, keyFile: keyFile, log: log}
	if err := l.load(); err != nil {
		return nil, err
	}
	return l, nil
}

func (l *certLoader) load() error {
	var mt [2]time.Time
	for i, p := range []string{l.certFile, l.keyFile} {
		fi, err := os.Stat(p)
		if err != nil {
			return fmt.Errorf("cannot read the TLS file: %w", err)
		}
		mt[i] = fi.ModTime()
	}
	l.mtimes = mt // a renewal that fails is reported once, not every second
	cert, err := tls.LoadX509KeyPair(l.certFile, l.keyFile)
	if err != nil {
		return fmt.Errorf("cannot load the TLS certificate %q and key %q: %w", l.certFile, l.keyFile, err)
	}
	l.cert = &cert
	return nil
}

func (l *certLoader) getCertificate(*tls.ClientHelloInfo) (*tls.Certificate, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if now := time.Now(); now.Sub(l.checked) >= time.Second {
		l.checked = now
		if l.changed() {
			if err := l.load(); err != nil {
				l.log.Error("cannot reload the TLS certificate; serving the previous one", "err", err)
			} else {
				l.log.Info("reloaded the TLS certificate", "cert", l.certFile)
			}
		}
	}
	return l.cert, nil
}

func (l *certLoader) changed() bool {
	for i, p := range []string{l.certFile, l.keyFile} {
		if fi, err := os.Stat(p); err == nil && !fi.ModTime().Equal(l.mtimes[i]) {
			return true
		}
	}
	return false
}

// tlsConfig returns the server's TLS configuration (TLS 1.2 and up, HTTP/1.1 only).
func (l *certLoader) tlsConfig() *tls.Config {
	return &tls.Config{GetCertificate: l.getCertificate, MinVersion: tls.VersionTLS12, NextProtos: []string{"http/1.1"}}
}
